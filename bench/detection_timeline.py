"""The detection bench's timeline plot: alerts of every detector against ground truth."""

from pathlib import Path

DETECTOR_COLORS = (
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:red",
    "tab:purple",
    "tab:brown",
    "tab:pink",
)


def plot(
    path: Path, scenario: str, start: float, truths: list[dict], detections: dict, names: list[str]
) -> Path:
    """One PNG: a bar per ground-truth run (attacks red, benign green) above a row of
    alerts per detector, on the same time axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = len(names) + len(truths)
    fig, ax = plt.subplots(figsize=(9, 1.0 + 0.32 * rows))
    labels = list(names)
    for i, truth in enumerate(truths):
        y = len(names) + i
        color = "tab:red" if truth["malicious"] else "tab:green"
        ax.broken_barh(
            [(truth["start"] - start, truth["end"] - truth["start"])],
            (y - 0.3, 0.6),
            color=color,
            alpha=0.35,
        )
        labels.append(f"{truth['kind']} ({truth['tool']}, {truth['attacker']})")
    for row, name in enumerate(names):
        times = [d.time - start for d in detections.get(name, [])]
        ax.scatter(
            times,
            [row] * len(times),
            marker="v",
            s=40,
            color=DETECTOR_COLORS[row % len(DETECTOR_COLORS)],
        )
    ax.set_yticks(range(rows), labels, fontsize=8)
    ax.set_ylim(-0.7, rows - 0.3)
    ax.axhline(len(names) - 0.5, color="grey", linewidth=0.5)
    ax.set_xlabel("seconds since the scenario started")
    ax.set_title(f"{scenario}: alerts (triangles) against ground truth (bars)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
