"""The starting state of an exercise lab, saved once built and restored by ``reset``.

Per node: its interfaces (with IPv4 addresses, MTU, bridge master), IPv4
routes, iptables rules and IP forwarding. ``restore`` deletes interfaces,
qdiscs, XDP programs, routes and rules added since, and puts back what was
changed. It only touches the lab's own namespaces.
"""

import json

from taplab.lab import LabHandle
from taplab.shell import capture, run

TABLES = ("filter", "nat", "mangle", "raw")
FORWARDING = "net.ipv4.ip_forward"


def _json(handle: LabHandle, node: str, *argv: str) -> list:
    out = run(list(argv), check=False, netns=handle.netns(node)).strip()
    return json.loads(out) if out.startswith("[") else []


def node_state(handle: LabHandle, node: str) -> dict:
    """What reset brings back in one node."""
    links = {}
    for entry in _json(handle, node, "ip", "-j", "addr"):
        links[entry["ifname"]] = {
            "mtu": entry.get("mtu"),
            "master": entry.get("master"),
            "up": "UP" in entry.get("flags", []),
            "addrs": [
                f"{a['local']}/{a['prefixlen']}"
                for a in entry.get("addr_info", [])
                if a.get("family") == "inet"
            ],
        }
    routes = [
        r for r in _json(handle, node, "ip", "-j", "-4", "route") if r.get("protocol") != "kernel"
    ]
    return {
        "links": links,
        "routes": routes,
        "iptables": run(["iptables-save"], check=False, netns=handle.netns(node)),
        "forwarding": run(
            ["sysctl", "-n", FORWARDING], check=False, netns=handle.netns(node)
        ).strip(),
    }


def snapshot(handle: LabHandle) -> None:
    """Save every node's starting state in the lab's meta."""
    nodes = handle.nodes
    handle.set_meta(baseline={node: node_state(handle, node) for node in nodes})


def _route_argv(route: dict) -> list[str]:
    argv = ["ip", "route", "replace", route["dst"]]
    if route.get("gateway"):
        argv += ["via", route["gateway"]]
    if route.get("dev"):
        argv += ["dev", route["dev"]]
    return argv


def restore_node(handle: LabHandle, node: str, saved: dict) -> None:
    ns = handle.netns(node)

    def sh(*argv: str) -> None:
        run(list(argv), check=False, netns=ns)

    for name in node_state(handle, node)["links"]:
        if name not in saved["links"]:
            sh("ip", "link", "delete", "dev", name)
    for name, link in saved["links"].items():
        sh("tc", "qdisc", "del", "dev", name, "clsact")
        sh("tc", "qdisc", "del", "dev", name, "root")
        sh("ip", "link", "set", "dev", name, "xdp", "off")
        if name == "lo":
            continue
        sh("ip", "-4", "addr", "flush", "dev", name)
        for addr in link["addrs"]:
            sh("ip", "addr", "add", addr, "dev", name)
        sh("ip", "link", "set", "dev", name, "mtu", str(link["mtu"]))
        sh(
            "ip",
            "link",
            "set",
            "dev",
            name,
            *(["master", link["master"]] if link["master"] else ["nomaster"]),
        )
        sh("ip", "link", "set", "dev", name, "up" if link["up"] else "down")
    sh("ip", "-4", "route", "flush", "proto", "static")
    sh("ip", "-4", "route", "flush", "proto", "boot")
    for route in saved["routes"]:
        sh(*_route_argv(route))
    for table in TABLES:
        sh("iptables", "-t", table, "-F")
        sh("iptables", "-t", table, "-X")
    if saved["iptables"].strip():
        capture(["iptables-restore"], netns=ns, input=saved["iptables"])
    sh("sysctl", "-qw", f"{FORWARDING}={saved['forwarding']}")


def restore(handle: LabHandle) -> None:
    """Bring every node of the lab back to its saved starting state."""
    for node, saved in handle.meta.get("baseline", {}).items():
        restore_node(handle, node, saved)
