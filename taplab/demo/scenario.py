"""The demo as a sequence of steps, each updating the live view and the report.

Every step uses a building block from another part of taplab: the cluster
topology, the controller's lambda server with the detector lambdas, a tap and
its collector, the traffic and attack generators, the detectors' scoring. A
step that cannot run here (no lambda server with Linux bridges) ends as "not
available: <what>"; one that fails ends as "failed: <why>". Neither pretends
to have run, and the demo goes on with the next step.
"""

import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taplab import detectors
from taplab.controllers.api_client import ControllerClient
from taplab.demo.liveview import LiveView, Sample
from taplab.demo.probes import read_actions, wait
from taplab.demo.webprobe import recovery, tally
from taplab.detectors.catalog import Detection
from taplab.detectors.scoring import score
from taplab.errors import UserError
from taplab.lambdas import Alert
from taplab.measure import intf_counters, iperf3, offloads_off
from taplab.resources import remove
from taplab.taps import session
from taplab.topologies import registry
from taplab.topologies.cluster import add_pod
from taplab.traffic.benign import http_load, http_server
from taplab.traffic.flood import syn_flood
from taplab.traffic.scan import nmap_scan

DETECTOR_LAMBDAS = ("lambda_scan.py", "lambda_synflood.py")  # in taplab.detectors


class Missing(Exception):
    """Something a step needs is not available here."""


