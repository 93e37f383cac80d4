"""The demo's live view: steps, topology, traffic rates, service health, taps, alerts.

A ``Sampler`` thread calls a probe every interval and keeps the history (the
report plots it); ``LiveView`` renders the latest sample with rich::

    view = LiveView(topology_lines, ["build", "benign", "syn flood"])
    with Live(view, console=console), Sampler(probe) as sampler:
        view.sampler = sampler
        view.step("build", "done", "2 nodes x 3 pods")
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

STYLE = {
    "waiting": "dim",
    "running": "bold yellow",
    "done": "green",
    "failed": "bold red",
    "not available": "magenta",
    "skipped": "dim",
}


@dataclass
class Sample:
    """What the view shows at one instant (time is seconds since the demo began)."""

    time: float
    rates: dict[str, float] = field(default_factory=dict)  # name -> value, e.g. "web rx pkt/s"
    service: dict[str, Any] = field(default_factory=dict)  # ok, failed, latency_ms
    taps: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)  # newest last
    actions: list[dict[str, Any]] = field(default_factory=list)


class Sampler:
    """Call probe() every interval seconds in a thread; keep every sample."""

    def __init__(self, probe: Callable[[float], Sample], interval: float = 0.5):
        self.probe = probe
        self.interval = interval
        self.history: list[Sample] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="demo-sampler", daemon=True)
        self.started = time.monotonic()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.history.append(self.probe(time.monotonic() - self.started))
            except Exception:  # noqa: BLE001 - a lab being torn down; the view goes on
                self.errors += 1
            self._stop.wait(self.interval)

    @property
    def latest(self) -> Sample | None:
        return self.history[-1] if self.history else None

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class LiveView:
    """A rich renderable of the demo's state; re-rendered by ``rich.live.Live``."""

    def __init__(self, topology: list[str], steps: list[str]):
        self.topology = topology
        self.steps = {name: ("waiting", "") for name in steps}
        self.sampler: Sampler | None = None
        self.echo: Callable[[str], None] | None = None  # where step changes go without Live

    def step(self, name: str, status: str, note: str = "") -> None:
        self.steps[name] = (status, note)
        if self.echo:
            self.echo(f"[{STYLE[status]}]{status}[/] [bold]{name}[/] {note}".rstrip())

    def _steps(self) -> Table:
        table = Table.grid(padding=(0, 1))
        for name, (status, note) in self.steps.items():
            table.add_row(f"[{STYLE[status]}]{status:>13}[/]", f"[bold]{name}[/]", note)
        return table

    def _traffic(self, sample: Sample) -> Table:
        table = Table.grid(padding=(0, 2))
        for name, value in sample.rates.items():
            table.add_row(name, f"{value:,.1f}")
        service = sample.service
        if service:
            ok, failed = service.get("ok", 0), service.get("failed", 0)
            health = (
                "[green]up[/]"
                if ok and not failed
                else ("[red]down[/]" if failed and not ok else "[yellow]degraded[/]")
            )
            latency = service.get("latency_ms")
            table.add_row(
                "web service",
                f"{health} {ok} ok / {failed} failed"
                + (f", {latency:.0f} ms" if latency is not None else ""),
            )
        return table

    def _taps(self, sample: Sample) -> Table:
        table = Table(
            "tap", "node", "packets", "bytes", "drops", "at collector", "cpu %", "MB", box=None
        )
        for tap in sample.taps:
            collected = tap.get("collector", {}).get("packets")
            table.add_row(
                tap.get("kind", "?"),
                tap.get("node", "?"),
                f"{tap.get('packets') or 0:,}",
                f"{tap.get('bytes') or 0:,}",
                f"{tap.get('drops') or 0:,}",
                "-" if collected is None else f"{collected:,}",
                f"{tap.get('cpu_pct') or 0:.1f}",
                f"{tap.get('mem_mb') or 0:.0f}",
            )
        return table

    def _alerts(self, sample: Sample) -> Table:
        """Alerts (red) and the actions taken (cyan), newest last."""
        table = Table.grid(padding=(0, 1))
        for event in sorted(sample.alerts + sample.actions, key=lambda e: e["time"])[-8:]:
            alert = event in sample.alerts
            what = event.get("name") if alert else event.get("action", "action")
            detail = (
                event.get("detail")
                if alert
                else (f"for {event['seconds']} s" if event.get("seconds") else "")
            )
            color = "red" if alert else "cyan"
            table.add_row(
                f"[{color}]{event['time']:6.1f}s[/]",
                f"[bold {color}]{what}[/]",
                str(event.get("src") or ""),
                str(detail or ""),
            )
        return table

    def __rich__(self) -> Group:
        parts = [
            Panel(self._steps(), title="taplab demo", border_style="blue"),
            Panel("\n".join(self.topology), title="topology", border_style="dim"),
        ]
        sample = self.sampler.latest if self.sampler else None
        if sample is not None:
            parts.append(
                Panel(
                    self._traffic(sample),
                    title=f"traffic at {sample.time:.0f}s",
                    border_style="dim",
                )
            )
            if sample.taps:
                parts.append(Panel(self._taps(sample), title="taps", border_style="dim"))
            if sample.alerts or sample.actions:
                parts.append(
                    Panel(self._alerts(sample), title="alerts and actions", border_style="red")
                )
        return Group(*parts)
