"""Topology files: YAML describing nodes, pods, overlay, services, links, options, checks.

Every named topology is such a file under this folder (``cluster.yaml``,
``spine-leaf.yaml``, ...); users write their own and pass the path instead of
a name. ``topology.schema.json`` (JSON Schema 2020-12) is the published format;
a file is checked against it, then for what a schema cannot say (unique names,
links and endpoints that name existing nodes, networks that do not overlap),
before anything is built. Every problem is reported at once, each with the
file, the line and the field::

    name: my-cluster
    kind: cluster                # the builder: cluster, spine-leaf, netns-pair, bridge-policy
    overlay: {type: vxlan, vni: 1, port: 4789}
    nodes:
      - {name: node1, cidr: 10.244.1.0/24, pods: [pod1, pod2], exec: ["sysctl -w ..."]}
      - {name: node2, cidr: 10.244.2.0/24, pods: 2}      # pod3, pod4
    services:                    # endpoints: every pod unless listed
      - {name: web, type: NodePort, ip: 10.96.0.10, port: 80, target_port: 8080,
         node_port: 30080, endpoints: [pod1, pod3]}
    links:                       # impairments as `taplab link` takes them
      - {a: node1, b: node2, intf_a: wan0, rate: 20mbit, delay: 10ms, loss: 1%}
    checks:                      # `taplab lab FILE --check`
      - {node: pod1, run: "ping -c1 -W2 10.244.2.2", exit: 0}

``pods: N`` names pods ``pod<k>``, numbered across the file in node order.
"""

import ipaddress
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from taplab.errors import UserError
from taplab.impairments import Impairment

HERE = Path(__file__).parent
SCHEMA_FILE = HERE / "topology.schema.json"
MAX_BYTES = 1 << 20  # a topology file is a page or two, not a data set
MAX_YAML_NODES = 100_000  # counting every alias again: no "billion laughs"
MAX_DEPTH = 32
MAX_MEMBERS = 1000  # nodes and pods of one lab
MAX_INTF = 15  # Linux interface names: a node's are <name>-eth<N>
IMPAIRMENTS = ("rate", "delay", "jitter", "loss", "corrupt", "reorder")

Where = tuple  # a path into the document: ("nodes", 0, "pods")


class TooBig(Exception):
    """A document with more values than any topology needs."""


class Problem(UserError):
    """Every error of a topology file: file, then each one's line, field and what is wrong."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        if len(problems) == 1:
            super().__init__(f"{source}: {problems[0]}.")
        else:
            listed = "".join(f"\n  {p}." for p in problems)
            super().__init__(f"{source}: {len(problems)} problems:{listed}")


@cache
def schema() -> dict:
    """The published JSON Schema of topology files."""
    return json.loads(SCHEMA_FILE.read_text())


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
            raise UserError(
                f"unknown topology '{name_or_path}': choose one of "
                f"{', '.join(names())}, or give a topology file."
            )
    data, lines = parse(path)
    return check(data, str(path), lines)


def parse(path: Path) -> tuple[Any, dict[Where, int]]:
    """The YAML document in path and the line where each of its fields starts."""
    source = str(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise Problem(source, [f"file: larger than {MAX_BYTES >> 10} KiB"])
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise UserError(f"cannot read topology file {path}: {exc.strerror}.") from None
    except UnicodeDecodeError as exc:
        raise Problem(source, [f"byte {exc.start}: not UTF-8 text"]) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Where, int] = {}
        _line_map(node, (), lines, [0])
        return (loader.construct_document(node) if node else None), lines
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "syntax"
        raise Problem(
            source, [f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})"]
        ) from None
    except RecursionError:
        raise Problem(source, [f"file: nested more than {MAX_DEPTH} levels deep"]) from None
    except TooBig:
        raise Problem(
            source,
            [f"file: more than {MAX_YAML_NODES} values (aliases counted each time they are used)"],
        ) from None
    finally:
        loader.dispose()


def _line_map(node, where: Where, lines: dict, count: list[int]) -> None:
    """Record the line of node and of everything under it; refuse huge or deep documents."""
    count[0] += 1
    if len(where) > MAX_DEPTH:
        raise RecursionError
    if count[0] > MAX_YAML_NODES:
        raise TooBig
    lines.setdefault(where, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else str(len(lines))
            lines.setdefault((*where, name), key.start_mark.line + 1)
            _line_map(value, (*where, name), lines, count)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, (*where, i), lines, count)


def field(where: Where) -> str:
    """``("nodes", 0, "pods")`` -> ``nodes[0].pods``."""
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "top level"


class Report:
    """Problems of one file, each with its line."""

    def __init__(self, lines: dict[Where, int]):
        self.lines, self._found = lines, []

    def add(self, where: Where, what: str) -> None:
        line = next(
            (
                self.lines[where[:end]]
                for end in range(len(where), -1, -1)
                if where[:end] in self.lines
            ),
            None,
        )  # the nearest field in the file
        self._found.append((line or 0, f"line {line}: " if line else "", field(where), what))

    @property
    def problems(self) -> list[str]:
        """In the order of the file's lines."""
        return [f"{at}{name}: {what}" for _line, at, name, what in sorted(self._found)]


