"""Stealth scans from in-kernel counts: the ``stealth-ebpf`` detector.

Reads the counter's per-sender rows (``ebpf_syn``): in each interval, how many
TCP probes a sender made that no real TCP stack sends outside a handshake
(NULL: no flags; Xmas: FIN|PSH|URG; FIN without ACK; other flag sets without
ACK, SYN or RST; SYN with FIN or RST), and how many RSTs and ICMP
unreachables went back to it. A source whose probes reach ``threshold`` (4)
within ``window`` (90 s) is a stealth scanner, reported once per window.

Four matches TRW's four failed first contacts (``trw``): each of these probes
is a failure there, since closed ports answer it with a RST and open ones stay
silent, and no benign host sends one. The replies only describe the scan; an
open or filtered port's silence counts as much as a closed port's RST.

Limits: ACK, Window and Maimon probes (nmap -sA, -sW, -sM) carry ACK, like
every mid-connection packet: without connection state the kernel cannot tell
them apart, so only the user-space detectors see them. Later fragments carry
no TCP header (nmap -f, --mtu), and a first fragment too short for one is not
read. The sender is the owner of the frame's MAC as ARP announced it (decoys
are charged to the scanner), else the claimed source.
"""

from taplab.detectors.windows import Once, SumWindow
from taplab.lambdas import Alert

KINDS = ("NULL", "Xmas", "FIN", "odd-flag")


class KernelStealthScan:
    name = "stealth-ebpf"

    def __init__(self, threshold: int = 4, window: float = 90.0):
        self.threshold = threshold
        self.probes = SumWindow(window)
        self.once = Once(window)

    def observe_row(self, row: list) -> list[Alert]:
        """One counter row ``[time, "stealth", src, dst, null, xmas, fin, odd, replies,
        forged, claimed]``: the alert when src crosses the threshold."""
        time, _tag, src, dst, *counts = row
        kinds, (replies, forged, claimed) = counts[:4], counts[4:]
        total = self.probes.add(src, sum(kinds), time)
        if total < self.threshold or not self.once(src, time):
            return []
        seen = ", ".join(f"{n} {k}" for k, n in zip(KINDS, kinds, strict=True) if n)
        decoys = f"; {forged} with forged sources (last {claimed})" if forged else ""
        return [
            Alert(
                "stealth-scan",
                src=src,
                dst=dst,
                detail=f"{total:.0f} probes in the window (last interval: {seen}), "
                f"{replies} RSTs/unreachables back; in-kernel counts{decoys}",
            )
        ]
