"""A lab that builds, says READY, and waits to be killed (used by the cleanup tests)."""

import sys
import time

from taplab.lab import Lab
from taplab.topologies import registry

with Lab("cleanup-test") as lab:
    registry.build(lab, "cluster")
    sw = lab.add_switch("s1", kind="ovs")
    lab.add_link(lab.node("pod1"), sw)
    sw.start([])
    lab.popen(["sleep", "1000"], node=lab.node("pod1"))
    lab.popen(["sleep", "1000"])
    print("READY", lab.id, flush=True)
    if len(sys.argv) > 1 and sys.argv[1] == "wait-forever":
        while True:
            time.sleep(1)
