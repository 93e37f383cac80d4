"""The network as lambdas see it (``ctx.topology``): a versioned networkx graph.

Nodes are switches (by datapath id, ``kind="switch"``) and hosts (by IPv4
address, ``kind="host"``, with ``mac`` and ``port`` = (dpid, port)); an edge
joins a host to the switch port it was seen on. The os-ken app updates it from
OpenFlow events; workers get a node-link copy whenever the version changes.
"""

import threading

import networkx


class Topology:
    """Switches and hosts the controller has seen; safe to use from several threads."""

    def __init__(self):
        self.graph = networkx.Graph()
        self.version = 0
        self._data: tuple[int, dict] | None = None
        self._lock = threading.Lock()

    def __contains__(self, node) -> bool:
        with self._lock:
            return node in self.graph

    def add_switch(self, dpid: int) -> None:
        with self._lock:
            if dpid not in self.graph:
                self.graph.add_node(dpid, kind="switch")
                self.version += 1

    def add_host(self, ip: str, mac: str, dpid: int, port: int) -> None:
        with self._lock:
            if self.graph.nodes.get(ip, {}).get("port") != (dpid, port):
                self.graph.add_node(ip, kind="host", mac=mac, port=(dpid, port))
                self.graph.add_edge(dpid, ip, port=port)
                self.version += 1

    def remove_switch(self, dpid: int) -> None:
        with self._lock:
            if dpid in self.graph:
                self.graph.remove_node(dpid)
                self.version += 1

    def snapshot(self) -> tuple[int, dict]:
        """(version, node-link data) for the workers, recomputed only on change."""
        with self._lock:
            if self._data is None or self._data[0] != self.version:
                self._data = (self.version, networkx.node_link_data(self.graph, edges="links"))
            return self._data
