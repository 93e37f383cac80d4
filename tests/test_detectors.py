"""Detectors on synthetic observation streams: exact expectations."""

import pytest

from taplab.detectors import catalog
from taplab.detectors.cusum import CusumSynFlood
from taplab.detectors.fanout import FanOut
from taplab.detectors.heavy_hitter import HeavyHitter
from taplab.detectors.observation import Observation, from_event
from taplab.detectors.scoring import score
from taplab.detectors.snort_like import SnortLikeScan
from taplab.detectors.trw import ThresholdRandomWalk
from taplab.detectors.zeek_like import ZeekLikeScan
from taplab.lambdas import Event

SCANNER, TARGET, CLIENT = "10.0.0.66", "10.0.0.2", "10.0.0.3"


def tcp(t, src, dst, sport, dport, flags, length=60):
    return Observation(t, src, dst, "tcp", sport, dport, flags, length)


def probe_closed(t, port, src=SCANNER, dst=TARGET):
    """A SYN to a closed port and the RST-ACK that rejects it."""
    return [tcp(t, src, dst, 40000, port, "S"), tcp(t + 0.001, dst, src, port, 40000, "RA")]


def probe_open(t, port, src=CLIENT, dst=TARGET):
    return [
        tcp(t, src, dst, 40000 + port, port, "S"),
        tcp(t + 0.001, dst, src, port, 40000 + port, "SA"),
    ]


def alerts_per_probe(detector, probes):
    """For each probe (a list of observations), the alerts it caused."""
    return [[a for obs in probe for a in detector.observe(obs)] for probe in probes]


def test_trw_flags_after_the_fourth_failed_first_contact():
    trw = ThresholdRandomWalk()
    alerts = alerts_per_probe(trw, [probe_closed(i * 0.01, 1000 + i) for i in range(6)])
    assert [len(a) for a in alerts] == [0, 0, 0, 1, 0, 0]
    assert alerts[3][0].src == SCANNER and alerts[3][0].name == "vertical-scan"


def test_trw_clears_a_host_after_four_successes_and_restarts_the_walk():
    trw = ThresholdRandomWalk()
    for i in range(3):
        alerts_per_probe(trw, [probe_open(i * 0.01, 80 + i)])
    assert CLIENT not in trw.cleared
    alerts_per_probe(trw, [probe_open(0.05, 90)])
    assert CLIENT in trw.cleared and trw.ratio[CLIENT] == 1.0
    # After the restart, three failures are not enough and the fourth flags.
    alerts = alerts_per_probe(
        trw, [probe_closed(1 + i * 0.01, 2000 + i, src=CLIENT) for i in range(4)]
    )
    assert [len(a) for a in alerts] == [0, 0, 0, 1]


def test_trw_counts_silence_as_failure_and_ignores_retransmissions():
    trw = ThresholdRandomWalk(timeout=3.0)
    for i in range(4):
        for retry in range(3):  # the same first contact three times counts once
            assert trw.observe(tcp(i * 0.1 + retry * 0.01, SCANNER, TARGET, 5, 7000 + i, "S")) == []
    assert trw.tick(3.2) == []  # only the first probe has timed out so far
    alerts = trw.tick(3.4)
    assert [a.src for a in alerts] == [SCANNER]


def test_trw_udp_reply_is_not_a_first_contact_of_the_server():
    trw = ThresholdRandomWalk(timeout=1.0)
    for i in range(10):
        port = 30000 + i
        trw.observe(Observation(i, CLIENT, TARGET, "udp", port, 53, "", 80))
        trw.observe(Observation(i + 0.01, TARGET, CLIENT, "udp", 53, port, "", 120))
    trw.tick(100)
    assert trw.scanners == set() and TARGET not in trw.ratio


def test_trw_icmp_unreachable_rejects_udp_probes():
    trw = ThresholdRandomWalk()
    alerts = []
    for i in range(4):
        alerts += trw.observe(Observation(i * 0.1, SCANNER, TARGET, "udp", 5555, 100 + i))
        alerts += trw.observe(
            Observation(i * 0.1 + 0.01, TARGET, SCANNER, "icmp", 100 + i, 5555, "unreach")
        )
    assert [a.src for a in alerts] == [SCANNER]


def flood(t0, seconds, rate, src=SCANNER, dst=TARGET, port=80):
    n = int(seconds * rate)
    return [tcp(t0 + i / rate, src, dst, 1024 + i % 60000, port, "S") for i in range(n)]


def benign_connections(t0, seconds, rate, src=CLIENT, dst=TARGET):
    out = []
    for i in range(int(seconds * rate)):
        t = t0 + i / rate
        out += [
            tcp(t, src, dst, 20000 + i, 80, "S"),
            tcp(t + 0.001, dst, src, 80, 20000 + i, "SA"),
            tcp(t + 0.004, src, dst, 20000 + i, 80, "FA"),
        ]
    return sorted(out, key=lambda o: o.time)


