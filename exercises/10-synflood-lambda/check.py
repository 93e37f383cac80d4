"""Exercise 10: a SYN-flood detector lambda, checked against a real flood (hping3)."""

import subprocess
import time

from taplab.exercises.grading import Checklist

CHECKS = Checklist()
WEB, CLIENT, ATTACKER = "10.0.0.10", "10.0.0.20", "10.0.0.66"
DETECT_WITHIN = 5.0  # seconds from the flood's start
FLOOD = ["hping3", "-q", "-S", "-p", "80", "-i", "u2000", "-c", "2500", WEB]  # 500 SYN/s, 5 s


def _alerts(lab, src: str) -> list[dict]:
    actions = lab.lambda_api("GET", "/actions")["actions"]
    return [a for a in actions if a["action"] == "Alert" and a.get("src") == src]


def _lambdas(lab) -> list[dict]:
    return [w for w in lab.lambda_api("GET", "/lambdas")["lambdas"]
            if "packet_in" in w["kinds"]]


def _wait(condition, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.1)
    return None


@CHECKS.check("a lambda for packet_in events is loaded in the lambda server")
def loaded(lab):
    found = _lambdas(lab)
    if not found:
        return False, "no lambda handles packet_in events (taplab exercise run 10 FILE)."
    return True, f"loaded: {', '.join(w['name'] for w in found)}."


@CHECKS.check("ten ordinary connections from client raise no alert", points=2)
def no_false_positive(lab):
    def invocations():
        return sum(w["invocations"] for w in _lambdas(lab))

    before = invocations()
    answers = lab.http_get("client", f"http://{WEB}/", 10)
    if answers != ["web"] * 10:
        return False, f"the client's requests failed ({answers[-1:]}): fix connectivity first."
    # The switch copies each connection's SYN and FIN up: wait until the lambda saw them.
    _wait(lambda: invocations() >= before + 10, 5.0)
    if _alerts(lab, CLIENT):
        return False, "the client's 10 connections were reported as a SYN flood."
    return True, "no alert for the client."


@CHECKS.check("a SYN flood from attacker (500 SYN/s) is reported within 5 s", points=3)
def detects_flood(lab):
    if _alerts(lab, ATTACKER):
        return True, "the attacker was already reported."
    start = time.monotonic()
    flood = subprocess.Popen(["ip", "netns", "exec", lab.netns("attacker"), *FLOOD],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        alerts = _wait(lambda: _alerts(lab, ATTACKER), DETECT_WITHIN)
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
