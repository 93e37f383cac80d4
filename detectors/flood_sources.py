"""Who is behind a flood: the packets that count, the source to name, the flood's name.

Shared by the flood detectors (``cusum``, ``packet_flood``). Packets are
counted per (source, destination port) in an interval; only ports that got
``repeat`` or more of them count (a scan sends one probe per port: a scan,
not a flood), and no source that hit more than ``SCAN_PORTS`` ports in the
interval (a decoy scan sends one probe per port and decoy, so its ports
repeat; a flood keeps to a port or a few). The named source has at least
half of the excess; with none, the flood is ``distributed-<kind>`` when at
least 3 sources sent ``repeat`` or more each (many real attackers), else
plain ``<kind>`` from forged sources.
"""

from collections import Counter

TOP = 5  # sources listed in an alert's detail
SCAN_PORTS = 10  # a source hitting more ports than this in an interval is scanning


def repeated(counts: Counter, repeat: int) -> Counter:
    """Per source, its packets towards ports that got at least repeat of them, unless
    it spread over more than SCAN_PORTS ports."""
    per_port, ports_of = Counter(), Counter()
    for (src, port), n in counts.items():
        per_port[port] += n
        ports_of[src] += 1
    out = Counter()
    for (src, port), n in counts.items():
        if per_port[port] >= repeat and ports_of[src] <= SCAN_PORTS:
            out[src] += n
    return out


def dominant(unbalanced: Counter, excess: float) -> str | None:
    """The source with at least half of excess (and some of it), else None."""
    top = unbalanced.most_common(1)
    return top[0][0] if top and top[0][1] > 0 and top[0][1] * 2 >= excess else None


def naming(kind: str, unbalanced: Counter, source: str | None, repeat: int) -> tuple[str, str]:
    """(alert name, detail listing the top sources) of a flood of kind."""
    if source is not None:
        return kind, ""
    many = sum(1 for n in unbalanced.values() if n >= repeat) >= 3
    top = ", ".join(f"{src} ({n})" for src, n in unbalanced.most_common(TOP))
    return (f"distributed-{kind}" if many else kind, f"; {len(unbalanced)} sources, top {top}")
