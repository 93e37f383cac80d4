"""Port lists as nmap writes them: ``22,80,1000-1010``."""

from taplab.errors import UserError


def parse_ports(spec: str, limit: int = 65535) -> list[int]:
    """The ports in spec, in order; a UserError for anything else."""
    ports: list[int] = []
    try:
        for part in spec.split(","):
            low, _, high = part.strip().partition("-")
            ports += range(int(low), int(high or low) + 1)
    except ValueError:
        raise UserError(f"bad port list '{spec}': write it like 22,80,1000-1010.") from None
    if not ports or not all(1 <= p <= 65535 for p in ports) or len(ports) > limit:
        raise UserError(f"bad port list '{spec}': ports run from 1 to 65535.")
    return ports
