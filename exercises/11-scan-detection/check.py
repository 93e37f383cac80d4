"""Exercise 11: TRW scan detection against real nmap scans, and a slow scan that evades it."""

import re

from taplab.exercises.apply import Privileges
from taplab.exercises.grading import Checklist
from taplab.exercises.lambda_checks import add_first_checks
from taplab.exercises.live import wait_until

CHECKS = Checklist()
PRIVILEGES = Privileges()  # students' files run as nobody with NET_ADMIN and NET_RAW
WEB, CLIENT, ATTACKER, SNEAKY = "10.0.0.10", "10.0.0.20", "10.0.0.66", "10.0.0.77"
DETECT_WITHIN = 5.0
FAST_SCAN = ["nmap", "-sS", "-Pn", "-n", "-p", "1-200", "-T4", "--max-retries", "0", WEB]
SLOW_SCAN_PORTS = 8  # distinct ports of 20-40 that sneaky must have probed


add_first_checks(CHECKS, "client", CLIENT, f"http://{WEB}/")


@CHECKS.check("a fast nmap scan from attacker (200 ports) is flagged within 5 s", points=3)
def fast_scan_flagged(lab):
    if not lab.alerts(ATTACKER):
        lab.output("attacker", *FAST_SCAN, timeout=60)
    alerts = wait_until(lambda: lab.alerts(ATTACKER), DETECT_WITHIN)
    if not alerts:
        return False, f"no Alert with src={ATTACKER} within {DETECT_WITHIN:g} s of the scan."
    return True, f"alert {alerts[0].get('name')}: {alerts[0].get('detail', '')}."


def _probed(lab) -> set[int]:
    """The ports of 20-40 that web's iptables counters saw a SYN from sneaky to."""
    probed = set()
    for line in lab.output("web", "iptables", "-L", "INPUT", "-v", "-n", "-x").splitlines():
        match = re.match(r"\s*(\d+)\s+\d+\s.*\b10\.0\.0\.77\b.*dpt:(\d+)", line)
        if match and int(match[1]) > 0:
            probed.add(int(match[2]))
    return probed


@CHECKS.check("sneaky scanned web: SYNs to at least 8 of ports 20-40", points=2)
def slow_scan_happened(lab):
    probed = _probed(lab)
    if len(probed) < SLOW_SCAN_PORTS:
        return (
            False,
            f"web saw SYNs from sneaky on {len(probed)} of ports 20-40, not "
            f"{SLOW_SCAN_PORTS}: run slow_scan.sh (taplab exercise run 11 slow_scan.sh).",
        )
    return True, f"sneaky probed {len(probed)} ports."


@CHECKS.check("... and the detector never flagged sneaky (the slow scan evaded it)", points=2)
def slow_scan_evaded(lab):
    if len(_probed(lab)) < SLOW_SCAN_PORTS:
        return False, "sneaky has not scanned yet, so it has evaded nothing."
    if lab.alerts(SNEAKY):
        return False, "sneaky was flagged: probe more slowly than the detector remembers."
    return True, "no alert about sneaky."


@CHECKS.check(
    "benign hosts are cleared: three failures after the client's successes raise no alert",
    hidden=True,
)
def cleared_client(lab):
    for port in (81, 82, 83):
        lab.connect("client", WEB, port)
    if wait_until(lambda: lab.alerts(CLIENT), 2.0):
        return (
            False,
            "the client was flagged after 10 successes and 3 failures: does the "
            "walk restart at ETA0?",
        )
    return True, "the client stayed benign."