def check(data: Any, source: str = "<topology>", lines: dict | None = None) -> dict[str, Any]:
    """Validate a parsed topology and return it normalised (pod counts expanded);
    raise a Problem listing every error."""
    report = Report(lines or {})
    validator = jsonschema.Draft202012Validator(
        schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path))):
        _schema_problem(report, error)
    if report.problems:  # what follows assumes the shapes the schema promises
        raise Problem(source, report.problems)
    spec = _normalise(data)
    _semantics(report, spec)
    if report.problems:
        raise Problem(source, report.problems)
    return spec


def _schema_problem(report: Report, error: jsonschema.ValidationError) -> None:
    """One schema error in words a topology's author reads."""
    where, value, rule = tuple(error.absolute_path), error.instance, error.validator_value
    described = error.schema.get("description", "")
    match error.validator:
        case "additionalProperties":
            allowed = ", ".join(error.schema.get("properties", {}))
            for key in sorted(set(value) - set(error.schema.get("properties", {}))):
                report.add((*where, key), f"unknown field (allowed: {allowed})")
        case "required":
            for key in rule:
                if key not in value:
                    report.add((*where, key), "missing")
        case "type":
            kinds = " or ".join([rule] if isinstance(rule, str) else rule)
            report.add(
                where,
                f"must be {'an' if kinds[0] in 'aeiou' else 'a'} {kinds}, "
                f"not {json.dumps(value)[:40]}",
            )
        case "enum":
            report.add(where, f"{json.dumps(value)[:40]} is not one of {', '.join(rule)}")
        case "minimum" | "maximum" | "exclusiveMinimum":
            bound = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "more than"}[
                error.validator
            ]
            report.add(where, f"{value} must be {bound} {rule}")
        case "minItems" | "maxItems":
            bound = "at least" if error.validator == "minItems" else "at most"
            report.add(where, f"needs {bound} {rule} entries")
        case "format":
            report.add(where, f"'{value}' is not an {rule.replace('ip', 'IP')} address")
        case "maxProperties":
            report.add(where, "this kind takes no options")
        case "dependentRequired":
            for key, needed in rule.items():
                if key in value:
                    report.add((*where, key), f"needs {', '.join(needed)} too")
        case _:
            report.add(
                where,
                f"{json.dumps(value)[:60]} is not valid" + (f": {described}" if described else ""),
            )


def _normalise(data: dict) -> dict:
    """Pod counts expanded to names (numbered across the file), services' defaults."""
    nodes, counter = [], 0
    for node in data["nodes"]:
        pods = node.get("pods", [])
        if isinstance(pods, int):
            pods = [f"pod{counter + k + 1}" for k in range(pods)]
        counter += len(pods)
        nodes.append({**node, "pods": list(pods)})
    services = [
        {"type": "ClusterIP", "protocol": "tcp", "target_port": s["port"], "backend": "whoami", **s}
        for s in data.get("services", [])
    ]
    return {**data, "nodes": nodes, "services": services, "links": list(data.get("links", []))}


