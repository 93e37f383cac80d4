"""The demo as a sequence of steps, each updating the live view and the report.

Every step uses a building block from another part of taplab (topologies,
controllers and lambdas, taps, traffic, detectors). A step whose block is not
in this installation ends as "not available: <what>" in the view and in the
report; it never pretends to have run.
"""

import importlib
import time
from dataclasses import dataclass, field
from typing import Any

from taplab.errors import UserError
from taplab.liveview import LiveView, Sample
from taplab.webprobe import tally


class Missing(Exception):
    """A building block the demo needs is not in this installation."""


def block(module: str, attr: str):
    """taplab.<module>.<attr>, or Missing naming it."""
    try:
        found = importlib.import_module(f"taplab.{module}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("taplab"):
            raise Missing(f"taplab.{module}") from None
        raise
    if not hasattr(found, attr):
        raise Missing(f"taplab.{module}.{attr}")
    return getattr(found, attr)


@dataclass
class Options:
    nodes: int = 2
    pods: int = 3
    overlay: str = "vxlan"
    switch: str = "ovs"  # lxbr: Linux bridges, no controller (alerts without blocking)
    tap: str = "sidecar"
    benign_s: float = 6.0
    flood_s: float = 15.0
    flood_rate: int = 2000  # SYN/s
    block_s: int = 12
    detect_timeout: float = 20.0


@dataclass
class StepRecord:
    name: str
    status: str = "waiting"
    note: str = ""
    seconds: float = 0.0


@dataclass
class Demo:
    """Runs the steps on a lab; ``sample`` feeds the live view."""

    lab: Any
    view: LiveView
    options: Options = field(default_factory=Options)
    roles: dict[str, str] = field(default_factory=dict)  # role -> node name
    ips: dict[str, str] = field(default_factory=dict)  # role -> address
    attacks: list[dict[str, Any]] = field(default_factory=list)
    taps: list[Any] = field(default_factory=list)
    tap_results: list[dict[str, Any]] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    _events: dict = field(default_factory=dict)  # latest alerts and actions
    _counters: tuple | None = None  # (time, web pod interface counters)

    STEPS = ("build the cluster", "load the detectors", "tap the web pod", "benign traffic",
             "SYN flood", "port scan", "tap overhead and fidelity")

    def now(self) -> float:
        return time.time() - self.started

    # -- running -------------------------------------------------------------
    def run(self) -> None:
        methods = (self.build, self.detectors, self.tap, self.benign, self.syn_flood,
                   self.port_scan, self.tap_figures)
        for name, method in zip(self.STEPS, methods, strict=True):
            record = StepRecord(name, "running")
            self.steps.append(record)
            self.view.step(name, "running")
            begin = time.monotonic()
            try:
                record.note = method() or ""
                record.status = "done"
            except Missing as exc:
                record.status, record.note = "not available", f"not available: {exc}"
            except UserError as exc:
                record.status, record.note = "failed", str(exc)
            record.seconds = time.monotonic() - begin
            self.view.step(name, record.status, record.note)
            if record.status == "failed" and method == self.build:
                break  # nothing else can run without the cluster
        for name in self.STEPS[len(self.steps):]:
            self.steps.append(StepRecord(name, "skipped", "the cluster was not built"))
            self.view.step(name, "skipped", "the cluster was not built")

    # -- steps ---------------------------------------------------------------
    def build(self) -> str:
        from taplab.topologies import registry

        o = self.options
        registry.build(self.lab, "cluster", nodes=o.nodes, pods=o.pods, overlay=o.overlay,
                       switch=o.switch)
        self._assign_roles()
        self.view.topology = topology_lines(self.lab, self.roles)
        return describe_roles(self.roles, self.ips)

    def _assign_roles(self) -> None:
        """client: the first pod, web: the last; attacker and collector: added pods."""
        from taplab.topologies.cluster import add_pod

        pods = list(self.lab.meta["pods"])
        add_pod(self.lab, 1, "attacker")
        add_pod(self.lab, self.options.nodes, "collector")
        self.roles = {"client": pods[0], "web": pods[-1], "attacker": "attacker",
                      "collector": "collector"}
        meta = self.lab.meta["pods"]
        self.ips = {role: meta[node]["ip"] for role, node in self.roles.items()}

    def detectors(self) -> str:
        load = block("controllers.lambdas", "load_default_detectors")
        names = load(self.lab)
        return "lambdas running: " + ", ".join(names)

    def tap(self) -> str:
        attach = block("taps", "attach")
        tap = attach(self.lab, self.roles["web"], self.options.tap,
                     collector=self.roles["collector"])
        self.taps.append(tap)
        return f"{self.options.tap} tap on {self.roles['web']}, mirroring to " \
               f"{self.roles['collector']}"

    def benign(self) -> str:
        web, client = self.roles["web"], self.roles["client"]
        serve = block("traffic.http", "serve")
        serve(self.lab, web, port=80)
        self.lab.popen([*python(), "-m", "taplab.webprobe", f"http://{self.ips['web']}/", "0.2"],
                       node=client, log="webprobe.log", grace=0.5)
        wait(lambda: self.service(self.now() - 2)["ok"] > 0, 10, f"{web}'s HTTP service")
        time.sleep(self.options.benign_s)  # let the view show healthy traffic
        health = self.service(self.now() - self.options.benign_s)
        return f"{client} -> {web}:80 {health['ok']} ok / {health['failed']} failed"

    def syn_flood(self) -> str:
        flood = block("traffic.attacks", "syn_flood")
        truth = flood(self.lab, self.roles["attacker"], self.ips["web"], port=80,
                      rate=self.options.flood_rate, seconds=self.options.flood_s,
                      wait=False)
        return self._watch_attack("syn-flood", truth)

    def port_scan(self) -> str:
        scan = block("traffic.attacks", "port_scan")
        self._wait_unblocked()
        truth = scan(self.lab, self.roles["attacker"], self.ips["web"], wait=False)
        return self._watch_attack("port-scan", truth)

    def tap_figures(self) -> str:
        if not self.taps:
            raise Missing("a tap (the tap step did not run)")
        stats = [tap.stats() for tap in self.taps]
        self.tap_results = stats
        return ", ".join(f"{s['kind']}: {s.get('packets', 0)} packets, "
                         f"{s.get('cpu_pct', 0):.1f} % CPU" for s in stats)

    # -- attacks ---------------------------------------------------------------
    def _watch_attack(self, kind: str, truth: dict) -> str:
        """Wait for the alert naming the attacker and the action against it."""
        start = self.now()
        entry = {"kind": kind, "attacker": self.ips["attacker"], "target": self.ips["web"],
                 "start": start, "detected": False, "delay_s": None, "action": None,
                 "truth": truth}
        self.attacks.append(entry)
        deadline = time.monotonic() + self.options.detect_timeout
        while time.monotonic() < deadline and entry["action"] is None:
            self._match(entry)
            time.sleep(0.2)
        entry["end"] = self.now()
        if not entry["detected"]:
            return f"not detected within {self.options.detect_timeout:.0f} s"
        return f"detected after {entry['delay_s']:.1f} s by {entry['alert']}; " \
               f"{entry['action'] or 'no action'}"

    def _match(self, entry: dict) -> None:
        sample = self._events
        for alert in sample.get("alerts", []):
            if alert.get("src") == entry["attacker"] and alert["time"] >= entry["start"]:
                if not entry["detected"]:
                    entry.update(detected=True, alert=alert.get("name"),
                                 alert_time=alert["time"],
                                 delay_s=round(alert["time"] - entry["start"], 2))
        for action in sample.get("actions", []):
            if action.get("src") == entry["attacker"] and action["time"] >= entry["start"]:
                entry.update(action=f"{action['kind']} {action['src']} "
                                    f"{action.get('detail', '')}".strip(),
                             action_time=action["time"])

    def _wait_unblocked(self) -> None:
        last = max((a.get("action_time") or 0 for a in self.attacks), default=0)
        remaining = last + self.options.block_s + 1 - self.now()
        if remaining > 0:
            self.view.step("port scan", "running",
                           f"waiting {remaining:.0f} s for the block to expire")
            time.sleep(remaining)

    # -- what the live view shows ---------------------------------------------
    def service(self, since: float) -> dict:
        return tally(self.lab.workdir / "webprobe.log", self.started + since)

    def sample(self, _elapsed: float) -> Sample:
        now = self.now()
        sample = Sample(now)
        if "web" in self.roles:
            sample.rates = self._rates(now)
            sample.service = self.service(now - 1.0)
        sample.taps = [tap.stats() for tap in self.taps]
        try:
            events = block("controllers.lambdas", "recent")(self.lab)
        except Missing:
            events = {}
        sample.alerts = [{**a, "time": a["time"] - self.started}
                         for a in events.get("alerts", [])]
        sample.actions = [{**a, "time": a["time"] - self.started}
                          for a in events.get("actions", [])]
        self._events = {"alerts": sample.alerts, "actions": sample.actions}
        return sample

    def _rates(self, now: float) -> dict[str, float]:
        counters = intf_counters(self.lab, self.roles["web"])
        last, self._counters = self._counters, (now, counters)
        if last is None:
            return {}
        dt = max(now - last[0], 1e-3)
        return {"web rx pkt/s": (counters["rx_packets"] - last[1]["rx_packets"]) / dt,
                "web tx pkt/s": (counters["tx_packets"] - last[1]["tx_packets"]) / dt,
                "web rx Mb/s": 8e-6 * (counters["rx_bytes"] - last[1]["rx_bytes"]) / dt}

    def report(self) -> dict[str, Any]:
        attacks = [{k: v for k, v in a.items() if k != "truth"} | {"truth": a["truth"]}
                   for a in self.attacks]
        return {"attacks": attacks, "taps": self.tap_results,
                "steps": [vars(s) for s in self.steps], "roles": self.roles, "ips": self.ips,
                "topology": f"cluster {self.options.nodes} nodes x {self.options.pods} pods, "
                            f"{self.options.overlay}, {self.options.switch}",
                "duration_s": self.now()}


def python() -> list[str]:
    import sys

    return [sys.executable]


def wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise UserError(f"{what} did not come up within {timeout:.0f} s.")
        time.sleep(0.1)


def intf_counters(lab, node: str) -> dict[str, int]:
    """Summed rx/tx packet and byte counters of a node's non-loopback interfaces."""
    import json

    totals = {"rx_packets": 0, "tx_packets": 0, "rx_bytes": 0, "tx_bytes": 0}
    for link in json.loads(lab.sh(node, ["ip", "-s", "-j", "link", "show"]) or "[]"):
        if link["ifname"] == "lo":
            continue
        stats = link.get("stats64", {})
        for direction in ("rx", "tx"):
            totals[f"{direction}_packets"] += stats.get(direction, {}).get("packets", 0)
            totals[f"{direction}_bytes"] += stats.get(direction, {}).get("bytes", 0)
    return totals


def describe_roles(roles: dict[str, str], ips: dict[str, str]) -> str:
    return ", ".join(f"{role} {node} ({ips[role]})" for role, node in roles.items())


def topology_lines(lab, roles: dict[str, str]) -> list[str]:
    """A few lines summing up the lab: nodes and their pods, overlay, controller."""
    meta = lab.meta
    by_role = {node: role for role, node in roles.items()}
    overlay = meta.get("overlay", {})
    lines = [f"lab {lab.id}: {overlay.get('type', '?')} overlay (MTU {overlay.get('mtu', '?')}),"
             f" {overlay.get('switch', '?')} switches"]
    for k8s in meta.get("k8s_nodes", {}):
        pods = [f"{p} {info['ip']}" + (f" [bold]{by_role[p]}[/]" if p in by_role else "")
                for p, info in meta.get("pods", {}).items() if info["node"] == k8s]
        lines.append(f"{k8s}: " + ", ".join(pods))
    if "controller" in meta:
        lines.append(f"controller + lambda server: {meta['controller'].get('api_url', 'up')}")
    return lines
