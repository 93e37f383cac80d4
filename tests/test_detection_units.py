"""Stealth probes, decoys, scan classes and distributed floods on synthetic streams."""

from taplab.detectors.cusum import CusumSynFlood
from taplab.detectors.observation import Observation
from taplab.detectors.packet_flood import PacketFlood
from taplab.detectors.snort_like import SnortLikeScan
from taplab.detectors.trw import ThresholdRandomWalk
from taplab.detectors.zeek_like import ZeekLikeScan

SCANNER, TARGET, DECOY, CLIENT = "10.0.0.66", "10.0.0.2", "10.0.0.7", "10.0.0.3"
MAC = {
    SCANNER: "02:00:00:00:00:66",
    TARGET: "02:00:00:00:00:02",
    DECOY: "02:00:00:00:00:07",
    CLIENT: "02:00:00:00:00:03",
}


def tcp(t, src, dst, sport, dport, flags, mac=None):
    return Observation(t, src, dst, "tcp", sport, dport, flags, 60, mac or MAC.get(src, ""))


def arp(t, src, flags="who-has"):
    return Observation(t, src, TARGET, "arp", None, None, flags, 42, MAC[src])


def feed(detector, observations, until=None):
    alerts = [a for obs in observations for a in detector.observe(obs)]
    return alerts + (detector.tick(until) if until is not None else [])


def stealth_probe(t, port, flags, answer="RA", src=SCANNER, mac=None):
    probe = [tcp(t, src, TARGET, 40000, port, flags, mac)]
    return probe + ([tcp(t + 0.001, TARGET, src, port, 40000, answer)] if answer else [])


def test_fin_probes_answered_by_rst_are_failed_probes_and_the_fourth_flags_the_source():
    trw = ThresholdRandomWalk()
    counts = [len(feed(trw, stealth_probe(i * 0.01, 1000 + i, "F"))) for i in range(6)]
    assert counts == [0, 0, 0, 1, 0, 0]
    [alert] = feed(
        ThresholdRandomWalk(), [o for i in range(4) for o in stealth_probe(i * 0.01, 1000 + i, "F")]
    )
    assert (alert.name, alert.src, alert.dst) == ("stealth-scan", SCANNER, TARGET)
    assert alert.detail.startswith("FIN probes, 1 host(s), 4 port(s)")


def test_null_xmas_maimon_and_ack_probes_count_silent_or_rejected():
    for flags, answer, technique in [
        ("", None, "NULL"),
        ("FPU", None, "Xmas"),
        ("FA", "R", "Maimon"),
        ("A", "R", "ACK/Window"),
    ]:
        trw = ThresholdRandomWalk(timeout=3.0)
        alerts = feed(
            trw,
            [o for i in range(4) for o in stealth_probe(i * 0.01, 2000 + i, flags, answer)],
            until=2.0,
        )
        assert len(alerts) == (0 if answer is None else 1), flags
        alerts += trw.tick(3.1)  # silence: open|filtered ports fail after the timeout
        assert [(a.name, a.src) for a in alerts] == [("stealth-scan", SCANNER)], flags
        assert alerts[0].detail.startswith(f"{technique} probes"), flags


def test_fragmented_probes_without_flags_are_stealth_probes_too():
    alerts = feed(
        ZeekLikeScan(port_threshold=5),
        [o for i in range(5) for o in stealth_probe(i * 0.01, 3000 + i, "frag")],
    )
    assert [(a.name, a.src) for a in alerts] == [("port-scan", SCANNER)]


def test_packets_of_known_connections_and_mid_stream_flows_are_not_probes():
    trw = ThresholdRandomWalk()
    stream = []
    for i in range(10):  # connections the sensor saw open: their ACK, PSH and FIN packets
        t, sport = i * 0.1, 50000 + i
        stream += [
            tcp(t, CLIENT, TARGET, sport, 80, "S"),
            tcp(t, TARGET, CLIENT, 80, sport, "SA"),
            tcp(t, CLIENT, TARGET, sport, 80, "A"),
            tcp(t, CLIENT, TARGET, sport, 80, "PA"),
            tcp(t, TARGET, CLIENT, 80, sport, "FA"),
            tcp(t, CLIENT, TARGET, sport, 80, "FA"),
        ]
    for i in range(10):  # long flows that started before the sensor: answered, not reset
        stream += [
            tcp(2 + i * 0.1, CLIENT, TARGET, 60000 + i, 9000 + i, "PA"),
            tcp(2 + i * 0.1, TARGET, CLIENT, 9000 + i, 60000 + i, "A"),
        ]
    assert feed(trw, stream, until=20.0) == []
    assert CLIENT in trw.cleared