def _semantics(report: Report, spec: dict) -> None:
    """What the schema cannot say."""
    nodes = {n["name"] for n in spec["nodes"]}
    pods = {p for n in spec["nodes"] for p in n["pods"]}
    members = [n["name"] for n in spec["nodes"]] + [p for n in spec["nodes"] for p in n["pods"]]
    if len(members) > MAX_MEMBERS:
        report.add(("nodes",), f"{len(members)} nodes and pods: at most {MAX_MEMBERS}")
    _unique(report, ("nodes",), members)
    _unique(report, ("services",), [s["name"] for s in spec["services"]])
    for i, node in enumerate(spec["nodes"]):
        _interface_room(report, ("nodes", i, "name"), node["name"], len(node["pods"]) + 2)
        for k, pod in enumerate(node["pods"]):
            _interface_room(report, ("nodes", i, "pods", k), pod, 1)
    for i, link in enumerate(spec["links"]):
        for end in ("a", "b"):
            if link[end] not in nodes | pods:
                report.add(("links", i, end), f"link to missing node '{link[end]}'")
        if link["a"] == link["b"]:
            report.add(("links", i, "b"), f"a link from {link['a']} to itself")
        try:
            Impairment.parse(**{k: link[k] for k in IMPAIRMENTS if k in link})
        except UserError as exc:
            report.add(("links", i), str(exc).rstrip("."))
    for i, svc in enumerate(spec["services"]):
        _service(report, ("services", i), svc, pods)
    for i, check in enumerate(spec.get("checks", [])):
        if check["node"] not in nodes | pods:
            report.add(("checks", i, "node"), f"no node named '{check['node']}'")
    for i, name in enumerate(spec.get("options", {}).get("tunnel", [])):
        if name not in nodes:
            report.add(("options", "tunnel", i), f"no node named '{name}'")
    _disjoint(report, spec)


def _unique(report: Report, where: Where, names: list[str]) -> None:
    seen = set()
    for name in names:
        if name in seen:
            report.add(where, f"duplicate name '{name}'")
        seen.add(name)


def _interface_room(report: Report, where: Where, name: str, ports: int) -> None:
    """Names become interface names (``<name>-eth<N>``, at most 15 characters)."""
    if len(f"{name}-eth{ports}") > MAX_INTF:
        report.add(
            where,
            f"'{name}' is too long for its interface names ({name}-eth{ports} "
            f"has more than {MAX_INTF} characters)",
        )


def _service(report: Report, where: Where, svc: dict, pods: set[str]) -> None:
    ip = ipaddress.ip_address(svc["ip"])  # the schema made sure it is IPv4
    if ip.is_loopback or ip.is_unspecified or ip.is_multicast or ip.is_link_local:
        report.add((*where, "ip"), f"{ip} cannot be a service address")
    if svc["type"] == "NodePort" and "node_port" not in svc:
        report.add((*where, "node_port"), "a NodePort service needs a node_port in 30000-32767")
    for pod in svc.get("endpoints", []):
        if pod not in pods:
            report.add((*where, "endpoints"), f"no pod named '{pod}'")


def _networks(report: Report, spec: dict) -> list[tuple[Where, Any]]:
    """Every network of the file that parses, with where it is."""
    found = [(("underlay",), spec["underlay"])] if "underlay" in spec else []
    found += [(("nodes", i, "cidr"), n["cidr"]) for i, n in enumerate(spec["nodes"]) if "cidr" in n]
    found += [(("links", i, "cidr"), k["cidr"]) for i, k in enumerate(spec["links"]) if "cidr" in k]
    nets = []
    for where, text in found:
        try:
            nets.append((where, ipaddress.ip_network(text, strict=True)))
        except ValueError as exc:
            report.add(where, f"not a network address ({exc})")
    return nets


def _disjoint(report: Report, spec: dict) -> None:
    """No two networks of the file may overlap."""
    nets = _networks(report, spec)
    for i, (where, net) in enumerate(nets):
        for other_where, other in nets[:i]:
            if net.version == other.version and net.overlaps(other):
                report.add(where, f"{net} overlaps {field(other_where)} ({other})")
