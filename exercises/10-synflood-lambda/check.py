"""Exercise 10: a SYN-flood detector lambda, checked against a real flood (hping3)."""

import subprocess
import time

from taplab.exercises.grading import Checklist
from taplab.exercises.lambda_checks import lambda_loaded, ordinary_client_not_flagged
from taplab.exercises.live import wait_until

CHECKS = Checklist()
WEB, CLIENT, ATTACKER = "10.0.0.10", "10.0.0.20", "10.0.0.66"
DETECT_WITHIN = 5.0  # seconds from the flood's start
FLOOD = ["hping3", "-q", "-S", "-p", "80", "-i", "u2000", "-c", "2500", WEB]  # 500 SYN/s, 5 s


@CHECKS.check("a lambda for packet_in events is loaded in the lambda server")
def loaded(lab):
    return lambda_loaded(lab)


@CHECKS.check("ten ordinary connections from client raise no alert", points=2)
def no_false_positive(lab):
    return ordinary_client_not_flagged(lab, "client", CLIENT, f"http://{WEB}/")


@CHECKS.check("a SYN flood from attacker (500 SYN/s) is reported within 5 s", points=3)
def detects_flood(lab):
    if lab.alerts(ATTACKER):
        return True, "the attacker was already reported."
    start = time.monotonic()
    flood = subprocess.Popen(["ip", "netns", "exec", lab.netns("attacker"), *FLOOD],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        alerts = wait_until(lambda: lab.alerts(ATTACKER), DETECT_WITHIN)
    finally:
        flood.kill()
        flood.wait()
    if not alerts:
        return False, f"no Alert with src={ATTACKER} within {DETECT_WITHIN:g} s of the flood."
    return True, f"alert {alerts[0].get('name')} after {time.monotonic() - start:.1f} s " \
                 f"({alerts[0].get('detail', '')})."


@CHECKS.check("the attacker is blocked: its new connections to web are dropped", points=2)
def attacker_blocked(lab):
    result = lab.connect("attacker", WEB, 80)
    if result != "timeout":
        return False, f"the attacker's connection to web:80 was {result}: return a Block."
    return True, "the attacker's SYNs are dropped."


@CHECKS.check("the client still reaches web while the attacker is blocked", hidden=True)
def client_unharmed(lab):
    answers = lab.http_get("client", f"http://{WEB}/", 3)
    if answers != ["web"] * 3:
        return False, f"the client's requests failed ({answers[-1:]}): the block is too wide."
    return True, "the client is served."
