"""Topology files: YAML describing nodes, pods, overlay, services, links and options.

Every named topology is such a file under this folder (``cluster.yaml``,
``spine-leaf.yaml``, ...); users write their own and pass the path instead of
a name. A file is checked completely before anything is built; each problem is
one ``UserError`` naming the file, the field and what is wrong::

    name: my-cluster
    kind: cluster                # the builder: cluster, spine-leaf, netns-pair, bridge-policy
    overlay: {type: vxlan, vni: 1, port: 4789}
    nodes:
      - {name: node1, cidr: 10.244.1.0/24, pods: [pod1, pod2]}
      - {name: node2, cidr: 10.244.2.0/24, pods: 2}      # pod3, pod4
    services:                    # endpoints: every pod unless listed
      - {name: web, type: NodePort, ip: 10.96.0.10, port: 80, target_port: 8080,
         node_port: 30080, endpoints: [pod1, pod3]}

``pods: N`` names pods ``pod<k>``, numbered across the file in node order.
"""

import ipaddress
import re
from pathlib import Path
from typing import Any

import yaml

from taplab.errors import UserError

HERE = Path(__file__).parent
KINDS = ("cluster", "spine-leaf", "netns-pair", "bridge-policy")
OVERLAYS = ("vxlan", "gre", "host-gw")
SWITCHES = ("lxbr", "ovs")

TOP_FIELDS = {"name": str, "kind": str, "description": str, "switch": str, "overlay": dict,
              "underlay": str, "nodes": list, "services": list, "links": list, "options": dict}
NODE_FIELDS = {"name": str, "role": str, "cidr": str, "pods": (list, int)}
NAME = re.compile(r"[a-z][a-z0-9-]*\Z")
MAX_INTF = 15  # Linux interface names: a node's are <name>-eth<N>
OVERLAY_FIELDS = {"type": str, "vni": int, "port": int}
SERVICE_FIELDS = {"name": str, "type": str, "ip": str, "port": int, "target_port": int,
                  "node_port": int, "protocol": str, "endpoints": list, "backend": str}
LINK_FIELDS = {"a": str, "b": str, "cidr": str}


class Problem(UserError):
    """A topology file error: file, field, what is wrong."""

    def __init__(self, source: str, field: str, what: str):
        super().__init__(f"{source}: {field}: {what}.")


def named_file(name: str) -> Path:
    """The file of a named topology (``topologies/<name>.yaml``)."""
    return HERE / f"{name}.yaml"


def names() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.yaml"))


