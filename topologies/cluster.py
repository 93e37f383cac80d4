"""The ``cluster`` topology: Kubernetes-like nodes, a CNI bridge each, pods, an overlay.

``taplab lab cluster --nodes 2 --pods 2 --overlay vxlan``::

    pod1 .1.2  pod2 .1.3              pod3 .2.2  pod4 .2.3
        \\      /                          \\      /
      cni0 10.244.1.1/24                cni0 10.244.2.1/24
      node1 (router) vxlan0            node2 (router) vxlan0
      eth 192.168.0.1 --- underlay --- eth 192.168.0.2

Pods are numbered across nodes (``pod1..podN`` in node order) and get
addresses from their node's pod CIDR (``10.244.<i>.0/24``) with a default route
via ``cni0``. A node is a host with forwarding on; its ``cni0`` is a Linux
bridge in the node's namespace, or with ``--switch ovs`` an OVS switch
(``<lab>c<i>``) joined to the node by a veth called ``cni0``; the underlay is
a Linux bridge in its own namespace or an OVS switch. MTUs of pod interfaces,
bridges and tunnels come from the overlay (``overlays.MTU``). Services
(``services``) are kube-proxy iptables rules in every node; their ``whoami``
backend answers with the pod name. The file's ``links`` are added as extra veth
links (addressed when they have a ``cidr``).

Published with ``lab.set_meta``: ``k8s_nodes``, ``pods``, ``overlay``,
``services``. ``add_pod(lab, "node1", "attacker")`` adds a pod later.
"""

import ipaddress
import sys

from mininet.link import Intf

from taplab import capabilities, ready
from taplab.errors import UserError
from taplab.topologies import overlays, routed, services, topofile
from taplab.topologies.registry import topology

DEFAULT_UNDERLAY = "192.168.0.0/24"
MAX_PODS_PER_NODE = 250


def pod_cidr(index: int) -> str:
    return f"10.244.{index}.0/24"


def resize(spec: dict, nodes: int | None, pods: int | None) -> dict:
    """The spec with ``--nodes`` / ``--pods`` applied (node<i>, pod CIDR 10.244.<i>.0/24)."""
    if nodes is None and pods is None:
        return spec
    n = len(spec["nodes"]) if nodes is None else nodes
    m = len(spec["nodes"][0]["pods"]) if pods is None else pods
    if not 1 <= n <= 250:
        raise UserError("--nodes must be between 1 and 250.")
    if not 0 <= m <= MAX_PODS_PER_NODE:
        raise UserError(f"--pods must be between 0 and {MAX_PODS_PER_NODE}.")
    new_nodes = [{"name": f"node{i}", "cidr": pod_cidr(i), "pods": m} for i in range(1, n + 1)]
    pod_names = {f"pod{k}" for k in range(1, n * m + 1)}
    kept = []
    for svc in spec["services"]:
        svc = dict(svc)
        if "endpoints" in svc:
            svc["endpoints"] = [p for p in svc["endpoints"] if p in pod_names]
            if not svc["endpoints"]:
                del svc["endpoints"]  # every pod
        kept.append(svc)
    return topofile.check(
        {**spec, "nodes": new_nodes, "services": kept if n * m else []}, f"{spec['name']} (resized)"
    )


def with_defaults(spec: dict) -> dict:
    """The spec with default pod CIDRs and underlay filled in, checked again (overlaps)."""
    nodes = [{**n, "cidr": n.get("cidr", pod_cidr(i))} for i, n in enumerate(spec["nodes"], 1)]
    return topofile.check(
        {**spec, "nodes": nodes, "underlay": spec.get("underlay", DEFAULT_UNDERLAY)}, spec["name"]
    )


def _plan_cidrs(spec: dict) -> list[ipaddress.IPv4Network]:
    cidrs = []
    for node in spec["nodes"]:
        net = ipaddress.ip_network(node["cidr"])
        if net.version != 4 or net.num_addresses - 3 < len(node["pods"]):
            raise UserError(
                f"node {node['name']}: pod CIDR {net} has no room for "
                f"{len(node['pods'])} IPv4 pods."
            )
        cidrs.append(net)
    return cidrs


