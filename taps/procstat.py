"""CPU and memory of a tap's processes, from /proc."""

import os
import time

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU seconds used so far by pids (gone ones count 0)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def rss_mb(pids: list[int]) -> float:
    """Resident memory of pids in MB."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1])
        except OSError:
            continue
    return total * os.sysconf("SC_PAGE_SIZE") / 1e6


def machine_seconds() -> dict:
    """CPU seconds since boot that all cores spent busy (not idle or iowait), that they
    spent in softirq (the kernel's packet processing, whichever process it interrupted),
    and that each core spent busy."""
    with open("/proc/stat") as f:
        rows = [[int(v) for v in line.split()[1:]] for line in f if line.startswith("cpu")]

    def busy(values: list[int]) -> float:
        return (sum(values) - values[3] - values[4]) / TICKS

    return {
        "busy": busy(rows[0]),
        "softirq": rows[0][6] / TICKS,
        "cores": list(map(busy, rows[1:])),
    }


class CpuMeter:
    """CPU share of pids over an interval: % of one core and % of the machine, and how
    busy the machine was (all of it, in softirq, and its busiest core)."""

    def __init__(self, pids: list[int]):
        self.pids = pids
        self.start = (time.monotonic(), cpu_seconds(pids), machine_seconds())

    def read(self) -> dict[str, float]:
        wall = max(time.monotonic() - self.start[0], 1e-6)
        used = cpu_seconds(self.pids) - self.start[1]
        then, now = self.start[2], machine_seconds()
        busiest = max(b - a for a, b in zip(then["cores"], now["cores"], strict=True))
        cores = os.cpu_count() or 1
        return {
            "cpu_pct_core": 100 * used / wall,
            "cpu_pct_node": 100 * used / wall / cores,
            "machine_busy_pct": 100 * (now["busy"] - then["busy"]) / wall / cores,
            "softirq_pct": 100 * (now["softirq"] - then["softirq"]) / wall / cores,
            "busiest_core_pct": 100 * busiest / wall,
        }
