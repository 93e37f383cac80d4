"""The ``pcap`` tap: tcpdump writes the interface's frames to rotating files.

``tcpdump -i INTF -w <tap>.pcap -C MB -W FILES -U``: at most FILES files of MB
megabytes; counters are the records in the files (older files rotated away are
no longer counted). The files stay in the lab's folder after detach (they go
with the lab); tcpdump's own drop count is in the tap's log once it stops.
"""

from taplab.taps.base import Tap, tap_kind
from taplab.taps.pcapfile import count


@tap_kind
class PcapTap(Tap):
    kind = "pcap"
    needs = ("tcpdump",)

    def attach(self) -> None:
        path = self.lab.workdir / f"{self.id}.pcap"
        self.record["pcap"] = str(path)
        self.start(["tcpdump", "-i", self.target.intf, "-w", str(path), "-U", "-n", "-Z", "root",
                    "-s", str(self.options["snaplen"]), "-C", str(self.options["size_mb"]),
                    "-W", str(self.options["files"])])

    def files(self) -> list:
        return sorted(self.lab.workdir.glob(f"{self.id}.pcap*"))

    def counters(self) -> dict:
        packets = nbytes = 0
        for path in self.files():
            p, b = count(path)
            packets += p
            nbytes += b
        return {"packets": packets, "bytes": nbytes, "drops": None, "files": len(self.files())}