@topology("cluster")
def build(
    lab,
    spec: dict,
    nodes: int | None = None,
    pods: int | None = None,
    overlay: str | None = None,
    switch: str | None = None,
) -> None:
    """N nodes with M pods each, joined by an overlay, with the file's services."""
    spec = with_defaults(resize(spec, nodes, pods))
    kind = overlay or spec.get("overlay", {}).get("type", "vxlan")
    switch = switch or spec.get("switch", "lxbr")
    overlays.check_available(kind)
    if switch == "ovs":
        capabilities.require("ovs_user")
    cidrs = _plan_cidrs(spec)
    underlay_net = ipaddress.ip_network(spec["underlay"])
    if underlay_net.num_addresses - 2 < len(spec["nodes"]):
        raise UserError(f"underlay {underlay_net} has no room for {len(spec['nodes'])} nodes.")
    mtu = overlays.MTU[kind]
    vni = spec.get("overlay", {}).get("vni", 1)
    port = spec.get("overlay", {}).get("port", 4789)
    lab.set_meta(
        overlay={"type": kind, "mtu": mtu, "vni": vni, "port": port, "switch": switch},
        pods={},
        k8s_nodes={},
    )

    underlay = lab.add_switch(
        "underlay" if switch == "lxbr" else "ul", kind="bridge" if switch == "lxbr" else "ovs"
    )
    nets, addresses = [], underlay_net.hosts()
    for i, (node, cidr) in enumerate(zip(spec["nodes"], cidrs, strict=True), 1):
        host = add_node(lab, node["name"], i, cidr, mtu, switch)
        link = lab.add_link(host, underlay)
        if switch == "ovs":
            _tx_checksum_off(link.intf1)
        ip = str(next(addresses))
        host.setIP(f"{ip}/{underlay_net.prefixlen}", intf=link.intf1)
        nets.append(overlays.NodeNet(node["name"], i, host, str(cidr), ip, link.intf1.name))
        k8s = lab.meta["k8s_nodes"]
        k8s[node["name"]]["underlay_ip"] = ip
        lab.set_meta(k8s_nodes=k8s)
        pods = lab.meta["pods"]
        for pod in node["pods"]:
            _attach_pod(lab, node["name"], k8s[node["name"]], pod, pods)
        lab.set_meta(pods=pods)  # once per node: every state write rewrites the whole file
    routed.add_links(lab, {h.name: h for h in lab.net.hosts}, spec["links"])
    lab.start()
    overlays.setup(lab, kind, nets, vni=vni, port=port)
    _add_services(lab, spec["services"])


def add_node(
    lab,
    name: str,
    index: int,
    cidr: ipaddress.IPv4Network,
    mtu: int = 1500,
    switch: str = "lxbr",
    bridge: str = "cni0",
):
    """A node: a router host whose default interface is its pods' gateway, ``bridge``."""
    host = lab.add_host(name)
    gateway = f"{cidr.network_address + 1}/{cidr.prefixlen}"
    host.cmd("sysctl -qw net.ipv4.ip_forward=1")
    if switch == "lxbr":
        host.cmd(
            f"ip link add {bridge} mtu {mtu} type bridge stp_state 0 forward_delay 0"
            f" && ip link set {bridge} up"
        )
        # The bridge already lives in the node's namespace: Mininet must not move it.
        Intf(bridge, node=host, moveIntfFn=lambda *_: True)
        cni = bridge
    else:
        switch_node = lab.add_switch(f"c{index}", kind="ovs")
        link = lab.add_link(host, switch_node, intfName1=bridge)
        _set_mtu(link, mtu)
        _tx_checksum_off(link.intf1)
        cni = switch_node.name
    host.setIP(gateway, intf=bridge)
    nodes = lab.meta.get("k8s_nodes", {})
    nodes[name] = {
        "index": index,
        "cidr": str(cidr),
        "gateway": str(cidr.network_address + 1),
        "mtu": mtu,
        "cni": cni,
        "bridge": bridge,
    }
    lab.set_meta(k8s_nodes=nodes)
    return host


