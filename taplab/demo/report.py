"""The demo's final report: a rich table, and JSON, PNG plots and Markdown in a folder.

``report`` is a plain dict::

    {"attacks": [{"kind", "detected", "delay_s", "action", ...}],
     "taps": [{"kind", "node", "packets", "fidelity", "cpu_pct", ...}],
     "steps": [{"name", "status", "note", "seconds"}], "duration_s": ..}
"""

from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table

from taplab.demo.liveview import STYLE, Sample
from taplab.report import write_json


def _yes(value: bool) -> str:
    return "[green]yes[/]" if value else "[red]no[/]"


def _num(value, fmt: str = "{:.2f}") -> str:
    return "-" if value is None else fmt.format(value)


def service(attack: dict[str, Any]) -> str:
    """What the attack did to the web service, and whether it came back."""
    effect = attack.get("service") or {}
    if not effect.get("failed"):
        return "unaffected"
    back = effect.get("back_after_action_s")
    return f"{effect['failed']} probes failed, " + (
        "still down" if back is None else f"back {back:.1f} s after block"
    )


def tables(report: dict[str, Any]) -> Group:
    """The report as rich tables (attacks, taps, steps)."""
    attacks = Table(
        "attack",
        "attacker",
        "detected",
        "delay s",
        "alert",
        "action taken",
        "web service",
        title="attacks",
    )
    for a in report["attacks"]:
        attacks.add_row(
            a["kind"],
            str(a.get("attacker") or "-"),
            _yes(a["detected"]),
            _num(a["delay_s"]),
            str(a.get("alert") or "-"),
            a["action"] or "-",
            service(a),
        )
    taps = Table("tap", "node", "packets", "fidelity", "cpu %", "MB", "throughput", title="taps")
    for t in report["taps"]:
        taps.add_row(
            t["kind"],
            t["node"],
            f"{t.get('packets', 0):,}",
            _num(t.get("fidelity"), "{:.1%}"),
            _num(t.get("cpu_pct")),
            _num(t.get("mem_mb"), "{:.0f}"),
            _num(t.get("throughput_ratio"), "{:.1%}"),
        )
    steps = Table("step", "status", "seconds", "what happened", title="steps")
    for s in report["steps"]:
        steps.add_row(
            s["name"],
            f"[{STYLE[s['status']]}]{s['status']}[/]",
            _num(s["seconds"], "{:.1f}"),
            s["note"],
        )
    return Group(attacks, taps, steps)


def markdown(report: dict[str, Any]) -> str:
    """A Markdown summary of the report."""
    lines = [
        "# taplab demo report",
        "",
        f"Ran in {report['duration_s']:.0f} s on {report['topology']}.",
        "",
        "## Attacks",
        "",
        "| attack | attacker | detected | delay (s) | alert | action | web service |",
        "|---|---|---|---|---|---|---|",
    ]
    for a in report["attacks"]:
        lines.append(
            f"| {a['kind']} | {a.get('attacker') or '-'} | "
            f"{'yes' if a['detected'] else 'no'} | {_num(a['delay_s'])} | "
            f"{a.get('alert') or '-'} | {a['action'] or '-'} | {service(a)} |"
        )
    lines += [
        "",
        "## Taps",
        "",
        "| tap | node | packets | fidelity | cpu % | MB | throughput |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in report["taps"]:
        lines.append(
            f"| {t['kind']} | {t['node']} | {t.get('packets', 0)} | "
            f"{_num(t.get('fidelity'), '{:.1%}')} | {_num(t.get('cpu_pct'))} | "
            f"{_num(t.get('mem_mb'), '{:.0f}')} | "
            f"{_num(t.get('throughput_ratio'), '{:.1%}')} |"
        )
    lines += [
        "",
        "## Steps",
        "",
        "| step | status | seconds | what happened |",
        "|---|---|---|---|",
    ]
    for s in report["steps"]:
        lines.append(f"| {s['name']} | {s['status']} | {s['seconds']:.1f} | {s['note']} |")
    lines += ["", "![timeline](timeline.png)", ""]
    return "\n".join(lines)


def plot_timeline(history: list[Sample], report: dict[str, Any], path: Path) -> Path:
    """Traffic rates and service health over time, attacks shaded, alerts marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (rates, service) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    times = [s.time for s in history]
    for name in dict.fromkeys(k for s in history for k in s.rates if k.endswith("pkt/s")):
        rates.plot(times, [s.rates.get(name, 0) for s in history], label=name)
    service.plot(times, [s.service.get("ok", 0) for s in history], color="green", label="ok")
    service.plot(times, [s.service.get("failed", 0) for s in history], color="red", label="failed")
    for a in report["attacks"]:
        if a.get("start") is not None:
            for ax in (rates, service):
                ax.axvspan(a["start"], a.get("end") or a["start"], alpha=0.15, color="red")
            rates.annotate(a["kind"], (a["start"], 0), xytext=(2, 2), textcoords="offset points")
        if a.get("alert_time") is not None:
            for ax in (rates, service):
                ax.axvline(a["alert_time"], color="red", linestyle="--")
        if a.get("action_time") is not None:
            for ax in (rates, service):
                ax.axvline(a["action_time"], color="blue", linestyle=":")
    rates.set_ylabel("packets/s")
    if rates.get_legend_handles_labels()[0]:
        rates.legend(loc="upper right", fontsize="small")
    service.set_ylabel("probe requests in the last second")
    service.set_xlabel(
        "seconds since the demo started (red: attacks, dashed: alert, dotted: action)"
    )
    service.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write(folder: Path, report: dict[str, Any], history: list[Sample]) -> list[Path]:
    """Write demo.json, timeline.png and summary.md into folder."""
    paths = [
        write_json(folder, "demo", {**report, "timeline": [vars(s) for s in history]}),
        plot_timeline(history, report, folder / "timeline.png"),
    ]
    summary = folder / "summary.md"
    summary.write_text(markdown(report))
    return [*paths, summary]