def load(name_or_path: str) -> dict[str, Any]:
    """A checked, normalised topology from a name or a YAML file path."""
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") or path.exists()):
        path = named_file(name_or_path)
        if not path.exists():
            raise UserError(f"unknown topology '{name_or_path}': choose one of "
                            f"{', '.join(names())}, or give a topology file.")
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise UserError(f"cannot read topology file {path}: {exc.strerror}.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "syntax"
        raise Problem(str(path), where, f"not valid YAML ({getattr(exc, 'problem', exc)})") \
            from None
    return check(data, str(path))


def _fields(source: str, where: str, data: Any, allowed: dict, required=()) -> None:
    if not isinstance(data, dict):
        raise Problem(source, where or "top level", "must be a mapping of fields")
    for key, value in data.items():
        if key not in allowed:
            raise Problem(source, f"{where}.{key}" if where else key,
                          f"unknown field (allowed: {', '.join(allowed)})")
        types = allowed[key]
        if not isinstance(value, types) or isinstance(value, bool):
            wanted = types.__name__ if isinstance(types, type) else \
                " or ".join(t.__name__ for t in types)
            raise Problem(source, f"{where}.{key}" if where else key, f"must be a {wanted}")
    for key in required:
        if key not in data:
            raise Problem(source, f"{where}.{key}" if where else key, "missing")


def _network(source: str, field: str, text: str):
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise Problem(source, field, f"not a network address ({exc})") from None


def _address(source: str, field: str, text: str):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise Problem(source, field, f"'{text}' is not an IP address") from None


def _choice(source: str, field: str, value: str, allowed) -> None:
    if value not in allowed:
        raise Problem(source, field, f"'{value}' is not one of {', '.join(allowed)}")


def check(data: Any, source: str = "<topology>") -> dict[str, Any]:
    """Validate a parsed topology and return it normalised (pod counts expanded)."""
    _fields(source, "", data, TOP_FIELDS, required=("name", "kind", "nodes"))
    _choice(source, "kind", data["kind"], KINDS)
    if "switch" in data:
        _choice(source, "switch", data["switch"], SWITCHES)
    if "overlay" in data:
        _fields(source, "overlay", data["overlay"], OVERLAY_FIELDS, required=("type",))
        _choice(source, "overlay.type", data["overlay"]["type"], OVERLAYS)
    spec = {**data, "nodes": _nodes(source, data["nodes"])}
    names = [n["name"] for n in spec["nodes"]] + [p for n in spec["nodes"] for p in n["pods"]]
    _unique(source, "nodes", names)
    spec["links"] = _links(source, data.get("links", []), set(names))
    spec["services"] = _services(source, data.get("services", []),
                                 {p for n in spec["nodes"] for p in n["pods"]})
    _disjoint(source, spec)
    return spec


def _unique(source: str, field: str, names: list[str]) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise Problem(source, field, f"duplicate name '{name}'")
        seen.add(name)


def _nodes(source: str, nodes: list) -> list[dict]:
    if not nodes:
        raise Problem(source, "nodes", "needs at least one node")
    out, counter = [], 0
    for i, node in enumerate(nodes):
        where = f"nodes[{i}]"
        _fields(source, where, node, NODE_FIELDS, required=("name",))
        pods = node.get("pods", [])
        if isinstance(pods, int):
            if pods < 0:
                raise Problem(source, f"{where}.pods", "must not be negative")
            pods = [f"pod{counter + k + 1}" for k in range(pods)]
        elif not all(isinstance(p, str) for p in pods):
            raise Problem(source, f"{where}.pods", "must be a list of names or a count")
        counter += len(pods)
        _name(source, f"{where}.name", node["name"], ports=len(pods) + 2)
        for k, pod in enumerate(pods):
            _name(source, f"{where}.pods[{k}]", pod, ports=1)
        if "cidr" in node:
            _network(source, f"{where}.cidr", node["cidr"])
        out.append({**node, "pods": list(pods)})
    return out


def _name(source: str, field: str, name: str, ports: int) -> None:
    """Names become namespaces and interface names (``<name>-eth<N>``, 15 characters)."""
    if not NAME.match(name):
        raise Problem(source, field, f"'{name}' must be lower-case letters, digits and '-', "
                      "starting with a letter")
    if len(f"{name}-eth{ports}") > MAX_INTF:
        raise Problem(source, field, f"'{name}' is too long for its interface names "
                      f"({name}-eth{ports} has more than {MAX_INTF} characters)")


def _links(source: str, links: list, names: set[str]) -> list[dict]:
    for i, link in enumerate(links):
        where = f"links[{i}]"
        _fields(source, where, link, LINK_FIELDS, required=("a", "b"))
        for end in ("a", "b"):
            if link[end] not in names:
                raise Problem(source, f"{where}.{end}", f"link to missing node '{link[end]}'")
        if "cidr" in link:
            _network(source, f"{where}.cidr", link["cidr"])
    return list(links)


def _services(source: str, services: list, pods: set[str]) -> list[dict]:
    out = []
    _unique(source, "services", [s.get("name") for s in services if isinstance(s, dict)])
    for i, svc in enumerate(services):
        where = f"services[{i}]"
        _fields(source, where, svc, SERVICE_FIELDS, required=("name", "ip", "port"))
        svc = {"type": "ClusterIP", "protocol": "tcp", "target_port": svc["port"],
               "backend": "whoami", **svc}
        _choice(source, f"{where}.type", svc["type"], ("ClusterIP", "NodePort"))
        _choice(source, f"{where}.backend", svc["backend"], ("whoami", "none"))
        _choice(source, f"{where}.protocol", svc["protocol"], ("tcp", "udp"))
        _address(source, f"{where}.ip", svc["ip"])
        if svc["type"] == "NodePort" and not 30000 <= svc.get("node_port", 0) <= 32767:
            raise Problem(source, f"{where}.node_port", "a NodePort service needs a node_port "
                          "in 30000-32767")
        for port in ("port", "target_port"):
            if not 1 <= svc[port] <= 65535:
                raise Problem(source, f"{where}.{port}", "must be in 1-65535")
        if svc.get("endpoints") == []:
            raise Problem(source, f"{where}.endpoints", "a service needs at least one pod")
        for pod in svc.get("endpoints", []):
            if pod not in pods:
                raise Problem(source, f"{where}.endpoints", f"no pod named '{pod}'")
        out.append(svc)
    return out


def _disjoint(source: str, spec: dict) -> None:
    """No two networks of the file may overlap."""
    nets = []
    if "underlay" in spec:
        nets.append(("underlay", _network(source, "underlay", spec["underlay"])))
    for i, node in enumerate(spec["nodes"]):
        if "cidr" in node:
            nets.append((f"nodes[{i}].cidr", ipaddress.ip_network(node["cidr"])))
    for i, link in enumerate(spec["links"]):
        if "cidr" in link:
            nets.append((f"links[{i}].cidr", ipaddress.ip_network(link["cidr"])))
    for i, (field, net) in enumerate(nets):
        for other_field, other in nets[:i]:
            if net.version == other.version and net.overlaps(other):
                raise Problem(source, field, f"{net} overlaps {other_field} ({other})")
