"""The ``pcap`` tap: tcpdump writes the interface's frames to rotating files.

``tcpdump -i INTF -w <tap>.pcap -C MB -W FILES -U --immediate-mode``: at most
FILES files of MB megabytes, kept in the lab's folder after detach (they go with
the lab). Immediate mode writes each frame as it arrives, so the frames of the
last second before detach are on disk too.
Counters are tcpdump's own, asked for with SIGUSR1 (``N packets captured, M
received by filter, K dropped by kernel``): captured packets and kernel drops
do not depend on rotation; bytes are those of the records still on disk.
"""

import os
import re
import signal

from taplab import ready
from taplab.taps.base import Tap, tap_kind
from taplab.taps.pcapfile import count

_STATS = re.compile(
    r"(\d+) packets? captured, (\d+) packets? received by filter, "
    r"(\d+) packets? dropped by kernel"
)


@tap_kind
class PcapTap(Tap):
    kind = "pcap"
    needs = ("tcpdump",)

    def attach(self) -> None:
        path = self.lab.workdir / f"{self.id}.pcap"
        self.record["pcap"] = str(path)
        proc = self.start(
            [
                "tcpdump",
                "-i",
                self.target.intf,
                "-w",
                str(path),
                "-U",
                "--immediate-mode",
                "-n",
                "-Z",
                "root",
                "-s",
                str(self.options["snaplen"]),
                "-C",
                str(self.options["size_mb"]),
                "-W",
                str(self.options["files"]),
            ]
        )
        # Until it listens, a SIGUSR1 (the counters) would end tcpdump.
        ready.wait(proc, self.log, "tcpdump", ready.marker(self.log, "listening on"), timeout=10)

    def files(self) -> list:
        return sorted(self.lab.workdir.glob(f"{self.id}.pcap*"))

    def tcpdump_stats(self, timeout: float = 2.0) -> tuple[int, int, int] | None:
        """(captured, received by filter, dropped by kernel), fresh from a SIGUSR1."""
        log = self.log
        seen = len(_STATS.findall(log.read_text(errors="replace"))) if log.exists() else 0
        try:
            os.kill(self.record["pids"][0], signal.SIGUSR1)
        except ProcessLookupError:
            return None
        found = ready.until(
            lambda: _STATS.findall(log.read_text(errors="replace"))[seen:], timeout, 0.02
        )
        return tuple(int(v) for v in found[-1]) if found else None

    def counters(self) -> dict:
        nbytes = sum(count(path)[1] for path in self.files())
        stats = self.tcpdump_stats()
        if stats is None:
            return {"packets": 0, "bytes": nbytes, "drops": None, "files": len(self.files())}
        captured, received, dropped = stats
        return {
            "packets": captured,
            "bytes": nbytes,
            "drops": dropped,
            "received": received,
            "files": len(self.files()),
        }