def test_decoy_probes_count_for_the_interface_that_sent_them_and_decoys_are_named():
    trw = ThresholdRandomWalk()
    stream = [arp(0.0, SCANNER), arp(0.0, DECOY, "is-at")]
    for i in range(4):  # nmap -D DECOY,ME: each probe sent twice, the decoy's with its address
        t = 0.1 + i * 0.01
        stream += [
            tcp(t, DECOY, TARGET, 40000, 100 + i, "S", mac=MAC[SCANNER]),
            tcp(t, SCANNER, TARGET, 40000, 100 + i, "S"),
            tcp(t, TARGET, DECOY, 100 + i, 40000, "RA"),
            tcp(t, TARGET, SCANNER, 100 + i, 40000, "RA"),
        ]
    alerts = feed(trw, stream, until=10)
    assert [(a.name, a.src) for a in alerts] == [("vertical-scan", SCANNER)]
    assert f"decoys {DECOY} (forged by it)" in alerts[0].detail
    assert DECOY not in trw.ratio


def test_a_sweep_of_one_port_across_hosts_is_horizontal():
    trw = ThresholdRandomWalk()
    stream = [tcp(i * 0.01, SCANNER, f"10.0.1.{i}", 40000, 22, "S") for i in range(2, 6)]
    alerts = feed(trw, stream, until=5)
    assert [(a.name, a.src) for a in alerts] == [("horizontal-sweep", SCANNER)]
    assert "4 host(s), 1 port(s)" in alerts[0].detail


def test_snort_counts_rejected_stealth_probes():
    alerts = feed(
        SnortLikeScan(reject_threshold=10, port_threshold=100),
        [o for i in range(10) for o in stealth_probe(i * 0.01, 4000 + i, "FPU")],
    )
    assert [(a.name, a.src) for a in alerts] == [("portscan", SCANNER)]


def syn_stream(sources: dict, seconds: float, port=80, ports=None):
    """SYNs at the given rates per source; ports cycles through a range when given (a scan)."""
    stream = []
    for src, rate in sources.items():
        for k in range(int(rate * seconds)):
            dport = ports[k % len(ports)] if ports else port
            stream.append(tcp(k / rate, src, TARGET, 1024 + k % 60000, dport, "S", mac=""))
    return sorted(stream, key=lambda o: o.time)


def test_a_fast_syn_scan_is_not_a_flood():
    cusum = CusumSynFlood()
    assert feed(cusum, syn_stream({SCANNER: 3000}, 0.6, ports=list(range(1, 2000))), until=2) == []
    floods = feed(CusumSynFlood(), syn_stream({SCANNER: 3000}, 0.6), until=2)
    assert [(a.name, a.src) for a in floods] == [("syn-flood", SCANNER)]


def test_twenty_sources_at_100_syn_per_second_are_a_distributed_flood_with_top_sources():
    sources = {f"10.0.2.{i}": 100 for i in range(2, 22)}
    alerts = feed(CusumSynFlood(), syn_stream(sources, 3.0), until=3.2)
    assert [(a.name, a.src, a.dst) for a in alerts] == [("distributed-syn-flood", None, TARGET)]
    assert "20 sources, top 10.0.2." in alerts[0].detail
    assert alerts[0].detail.count("10.0.2.") == 5


