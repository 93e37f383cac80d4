"""The detection bench's timeline plot: alerts of every detector against ground truth."""

from pathlib import Path

DETECTOR_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple",
                   "tab:brown", "tab:pink")


def plot(path: Path, scenario: str, start: float, truths: list[dict], detections: dict,
         names: list[str]) -> Path:
    """One PNG: ground truth shaded (attacks red, benign green), a row of alerts per detector."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.35 * len(names)))
    for truth in truths:
        color = "tab:red" if truth["malicious"] else "tab:green"
        ax.axvspan(truth["start"] - start, truth["end"] - start, color=color, alpha=0.15)
        ax.text(truth["start"] - start, len(names) - 0.4, f"{truth['kind']} ({truth['tool']})",
                fontsize=7, color=color)
    for row, name in enumerate(names):
        times = [d.time - start for d in detections.get(name, [])]
        ax.scatter(times, [row] * len(times), marker="v", s=40,
                   color=DETECTOR_COLORS[row % len(DETECTOR_COLORS)])
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(-0.7, len(names) - 0.1)
    ax.set_xlabel("seconds since the scenario started")
    ax.set_title(f"{scenario}: alerts against ground truth", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