def test_cusum_flags_a_1000_syn_per_second_flood_within_half_a_second():
    cusum = CusumSynFlood()
    detections = catalog.run([cusum], benign_connections(0, 5, 50) + flood(5, 2, 1000))
    assert len(detections) == 1
    det = detections[0]
    assert det.alert.src == SCANNER and det.alert.dst == TARGET
    assert 5 < det.time <= 5.5


@pytest.mark.parametrize("rate", [10, 200])
def test_cusum_is_quiet_on_balanced_connections_and_slow_half_open_ones(rate):
    stream = benign_connections(0, 10, rate) + flood(0, 10, 10, src="10.0.0.9")
    assert catalog.run([CusumSynFlood()], sorted(stream, key=lambda o: o.time)) == []


def test_cusum_lets_a_short_burst_of_refused_connections_pass():
    retries = [o for i in range(40) for o in probe_closed(1 + i * 0.004, 5201, src=CLIENT)]
    assert catalog.run([CusumSynFlood()], retries, until=5) == []


def test_cusum_with_synack_balance_and_from_counters():
    answered = flood(0, 2, 1000)
    answered += [tcp(o.time + 0.0005, TARGET, SCANNER, 80, o.sport, "SA") for o in answered]
    answered.sort(key=lambda o: o.time)
    assert catalog.run([CusumSynFlood(balance=("synack",))], answered) == []
    assert len(catalog.run([CusumSynFlood(balance=("fin",))], answered)) == 1
    cusum = CusumSynFlood()
    assert cusum.observe_counts(TARGET, syn=4, balance=4) == []
    alerts = cusum.observe_counts(TARGET, syn=200, balance=0, top_source=SCANNER, top_count=190)
    assert [(a.name, a.src, a.dst) for a in alerts] == [("syn-flood", SCANNER, TARGET)]


def test_cusum_alarm_ends_soon_after_a_long_flood_so_a_retrying_client_is_no_flooder():
    retries = [o for i in range(8) for o in probe_closed(9 + i * 0.01, 5201, src=CLIENT)]
    detections = catalog.run([CusumSynFlood()], flood(0, 5, 1000) + retries, until=12)
    assert [d.alert.src for d in detections] == [SCANNER]


def test_cusum_names_a_second_source_during_an_alarm_and_none_for_spoofed_floods():
    stream = flood(0, 0.5, 1000) + flood(0.6, 1, 1000, src="10.0.0.77")
    stream += benign_connections(1.6, 5, 100)  # while y decays, the busy client is no flooder
    stream += benign_connections(1.0, 0.2, 2000)  # nor while it bursts during the flood
    detections = catalog.run([CusumSynFlood()], sorted(stream, key=lambda o: o.time))
    assert [d.alert.src for d in detections] == [SCANNER, "10.0.0.77"]
    spoofed = [
        Observation(i / 1000, f"10.{i % 250}.{i // 250 % 250}.9", TARGET, "tcp", 5, 80, "S")
        for i in range(2000)
    ]
    detections = catalog.run([CusumSynFlood()], spoofed)
    assert [(d.alert.src, d.alert.dst) for d in detections] == [(None, TARGET)]


def test_zeek_like_port_scan_at_the_fifteenth_failed_port_and_not_on_successes():
    zeek = ZeekLikeScan()
    ok = alerts_per_probe(zeek, [probe_open(i * 0.01, 80 + i) for i in range(40)])
    assert not any(ok)
    alerts = alerts_per_probe(zeek, [probe_closed(1 + i * 0.01, 1000 + i) for i in range(20)])
    assert [i for i, a in enumerate(alerts) if a] == [14]
    assert alerts[14][0].name == "port-scan" and alerts[14][0].src == SCANNER


def test_zeek_like_address_scan_at_the_twenty_fifth_host():
    zeek = ZeekLikeScan()
    probes = [probe_closed(i * 0.01, 22, dst=f"10.0.1.{i}") for i in range(1, 30)]
    alerts = alerts_per_probe(zeek, probes)
    assert [i for i, a in enumerate(alerts) if a] == [24]
    assert alerts[24][0].name == "address-scan"


def test_snort_like_ten_rejects_or_fifteen_silent_ports():
    snort = SnortLikeScan()
    alerts = alerts_per_probe(snort, [probe_closed(i * 0.01, 1000 + i) for i in range(12)])
    assert [i for i, a in enumerate(alerts) if a] == [9]
    silent = SnortLikeScan()
    alerts = [silent.observe(tcp(i, SCANNER, TARGET, 5, 3000 + i, "S")) for i in range(16)]
    assert [i for i, a in enumerate(alerts) if a] == [14]
    # Rejects spread over more than the 90 s window never add up to ten.
    slow = SnortLikeScan()
    alerts = alerts_per_probe(slow, [probe_closed(i * 15.0, 1000 + i) for i in range(14)])
    assert not any(alerts)


