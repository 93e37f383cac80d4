"""Web servers for exercise labs: each pod answers HTTP with its own name.

One ``taplab.topologies.whoami`` process (recorded by the lab, stopped with it)
listens inside every given node's namespace::

    serve_names(lab, {"pod1": 8080, "pod2": 8080})   # curl pod1:8080 -> "pod1"
"""

import sys

from taplab import ready
from taplab.errors import UserError

START_TIMEOUT = 20.0


def serve_names(lab, ports: dict[str, int]) -> None:
    """Start the servers and return once they all listen."""
    specs = [f"{lab.netns(node)}:{node}:{port}:tcp" for node, port in ports.items()]
    lab.popen([sys.executable, "-m", "taplab.topologies.whoami", *specs], log="whoami.log")
    log = lab.workdir / "whoami.log"
    if not ready.until(ready.marker(log, "serving"), START_TIMEOUT):
        raise UserError(f"the exercise's web servers did not start: see {log}.")