def _set_mtu(link, mtu: int) -> None:
    for intf in (link.intf1, link.intf2):
        intf.node.cmd(f"ip link set {intf} mtu {mtu} up")


def _tx_checksum_off(intf) -> None:
    """OVS's userspace datapath forwards partial checksums as they are: compute them."""
    intf.node.cmd(f"ethtool -K {intf} tx off")


def add_pod(lab, node: str | int, name: str):
    """Add pod name to node (a name, or a 1-based node index) and return its host.

    Works before and after the lab started. The pod gets the next free address
    of the node's pod CIDR, the overlay's MTU and a default route via the node's bridge.
    """
    k8s = lab.meta.get("k8s_nodes", {})
    if isinstance(node, int):
        node = next((n for n, i in k8s.items() if i["index"] == node), f"node{node}")
    if node not in k8s:
        raise UserError(f"no cluster node named '{node}' (nodes: {', '.join(k8s) or 'none'}).")
    pods = lab.meta.get("pods", {})
    if name in pods or name in lab.nodes:
        raise UserError(f"a node named '{name}' already exists in lab {lab.id}.")
    pod = _attach_pod(lab, node, k8s[node], name, pods)
    lab.set_meta(pods=pods)
    return pod


def _attach_pod(lab, node: str, info: dict, name: str, pods: dict):
    """Create pod name on node with the next free address; record it in pods."""
    cidr = ipaddress.ip_network(info["cidr"])
    used = {p["ip"] for p in pods.values()} | {info["gateway"]}
    ip = next((str(a) for a in cidr.hosts() if str(a) not in used), None)
    if ip is None:
        raise UserError(f"node {node}'s pod CIDR {cidr} is full.")
    pod = lab.add_host(name)
    host = lab.node(node)
    mtu = info["mtu"]
    if info["cni"] == info["bridge"]:
        link = lab.add_link(pod, host)
        # hairpin: a pod reaching itself through a service comes back out its own port
        host.cmd(
            f"ip link set {link.intf2} master {info['bridge']} mtu {mtu} up && "
            f"bridge link set dev {link.intf2} hairpin on"
        )
    else:
        link = lab.add_link(pod, lab.net[info["cni"]])
        link.intf2.node.cmd(f"ip link set {link.intf2} mtu {mtu} up")
        _tx_checksum_off(link.intf1)
    out = pod.cmd(
        f"ip addr add {ip}/{cidr.prefixlen} dev {link.intf1} && "
        f"ip link set {link.intf1} mtu {mtu} up && "
        f"ip route add default via {info['gateway']} && echo pod-ok"
    )
    if "pod-ok" not in out:
        raise RuntimeError(f"configuring pod {name} failed: {out.strip()}")
    link.intf1.ip, link.intf1.prefixLen = ip, cidr.prefixlen
    pods[name] = {"node": node, "ip": ip}
    return pod


def _add_services(lab, specs: list[dict]) -> None:
    """kube-proxy rules in every node, and one whoami process for the endpoints."""
    pods = lab.meta["pods"]
    resolved = [{**svc, "endpoints": svc.get("endpoints") or list(pods)} for svc in specs]
    if not resolved:
        lab.set_meta(services={})
        return
    capabilities.require("iptables")
    for name, info in lab.meta["k8s_nodes"].items():
        services.install(lab.netns(name), resolved, pods, info["cidr"], info["bridge"])
    backends = sorted(
        {
            f"{lab.netns(p)}:{p}:{svc['target_port']}:{svc['protocol']}"
            for svc in resolved
            if svc["backend"] == "whoami"
            for p in svc["endpoints"]
        }
    )
    if backends:
        proc = lab.popen(
            [sys.executable, "-m", "taplab.topologies.whoami", *backends], log="whoami.log"
        )
        log = lab.workdir / "whoami.log"
        ready.wait(proc, log, "the whoami backend", ready.marker(log, "serving"), timeout=15)
    lab.set_meta(
        services={s["name"]: {k: v for k, v in s.items() if k != "name"} for s in resolved}
    )