def test_fan_out_and_heavy_hitter():
    fan = FanOut(threshold=20, window=10)
    alerts = [fan.observe(tcp(i * 0.1, SCANNER, f"10.0.1.{i}", 5, 80, "S")) for i in range(25)]
    assert [i for i, a in enumerate(alerts) if a] == [19]
    hh = HeavyHitter(rate_bps=8e6, window=1.0)  # 1 MB/s
    alerts = [hh.observe(tcp(i * 0.001, CLIENT, TARGET, 5, 80, "PA", 1500)) for i in range(2000)]
    assert [i for i, a in enumerate(alerts) if a] == [666]  # 667 x 1500 B > 1 MB


def test_packet_in_events_become_observations():
    event = Event(
        "packet_in",
        12.5,
        dpid=1,
        src=SCANNER,
        dst=TARGET,
        data={"proto": "tcp", "sport": 4000, "dport": 22, "flags": "S", "len": 60, "in_port": 1},
    )
    assert from_event(event) == tcp(12.5, SCANNER, TARGET, 4000, 22, "S", 60)
    assert from_event(Event("timer", 1.0)) is None


def test_scoring_counts_delay_probes_true_and_false_positives():
    truth = {
        "kind": "scan",
        "malicious": True,
        "attacker_ips": [SCANNER],
        "targets": [TARGET],
        "start": 10.0,
        "end": 20.0,
    }
    obs = [o for i in range(8) for o in probe_closed(10 + i, 1000 + i)]
    dets = catalog.run([ThresholdRandomWalk()], obs)
    benign_alert = catalog.Detection(12.0, "trw", dets[0].alert.__class__("scan", src=CLIENT))
    result = score(dets + [benign_alert], [truth], obs)
    assert result == {
        "detected": True,
        "delay_s": 3.001,
        "probes": 4,
        "closed_probes": 4,
        "source_named": True,
        "true_positives": 1,
        "false_positives": 1,
        "misses": 0,
    }
    assert score([], [truth])["misses"] == 1
    assert score([], [truth])["source_named"] is False
    assert score([], [{**truth, "malicious": False}])["detected"] is None


def test_sensor_parses_frames_as_scapy_writes_them():
    from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, UDPerror, fragment
    from scapy.layers.l2 import ARP, Ether

    from taplab.detectors.sensor import parse

    mac = "02:00:00:00:00:66"
    eth = Ether(src=mac)
    tiny, rest = fragment(IP(src=SCANNER, dst=TARGET) / TCP(sport=7, dport=22, flags="S"), 8)[:2]
    frames = {
        bytes(
            eth / IP(src=TARGET, dst=SCANNER) / TCP(sport=80, dport=4000, flags="SA")
        ): Observation(1.0, TARGET, SCANNER, "tcp", 80, 4000, "SA", 54, mac),
        bytes(eth / IP(src=SCANNER, dst=TARGET) / TCP(flags="FPA") / (b"x" * 100)): Observation(
            1.0, SCANNER, TARGET, "tcp", 20, 80, "FPA", 154, mac
        ),
        bytes(
            eth
            / IP(src=TARGET, dst=SCANNER)
            / ICMP(type=3, code=3)
            / IPerror(src=SCANNER, dst=TARGET)
            / UDPerror(sport=5555, dport=161)
        ): Observation(1.0, TARGET, SCANNER, "icmp", 161, 5555, "unreach", 70, mac),
        bytes(eth / IP(src=SCANNER, dst=TARGET) / UDP(sport=1, dport=53)): Observation(
            1.0, SCANNER, TARGET, "udp", 1, 53, "", 42, mac
        ),
        bytes(eth / ARP(op=1, hwsrc=mac, psrc=SCANNER, pdst=TARGET)): Observation(
            1.0, SCANNER, TARGET, "arp", None, None, "who-has", 42, mac
        ),
        bytes(eth / tiny) + bytes(18):  # nmap -f: 8 bytes of TCP, padded: flags cut off
        Observation(1.0, SCANNER, TARGET, "tcp", 7, 22, "frag", 60, mac),
        bytes(eth / rest): Observation(1.0, SCANNER, TARGET, "ip", None, None, "fragment", 42, mac),
        bytes(eth / IP(src=SCANNER, dst=TARGET, proto=47)):  # nmap -sO: a bare IP header
        Observation(1.0, SCANNER, TARGET, "ip", None, 47, "", 34, mac),
        bytes(
            eth
            / IP(src=TARGET, dst=SCANNER)
            / ICMP(type=3, code=2)
            / IPerror(src=SCANNER, dst=TARGET, proto=47)
        ): Observation(1.0, TARGET, SCANNER, "icmp", 47, None, "unreach", 62, mac),
        bytes(eth / IP(src=SCANNER, dst=TARGET) / ICMP(type=13)): Observation(
            1.0, SCANNER, TARGET, "icmp", None, None, "timestamp", 54, mac
        ),
    }
    for frame, expected in frames.items():
        assert parse(frame, 1.0) == expected
    assert parse(bytes(Ether(type=0x86DD) / (b"\0" * 40)), 1.0) is None  # IPv6: not read
