"""taplab: a Mininet-based teaching testbed for container and pod networking."""

__version__ = "0.1.0"