def test_a_random_source_flood_is_charged_to_the_host_whose_interface_sent_it():
    cusum = CusumSynFlood()
    stream = [arp(0.0, SCANNER)] + [
        tcp(k / 1000, f"172.16.{k // 250}.{k % 250}", TARGET, 1000 + k, 80, "S", mac=MAC[SCANNER])
        for k in range(1000)
    ]
    alerts = feed(cusum, stream, until=1.2)
    assert [(a.name, a.src) for a in alerts] == [("syn-flood", SCANNER)]
    unbound = [
        tcp(
            k / 1000,
            f"172.16.{k // 250}.{k % 250}",
            TARGET,
            1000 + k,
            80,
            "S",
            mac="02:00:00:00:00:99",
        )
        for k in range(1000)
    ]
    alerts = feed(CusumSynFlood(), unbound, until=1.2)
    assert [(a.name, a.src) for a in alerts] == [("syn-flood", None)]


def udp(t, src, dst, sport, dport, mac=""):
    return Observation(t, src, dst, "udp", sport, dport, "", 60, mac)


def test_a_udp_flood_is_named_and_answered_queries_are_not_a_flood():
    flood = PacketFlood()
    stream = [udp(k / 2000, SCANNER, TARGET, 1000 + k, 53) for k in range(2000)]
    alerts = feed(flood, stream, until=1.1)
    assert [(a.name, a.src, a.dst) for a in alerts] == [("udp-flood", SCANNER, TARGET)]
    queries = []
    for k in range(2000):  # 2000 queries/s, each answered
        t = k / 2000
        queries += [udp(t, CLIENT, TARGET, 1000 + k, 53), udp(t, TARGET, CLIENT, 53, 1000 + k)]
    assert feed(PacketFlood(), queries, until=1.1) == []


def test_a_second_flood_after_a_silent_gap_raises_a_new_alarm():
    flood = PacketFlood()
    first = [udp(k / 2000, SCANNER, TARGET, 1000 + k, 53) for k in range(2000)]
    assert [a.name for a in feed(flood, first, until=1.1)] == ["udp-flood"]
    # two silent seconds (no UDP to TARGET at all), then twenty pods at once
    second = [udp(3.0 + k / 2000, f"10.0.2.{k % 20}", TARGET, 1000 + k, 9999) for k in range(2000)]
    alerts = feed(flood, second, until=4.1)
    assert [(a.name, a.dst) for a in alerts] == [("distributed-udp-flood", TARGET)]


def test_an_ack_flood_is_named_and_the_victims_resets_are_not_a_flood_of_its_own():
    stream = []
    for k in range(1000):
        t = k / 1000
        stream += [
            tcp(t, SCANNER, TARGET, 2000 + k, 80, "A"),
            tcp(t, TARGET, SCANNER, 80, 2000 + k, "R"),
        ]
    alerts = feed(PacketFlood(), stream, until=1.1)
    assert [(a.name, a.src, a.dst) for a in alerts] == [("ack-flood", SCANNER, TARGET)]


def test_a_long_flow_seen_mid_stream_and_a_fast_ack_scan_are_not_floods():
    backup = []
    for k in range(3000):  # one flow at 3000 packets/s that started before the sensor
        t = k / 3000
        backup += [
            tcp(t, CLIENT, TARGET, 50000, 873, "PA"),
            tcp(t, TARGET, CLIENT, 873, 50000, "A"),
        ]
    assert feed(PacketFlood(), backup, until=1.1) == []
    scan = [tcp(k / 2000, SCANNER, TARGET, 40000, 1 + k, "A") for k in range(2000)]
    assert feed(PacketFlood(), scan, until=1.1) == []


def test_an_icmp_flood_from_many_pods_is_distributed_and_a_rst_flood_from_forged_sources_is_not():
    pings = [
        Observation(k / 2000, f"10.0.2.{k % 20}", TARGET, "icmp", None, None, "echo", 84)
        for k in range(2000)
    ]
    alerts = feed(PacketFlood(), pings, until=1.1)
    assert [(a.name, a.src) for a in alerts] == [("distributed-icmp-flood", None)]
    assert "20 sources" in alerts[0].detail
    resets = [
        tcp(k / 2000, f"172.16.{k // 250}.{k % 250}", TARGET, 3000 + k, 80, "R", mac="")
        for k in range(2000)
    ]
    alerts = feed(PacketFlood(), resets, until=1.1)
    assert [(a.name, a.src) for a in alerts] == [("rst-flood", None)]


