"""Link impairments, as Mininet's TCLink has them: bandwidth, delay, jitter, loss,
corruption and reordering, set on both ends of a veth (each end shapes what it sends,
so a 50 ms delay adds 100 ms to a round trip).

Bandwidth is an HTB class; the rest is netem (under the HTB class when both are
asked), which some kernels lack: then only bandwidth can be set, and asking for
more is a clear error that says where netem exists::

    pod1 [pod1-eth0] ==veth== [node1-eth2] node1      htb 1: -> class 1:1 (rate)
                                                          -> netem 10: (delay, loss)
"""

import re
from dataclasses import asdict, dataclass
from typing import Any

from taplab import capabilities
from taplab.errors import UserError

RATE_UNITS = {
    "": 1e6,
    "bit": 1,
    "kbit": 1e3,
    "k": 1e3,
    "mbit": 1e6,
    "m": 1e6,
    "gbit": 1e9,
    "g": 1e9,
}
TIME_UNITS = {"": 1e-3, "s": 1, "ms": 1e-3, "us": 1e-6}
NETEM = {
    "delay": "delay_s",
    "jitter": "jitter_s",
    "loss": "loss_pct",
    "corrupt": "corrupt_pct",
    "reorder": "reorder_pct",
}


def _number(value: Any, what: str, units: dict[str, float]) -> float:
    """A number with an optional unit (case-insensitive); a bare number takes units[""]."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-z]*)\s*", str(value).lower())
    if not match or match.group(2) not in units:
        choices = ", ".join(u for u in units if u)
        raise UserError(f"{what} '{value}' is not a number with a unit ({choices}).")
    return float(match.group(1)) * units[match.group(2)]


def _percent(value: Any, what: str) -> float:
    number = _number(str(value).rstrip("%"), what, {"": 1})
    if number > 100:
        raise UserError(f"{what} '{value}' is more than 100 %.")
    return number


@dataclass(frozen=True)
class Impairment:
    """What a link does to the packets it carries; None: untouched."""

    rate_bps: float | None = None
    delay_s: float | None = None
    jitter_s: float | None = None
    loss_pct: float | None = None
    corrupt_pct: float | None = None
    reorder_pct: float | None = None

    @classmethod
    def parse(
        cls, rate=None, delay=None, jitter=None, loss=None, corrupt=None, reorder=None
    ) -> "Impairment":
        """From values as people write them: ``20mbit`` (a bare number is Mbit/s, as
        Mininet's bw), ``20ms`` (a bare number is ms), ``1%`` (percent)."""
        made = cls(
            rate_bps=None if rate is None else _number(rate, "rate", RATE_UNITS),
            delay_s=None if delay is None else _number(delay, "delay", TIME_UNITS),
            jitter_s=None if jitter is None else _number(jitter, "jitter", TIME_UNITS),
            loss_pct=None if loss is None else _percent(loss, "loss"),
            corrupt_pct=None if corrupt is None else _percent(corrupt, "corrupt"),
            reorder_pct=None if reorder is None else _percent(reorder, "reorder"),
        )
        if made.rate_bps is not None and made.rate_bps < 8000:
            raise UserError(f"rate '{rate}' is below 8 kbit/s, the least HTB shapes to.")
        if made.jitter_s and not made.delay_s or made.reorder_pct and not made.delay_s:
            raise UserError(
                "jitter and reorder need a delay (reordering sends some packets without it)."
            )
        return made

    @property
    def needs_netem(self) -> bool:
        return any(getattr(self, field) for field in NETEM.values())

    def __bool__(self) -> bool:
        return any(v is not None for v in asdict(self).values())

    def describe(self) -> str:
        parts = []
        if self.rate_bps:
            parts.append(f"rate {self.rate_bps / 1e6:g} Mbit/s")
        for name, value, unit, scale in (
            ("delay", self.delay_s, "ms", 1e3),
            ("jitter", self.jitter_s, "ms", 1e3),
            ("loss", self.loss_pct, "%", 1),
            ("corrupt", self.corrupt_pct, "%", 1),
            ("reorder", self.reorder_pct, "%", 1),
        ):
            if value:
                parts.append(f"{name} {value * scale:g} {unit}")
        return ", ".join(parts) or "no impairment"


def _netem_args(imp: Impairment) -> list[str]:
    args = []
    if imp.delay_s:
        args += ["delay", f"{imp.delay_s * 1e6:.0f}us"]
        if imp.jitter_s:
            args += [f"{imp.jitter_s * 1e6:.0f}us"]
    for name, value in (
        ("loss", imp.loss_pct),
        ("corrupt", imp.corrupt_pct),
        ("reorder", imp.reorder_pct),
    ):
        if value:
            args += [name, f"{value:g}%"]
    return args


def tc_commands(dev: str, imp: Impairment) -> list[list[str]]:
    """The tc commands that give dev's egress this impairment (after clearing it)."""
    if not imp:
        return []
    if not imp.rate_bps:
        return [
            [
                "tc",
                "qdisc",
                "replace",
                "dev",
                dev,
                "root",
                "handle",
                "10:",
                "netem",
                *_netem_args(imp),
            ]
        ]
    rate = f"{imp.rate_bps:.0f}bit"
    # A burst of at least one full frame and ~1 ms at the rate keeps TCP near the rate.
    burst = max(15_000, int(imp.rate_bps / 8 / 1000))
    commands = [
        ["tc", "qdisc", "replace", "dev", dev, "root", "handle", "1:", "htb", "default", "1"],
        [
            "tc",
            "class",
            "replace",
            "dev",
            dev,
            "parent",
            "1:",
            "classid",
            "1:1",
            "htb",
            "rate",
            rate,
            "ceil",
            rate,
            "burst",
            str(burst),
            "cburst",
            str(burst),
        ],
    ]
    if imp.needs_netem:
        commands.append(
            [
                "tc",
                "qdisc",
                "replace",
                "dev",
                dev,
                "parent",
                "1:1",
                "handle",
                "10:",
                "netem",
                *_netem_args(imp),
            ]
        )
    return commands


def check_kernel(imp: Impairment) -> None:
    """Fail, saying why and where it works, when this kernel cannot do what imp asks."""
    if imp.rate_bps:
        capabilities.require("htb")
    asked = [name for name, field in NETEM.items() if getattr(imp, field)]
    if asked and not capabilities.available("netem"):
        netem = capabilities.feature("netem")
        raise UserError(
            f"{', '.join(asked)} need tc netem, and this {netem.reason}: "
            f"{netem.fix}; bandwidth (--rate) works here."
        )
