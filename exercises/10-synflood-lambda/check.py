"""Exercise 10: a SYN-flood detector lambda, checked against a real flood (hping3).

The attacker floods from an address drawn at grading time, after ordinary
connections from that same address: an alert must come from the traffic, since
no lambda can know the address in advance.
"""

import random
import subprocess
import time

from taplab import shell
from taplab.exercises.grading import Checklist
from taplab.exercises.lambda_checks import add_first_checks, ordinary_client_not_flagged
from taplab.exercises.live import wait_until

CHECKS = Checklist()
WEB, CLIENT = "10.0.0.10", "10.0.0.20"
_flooder: dict = {}  # the attacker's address in this grading
DETECT_WITHIN = 5.0  # seconds from the flood's start
FLOOD = ["hping3", "-q", "-S", "-p", "80", "-i", "u2000", "-c", "2500", WEB]  # 500 SYN/s, 5 s


def flooder(lab) -> str:
    """Move the attacker to a fresh address, drawn now (once per grading)."""
    if "ip" not in _flooder:
        ip = f"10.0.0.{random.SystemRandom().randrange(100, 250)}"
        dev = lab.output("attacker", "ip", "-o", "-4", "addr", "show", "to", "10.0.0.0/24").split()[
            1
        ]
        lab.output("attacker", "ip", "addr", "flush", "dev", dev)
        lab.output("attacker", "ip", "addr", "add", f"{ip}/24", "dev", dev)
        _flooder["ip"] = ip
    return _flooder["ip"]


add_first_checks(CHECKS, "client", CLIENT, f"http://{WEB}/")


@CHECKS.check(
    "a SYN flood from attacker (500 SYN/s) is reported within 5 s, and its "
    "ordinary connections before were not",
    points=3,
)
def detects_flood(lab):
    src = flooder(lab)
    ordinary, why = ordinary_client_not_flagged(lab, "attacker", src, f"http://{WEB}/", 5)
    if not ordinary:
        return False, f"before any flood, from {src}: {why} Report floods, not addresses."
    start = time.monotonic()
    flood = shell.start(
        FLOOD, netns=lab.netns("attacker"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        alerts = wait_until(lambda: lab.alerts(src), DETECT_WITHIN)
    finally:
        flood.kill()
        flood.wait()
    if not alerts:
        return False, f"no Alert with src={src} within {DETECT_WITHIN:g} s of the flood."
    return (
        True,
        f"alert {alerts[0].get('name')} for {src} after "
        f"{time.monotonic() - start:.1f} s ({alerts[0].get('detail', '')}).",
    )


@CHECKS.check("the attacker is blocked: its new connections to web are dropped", points=2)
def attacker_blocked(lab):
    result = lab.connect("attacker", WEB, 80)
    if result != "timeout":
        return (
            False,
            f"the attacker's ({flooder(lab)}) connection to web:80 was {result}: return a Block.",
        )
    return True, "the attacker's SYNs are dropped."


@CHECKS.check("the client still reaches web while the attacker is blocked", hidden=True)
def client_unharmed(lab):
    answers = lab.http_get("client", f"http://{WEB}/", 3)
    if answers != ["web"] * 3:
        return False, f"the client's requests failed ({answers[-1:]}): the block is too wide."
    return True, "the client is served."