def test_a_victim_resolving_its_many_callers_makes_no_contacts():
    from taplab.detectors.fanout import FanOut

    fan_out, stream = FanOut(threshold=5), []
    for i in range(10):
        caller = f"10.0.2.{i}"
        stream += [
            tcp(i * 0.01, caller, TARGET, 5000, 80, "S", mac=""),
            Observation(i * 0.01, TARGET, caller, "arp", None, None, "who-has", 42, MAC[TARGET]),
        ]
    alerts = feed(fan_out, stream)
    assert TARGET not in {a.src for a in alerts}
    unasked = [
        Observation(i * 0.01, TARGET, f"10.0.3.{i}", "arp", None, None, "who-has", 42, MAC[TARGET])
        for i in range(5)
    ]
    assert [a.src for a in feed(fan_out, unasked)] == [TARGET]


def test_completed_handshakes_balance_a_sudden_burst_of_long_connections():
    burst, flood = [], []
    for k in range(600):  # 600 connections/s from a new client, none closed yet
        t, sport = k / 600, 10000 + k
        burst += [
            tcp(t, CLIENT, TARGET, sport, 80, "S"),
            tcp(t, TARGET, CLIENT, 80, sport, "SA"),
            tcp(t, CLIENT, TARGET, sport, 80, "A"),
        ]
        flood += [
            tcp(t, SCANNER, TARGET, sport, 80, "S"),
            tcp(t, TARGET, SCANNER, 80, sport, "SA"),
            tcp(t, SCANNER, TARGET, sport, 80, "R"),
        ]  # the flooder's kernel resets
    assert feed(CusumSynFlood(), burst, until=1.2) == []
    assert [a.src for a in feed(CusumSynFlood(), flood, until=1.2)] == [SCANNER]
    assert [a.src for a in feed(CusumSynFlood(balance=("fin",)), burst, until=1.2)] == [CLIENT]


def test_retransmitted_syns_are_no_new_attempts():
    retries = [tcp(k / 1000, CLIENT, TARGET, 10000 + k % 20, 80, "S") for k in range(1000)]
    assert feed(CusumSynFlood(), retries, until=1.2) == []


def test_an_alert_naming_no_source_scores_for_a_distributed_or_forged_attack_only():
    from taplab.detectors.catalog import Detection
    from taplab.detectors.scoring import score
    from taplab.lambdas import Alert

    swarm = {
        "kind": "distributed-syn-flood",
        "malicious": True,
        "start": 0.0,
        "end": 3.0,
        "attacker_ips": ["10.0.2.2", "10.0.2.3"],
        "targets": [TARGET],
    }
    alone = {**swarm, "kind": "syn-flood", "attacker_ips": [SCANNER]}
    anonymous = Detection(1.0, "cusum", Alert("distributed-syn-flood", src=None, dst=TARGET))
    forged = Detection(1.0, "cusum", Alert("syn-flood", src="172.16.0.9", dst=TARGET))
    assert score([anonymous], [swarm])["true_positives"] == 1
    assert score([anonymous], [swarm])["source_named"] is False
    assert score([anonymous], [alone])["false_positives"] == 1
    assert score([forged], [{**alone, "spoofed": True}])["false_positives"] == 1


def test_a_decoy_scan_is_no_flood_though_each_port_gets_a_probe_per_decoy():
    decoys = [f"10.0.5.{i}" for i in range(2, 6)] + [SCANNER]
    stream = [arp(0.0, SCANNER)] + [
        tcp(0.001 * k, src, TARGET, 40000, 1 + k, "S", mac=MAC[SCANNER])
        for k in range(600)
        for src in decoys
    ]
    assert feed(CusumSynFlood(), stream, until=1.2) == []
    unbound = [
        Observation(o.time, o.src, o.dst, o.proto, o.sport, o.dport, o.flags, 60, "")
        for o in stream[1:]
    ]
    assert feed(CusumSynFlood(), unbound, until=1.2) == []