@dataclass
class Options:
    nodes: int = 2
    pods: int = 3
    overlay: str = "vxlan"
    switch: str = "ovs"  # lxbr: Linux bridges, no controller (alerts without blocking)
    tap: str = "sidecar"
    benign_s: float = 6.0
    flood_s: float = 10.0
    flood_rate: int = 1000  # SYN/s
    scan_s: float = 10.0  # nmap is stopped after this (blocked, it would retry for long)
    detect_timeout: float = 20.0
    iperf_s: float = 2.0
    iperf_rate: str = "50M"
    debug: bool = False  # let a step's unexpected error through, with its traceback


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
    taps: list[str] = field(default_factory=list)  # tap ids
    tap_results: list[dict[str, Any]] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    _events: dict = field(default_factory=dict)  # latest alerts and actions
    _counters: tuple | None = None  # (time, web pod interface counters)
    untapped: Any = None  # iperf3 Throughput before the tap
    benign_truth: dict | None = None

    STEPS = (
        "build the cluster",
        "load the detectors",
        "tap the web pod",
        "benign traffic",
        "SYN flood",
        "port scan",
        "tap overhead and fidelity",
    )

    def now(self) -> float:
        return time.time() - self.started

    # -- running -------------------------------------------------------------
    def run(self) -> None:
        methods = (
            self.build,
            self.load_detectors,
            self.attach_tap,
            self.benign,
            self.flood,
            self.scan,
            self.tap_figures,
        )
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
            except Exception as exc:  # noqa: BLE001 - the report says which step broke
                if self.options.debug:
                    raise
                record.status, record.note = "failed", f"{type(exc).__name__}: {exc}"
            record.seconds = time.monotonic() - begin
            self.view.step(name, record.status, record.note)
            if record.status == "failed" and method == self.build:
                break  # nothing else can run without the cluster
        for name in self.STEPS[len(self.steps) :]:
            self.steps.append(StepRecord(name, "skipped", "the cluster was not built"))
            self.view.step(name, "skipped", "the cluster was not built")

    # -- steps ---------------------------------------------------------------
    def build(self) -> str:
        o = self.options
        registry.build(
            self.lab, "cluster", nodes=o.nodes, pods=o.pods, overlay=o.overlay, switch=o.switch
        )
        self._assign_roles()
        self.view.topology = topology_lines(self.lab, self.roles)
        return describe_roles(self.roles, self.ips)

    def _assign_roles(self) -> None:
        """client: the first pod, web: the last; attacker and collector: added pods."""
        pods = list(self.lab.meta["pods"])
        add_pod(self.lab, 1, "attacker")
        add_pod(self.lab, self.options.nodes, "collector")
        self.roles = {
            "client": pods[0],
            "web": pods[-1],
            "attacker": "attacker",
            "collector": "collector",
        }
        meta = self.lab.meta["pods"]
        self.ips = {role: meta[node]["ip"] for role, node in self.roles.items()}

    def load_detectors(self) -> str:
        """Load the scan and SYN flood detector lambdas into the lambda server."""
        if not self.lab.has_lambda_server:
            raise Missing("the lambda server (it runs with --switch ovs)")
        client = ControllerClient.for_lab(self.lab)
        names = []
        for name in DETECTOR_LAMBDAS:
            path = Path(detectors.__path__[0]) / name
            if not path.exists():
                raise Missing(f"the detector lambda {path.name}")
            names.append(client.load_file(path).get("name", path.stem))
        return "lambdas loaded: " + ", ".join(map(str, names))

    def attach_tap(self) -> str:
        """Measure the web pod untapped, then attach the tap (mirroring to the collector)."""
        web, client = self.roles["web"], self.roles["client"]
        for pod in (web, client):  # one packet per skb, so counters compare (as the bench)
            offloads_off(self.lab, pod)
        self.untapped = iperf3(
            self.lab, client, web, seconds=self.options.iperf_s, rate=self.options.iperf_rate
        )
        record = session.attach(self.lab, web, self.options.tap, collector=self.roles["collector"])
        self.taps.append(record["id"])
        return (
            f"{record['kind']} tap {record['id']} on {web}; untapped iperf3 "
            f"{client} -> {web}: {self.untapped.mbps:.0f} Mb/s"
        )

    def benign(self) -> str:
        """The web server, a health probe, and HTTP load from the client."""
        web, client = self.roles["web"], self.roles["client"]
        http_server(self.lab, web, port=80)
        self.lab.popen(
            [sys.executable, "-m", "taplab.demo.webprobe", f"http://{self.ips['web']}/", "0.2"],
            node=client,
            log="webprobe.log",
            grace=0.5,
        )
        wait(lambda: self.service(self.now() - 2)["ok"] > 0, 10, f"{web}'s HTTP service")
        truth = http_load(
            self.lab, client, web, rate=50, concurrency=4, seconds=self.options.benign_s
        )
        self.benign_truth = truth.as_dict()
        health = self.service(self.now() - self.options.benign_s)
        load = truth.details
        return (
            f"HTTP load {client} -> {web}: {load.get('requests', 0)} requests, "
            f"{load.get('status', {}).get('200', 0)} answered 200, "
            f"{load.get('errors', 0)} errors; probe {health['ok']} ok / "
            f"{health['failed']} failed"
        )

    def flood(self) -> str:
        """A SYN flood that hurts: the web pod has no SYN cookies, the attacker keeps
        its half-open connections open (it drops the RSTs its kernel would send)."""
        o = self.options
        web, attacker = self.roles["web"], self.roles["attacker"]
        self.lab.sh(
            web, ["sysctl", "-qw", "net.ipv4.tcp_syncookies=0", "net.ipv4.tcp_synack_retries=1"]
        )
        no_rst = ["OUTPUT", "-p", "tcp", "--tcp-flags", "RST", "RST", "-j", "DROP"]
        self.lab.sh(attacker, ["iptables", "-A", *no_rst])
        try:
            return self._attack(
                "syn-flood",
                syn_flood,
                self.lab,
                attacker,
                web,
                port=80,
                rate=o.flood_rate,
                seconds=o.flood_s,
            )
        finally:
            self.lab.sh(attacker, ["iptables", "-D", *no_rst], check=False)

    def scan(self) -> str:
        o = self.options
        self._wait_unblocked()
        return self._attack(
            "port-scan",
            nmap_scan,
            self.lab,
            self.roles["attacker"],
            self.roles["web"],
            kind="sS",
            timing="T4",
            limit=o.scan_s,
        )

    def tap_figures(self) -> str:
        """Throughput with the tap against without, and fidelity over that iperf3 run:
        packets at the collector (or counted by the tap) against the packets the client,
        which talks to the web pod only, sent and received (the tap's own copies to the
        collector never pass the client, whatever the tap kind)."""
        if not self.taps:
            raise Missing("a tap (the tap step did not run)")
        tap_id, web, client = self.taps[0], self.roles["web"], self.roles["client"]
        record = session.get(self.lab, tap_id)
        before, coll_before = session.settled(self.lab, tap_id)
        base = intf_counters(self.lab, client)
        tapped = iperf3(
            self.lab, client, web, seconds=self.options.iperf_s, rate=self.options.iperf_rate
        )
        after, coll_after = session.settled(self.lab, tap_id)
        now = intf_counters(self.lab, client)
        expected = sum(now[k] - base[k] for k in ("rx_packets", "tx_packets"))
        seen_to, seen_from = (coll_after, coll_before) if record["collector"] else (after, before)
        got = seen_to.get("packets", 0) - seen_from.get("packets", 0)
        stats = {
            **after,
            "fidelity": got / expected if expected > 0 else None,
            "fidelity_packets": {"expected": expected, "seen": got},
            "throughput_ratio": tapped.mbps / self.untapped.mbps,
            "tapped_mbps": tapped.mbps,
            "untapped_mbps": self.untapped.mbps,
            "iperf3_rate": self.options.iperf_rate,
        }
        self.tap_results.append(stats)
        fidelity = "-" if stats["fidelity"] is None else f"{stats['fidelity']:.1%}"
        return (
            f"{stats['kind']} at {self.options.iperf_rate}b/s: {got} of {expected} packets"
            f" ({fidelity}), {stats['cpu_pct']:.1f} % CPU, {stats['mem_mb']:.0f} MB, "
            f"throughput {stats['throughput_ratio']:.0%} of untapped"
        )

    # -- attacks ---------------------------------------------------------------
    def _attack(self, attack: str, generator, *args, **kwargs) -> str:
        """Run a generator in a thread; follow alerts and actions against the attacker."""
        entry = {
            "kind": attack,
            "attacker": self.ips["attacker"],
            "target": self.ips["web"],
            "start": self.now(),
            "detected": False,
            "delay_s": None,
            "action": None,
        }
        self.attacks.append(entry)
        result: dict[str, Any] = {}

        def run() -> None:
            try:
                result["truth"] = generator(*args, **kwargs).as_dict()
            except Exception as exc:  # noqa: BLE001 - reported in the step
                result["error"] = exc

        thread = threading.Thread(target=run, name=attack, daemon=True)
        mark = len(self.lab.state.resources)
        thread.start()
        deadline = time.monotonic() + self.options.detect_timeout
        try:
            while thread.is_alive() or (not entry["action"] and time.monotonic() < deadline):
                self._match(entry)
                time.sleep(0.2)
        except BaseException:  # Ctrl-C: stop the attack before the lab goes, then go
            for resource in self.lab.state.resources[mark:]:
                if resource["kind"] == "process":
                    remove(resource)
            thread.join(timeout=10)
            raise
        self._match(entry)
        if "error" in result:
            raise result["error"]
        entry["truth"] = result["truth"]
        entry["end"] = result["truth"]["end"] - self.started
        entry["service"] = self._service_effect(entry)
        if not entry["detected"]:
            raise UserError(f"not detected within {self.options.detect_timeout:.0f} s")
        service = entry["service"]
        effect = (
            ""
            if not service["failed"]
            else (
                f"; web service failed {service['failed']} probes"
                + (
                    f", answered again {service['back_after_action_s']:.1f} s after the block"
                    if service.get("back_after_action_s") is not None
                    else ", still down"
                )
            )
        )
        return (
            f"detected after {entry['delay_s']:.1f} s ({entry['alert']}); "
            f"{entry['action'] or 'no action taken'}{effect}"
        )

    def _service_effect(self, entry: dict) -> dict:
        """Probes the web service failed during the attack, and when it came back."""
        found = recovery(self.lab.workdir / "webprobe.log", self.started + entry["start"])
        back = found["back_at"]
        result = {"failed": found["failed"]}
        if back is not None and entry.get("action_time") is not None:
            result["back_after_action_s"] = round(back - self.started - entry["action_time"], 2)
        return result

    def _match(self, entry: dict) -> None:
        """Fill in the first alert and the first action naming the attacker."""
        for record in self._events.get("actions", []):
            if record.get("src") != entry["attacker"] or record["time"] < entry["start"]:
                continue
            if record["action"] == "Alert" and not entry["detected"]:
                entry.update(
                    detected=True,
                    alert=record.get("name"),
                    alert_time=record["time"],
                    delay_s=round(record["time"] - entry["start"], 2),
                )
            elif record["action"] != "Alert" and entry["action"] is None:
                entry.update(
                    action=f"{record['action']} {record['src']}"
                    + (f" for {record['seconds']} s" if record.get("seconds") else ""),
                    action_time=record["time"],
                    action_seconds=record.get("seconds"),
                )

    def _wait_unblocked(self) -> None:
        """Let a block on the attacker expire, so the next attack reaches the web pod."""
        ends = [
            a["action_time"] + (a.get("action_seconds") or 0)
            for a in self.attacks
            if a.get("action_time") is not None
        ]
        remaining = max(ends, default=0) + 1 - self.now()
        if remaining > 0:
            self.view.step(
                "port scan",
                "running",
                f"waiting {remaining:.0f} s for the block on the attacker to expire",
            )
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
        if self.taps:
            sample.taps = [session.stats(self.lab, tap_id) for tap_id in self.taps]
        actions = [{**a, "time": a["time"] - self.started} for a in read_actions(self.lab)]
        sample.alerts = [a for a in actions if a["action"] == "Alert"]
        sample.actions = [a for a in actions if a["action"] != "Alert"]
        self._events = {"actions": actions}
        return sample

    def _rates(self, now: float) -> dict[str, float]:
        web = self.roles["web"]  # its pod interface only: a tap's devices sit beside it
        counters = intf_counters(self.lab, web, self.lab.node(web).defaultIntf().name)
        last, self._counters = self._counters, (now, counters)
        if last is None:
            return {}
        dt = max(now - last[0], 1e-3)
        return {
            "web rx pkt/s": (counters["rx_packets"] - last[1]["rx_packets"]) / dt,
            "web tx pkt/s": (counters["tx_packets"] - last[1]["tx_packets"]) / dt,
            "web rx Mb/s": 8e-6 * (counters["rx_bytes"] - last[1]["rx_bytes"]) / dt,
        }

    def report(self) -> dict[str, Any]:
        """Attacks scored against their ground truth (taplab.detectors.scoring), taps, steps."""
        detections = [
            Detection(
                a["time"],
                a["lambda"],
                Alert(a.get("name", "?"), a.get("src"), a.get("dst"), a.get("detail", "")),
            )
            for a in read_actions(self.lab)
            if a["action"] == "Alert"
        ]
        truths = [a["truth"] for a in self.attacks if "truth" in a]
        for attack in self.attacks:
            if "truth" in attack:
                scored = score(detections, [attack["truth"]])
                attack.update(detected=bool(scored["detected"]), delay_s=scored["delay_s"])
        overall = score(detections, truths + ([self.benign_truth] if self.benign_truth else []))
        return {
            "attacks": self.attacks,
            "taps": self.tap_results,
            "alerts": [d.as_dict() for d in detections],
            "false_positives": overall["false_positives"],
            "steps": [vars(s) for s in self.steps],
            "roles": self.roles,
            "ips": self.ips,
            "topology": f"cluster {self.options.nodes} nodes x {self.options.pods} pods, "
            f"{self.options.overlay} overlay, {self.options.switch} switches",
            "duration_s": self.now(),
        }


def describe_roles(roles: dict[str, str], ips: dict[str, str]) -> str:
    return ", ".join(
        f"{role} {ips[role]}" if node == role else f"{role} {node} {ips[role]}"
        for role, node in roles.items()
    )


def topology_lines(lab, roles: dict[str, str]) -> list[str]:
    """A few lines summing up the lab: nodes and their pods, overlay, controller."""
    meta = lab.meta
    by_role = {node: role for role, node in roles.items()}
    overlay = meta.get("overlay", {})
    lines = [
        f"lab {lab.id}: {overlay.get('type', '?')} overlay (MTU {overlay.get('mtu', '?')}),"
        f" {overlay.get('switch', '?')} switches"
    ]
    for k8s in meta.get("k8s_nodes", {}):
        pods = [
            f"{p} {info['ip']}" + (f" [bold]({by_role[p]})[/]" if by_role.get(p, p) != p else "")
            for p, info in meta.get("pods", {}).items()
            if info["node"] == k8s
        ]
        lines.append(f"{k8s}: " + ", ".join(pods))
    if lab.controller:
        lines.append(f"controller + lambda server: {lab.controller.get('api_url', 'up')}")
    return lines
