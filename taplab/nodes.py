"""Mininet node classes that keep the root network namespace clean."""

from mininet.node import Switch


class NamespacedBridge(Switch):
    """A Linux bridge ``br0`` inside the switch's own network namespace.

    Unlike Mininet's LinuxBridge, nothing lands in the root namespace, so two
    labs can both have a switch called ``underlay``::

        [pod1]--+
                |  underlay (netns: br0)
        [pod2]--+
    """

    BRIDGE = "br0"

    def __init__(self, name, **params):
        params["inNamespace"] = True
        super().__init__(name, **params)

    def start(self, controllers):
        self.cmd(f"ip link add {self.BRIDGE} type bridge stp_state 0 forward_delay 0")
        self.cmd(f"ip link set {self.BRIDGE} up")
        for intf in self.intfList():
            self.attach(intf)

    def attach(self, intf):
        """Enslave intf (also for links added after start)."""
        if str(intf) != "lo":
            self.cmd(f"ip link set {intf} master {self.BRIDGE} up")

    def stop(self, deleteIntfs=True):
        self.cmd(f"ip link delete {self.BRIDGE}")
        super().stop(deleteIntfs)

    def connected(self):
        return True
