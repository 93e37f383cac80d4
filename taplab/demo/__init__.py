"""``taplab demo``: the scenario (steps), its live view, its report, and the probes it
reads the lab with; features are used through their public APIs."""
