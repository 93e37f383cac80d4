"""What the running kernel and tools can do, found by trying, cached per boot.

Each probe tries the real thing in a throwaway network namespace (``unshare
--net``), so probing changes nothing on the machine. ``taplab doctor`` prints
the result; builders, taps and test skips all consult ``available`` and
``require`` so that they agree with it.
"""

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from taplab.controllers import lambda_sandbox
from taplab.errors import UserError
from taplab.shell import run, succeeds
from taplab.state import RUN_DIR

CACHE = RUN_DIR / "capabilities.json"
PROBE_VERSION = 9
VAGRANT = "run taplab in the Vagrant VM (`vagrant up`), whose Debian kernel has it"


@dataclass(frozen=True)
class Spec:
    """A feature: how to probe it, what taplab uses without it, how to get it."""

    name: str
    what: str
    probe: Callable[[], str | None]  # returns None when it works, else the error seen
    missing: str  # why it fails, in words, when the probe fails
    fallback: str | None
    fix: str
    # for what a daemon provides: a quick check, made whenever the feature is asked
    # for, that it still runs (the cache holds for the boot, the daemon may not)
    still: Callable[[], str | None] | None = None


@dataclass
class Feature:
    name: str
    available: bool
    reason: str
    fallback: str | None
    fix: str
    detail: str = ""  # what the probe printed when it failed


def _in_scratch_netns(script: str) -> str | None:
    """Run a shell script in a throwaway network namespace; None if it succeeds."""
    proc = subprocess.run(
        ["unshare", "--net", "sh", "-ec", script],
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=30,
    )
    return None if proc.returncode == 0 else (proc.stdout.strip().splitlines() or ["failed"])[-1]


def _python_in_scratch_netns(code: str) -> str | None:
    """Run Python code (this interpreter, so bcc and pyroute2 import) in a throwaway netns."""
    proc = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", code],
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=60,
    )
    if proc.returncode == 0:
        return None
    lines = [ln for ln in proc.stdout.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "failed"


def _link(kind_args: str) -> Callable[[], str | None]:
    return lambda: _in_scratch_netns(f"ip link add probe0 {kind_args}")


def _qdisc(args: str) -> Callable[[], str | None]:
    return lambda: _in_scratch_netns(f"ip link set lo up; tc qdisc add dev lo root {args}")


def _tool(name: str) -> Callable[[], str | None]:
    return lambda: None if shutil.which(name) else f"{name} is not installed"


_BCC_PRELUDE = "from bcc import BPF\n"
_TC_BPF = (
    _BCC_PRELUDE
    + """
from pyroute2 import IPRoute
b = BPF(text="int f(struct __sk_buff *s) { return 0; }")
fn = b.load_func("f", BPF.SCHED_CLS)
ip = IPRoute(); idx = ip.link_lookup(ifname="lo")[0]
ip.tc("add", "clsact", idx)
ip.tc("add-filter", "bpf", idx, ":1", fd=fn.fd, name=fn.name, parent="ffff:fff2",
      classid=1, direct_action=True)
"""
)
_XDP = (
    _BCC_PRELUDE
    + """
import subprocess
subprocess.run(["ip", "link", "add", "pa", "type", "veth", "peer", "name", "pb"], check=True)
b = BPF(text="int f(struct xdp_md *c) { return XDP_PASS; }")
b.attach_xdp("pa", b.load_func("f", BPF.XDP), BPF.XDP_FLAGS_SKB_MODE)
"""
)
_KPROBE = (
    _BCC_PRELUDE
    + """
b = BPF(text="int f(void *ctx) { return 0; }")
b.attach_kprobe(event="tcp_v4_connect", fn_name="f")
"""
)
_TRACEPOINT = (
    _BCC_PRELUDE
    + """
BPF(text="TRACEPOINT_PROBE(sock, inet_sock_set_state) { return 0; }")
"""
)
_BCC = (
    _BCC_PRELUDE
    + """
BPF(text="int f(void *ctx) { return 0; }").load_func("f", BPF.SOCKET_FILTER)
"""
)


def _probe_ovs_kernel() -> str | None:
    if not shutil.which("ovs-dpctl"):
        return "Open vSwitch is not installed"
    dp = f"tlprobe{os.getpid() % 10000}"
    proc = subprocess.run(["ovs-dpctl", "add-dp", dp], text=True, capture_output=True)
    if proc.returncode != 0:
        return "kernel has no openvswitch module (" + proc.stderr.strip().splitlines()[-1] + ")"
    run(["ovs-dpctl", "del-dp", dp], check=False)
    return None


def _ovs_running() -> str | None:
    if not shutil.which("ovs-vsctl"):
        return "Open vSwitch is not installed"
    if not succeeds(["ovs-vsctl", "--timeout=5", "show"]):
        return "Open vSwitch is not running"
    return None


def _probe_ovs_user() -> str | None:
    if why := _ovs_running():
        return why
    br = f"tlprobe{os.getpid() % 10000}"
    try:
        run(
            [
                "ovs-vsctl",
                "--timeout=10",
                "add-br",
                br,
                "--",
                "set",
                "bridge",
                br,
                "datapath_type=netdev",
            ]
        )
        ofport = run(["ovs-vsctl", "--timeout=5", "get", "interface", br, "ofport"]).strip()
        return None if ofport not in ("-1", "[]") else "userspace datapath could not open a port"
    except Exception as exc:  # noqa: BLE001 - any failure means unavailable
        return str(exc).splitlines()[-1]
    finally:
        run(["ovs-vsctl", "--timeout=10", "--if-exists", "del-br", br], check=False)


def _py(code: str) -> Callable[[], str | None]:
    return lambda: _python_in_scratch_netns(code)


GRE_FALLBACK = "--overlay vxlan or --overlay host-gw"
GRE_ON_OVS = (
    "Open vSwitch userspace GRE ports (cluster --overlay gre, spine-leaf), or " + GRE_FALLBACK
)
SPECS = [
    Spec(
        "vxlan",
        "kernel VXLAN devices",
        _link("type vxlan id 42 dstport 4789"),
        "kernel lacks VXLAN (CONFIG_VXLAN)",
        None,
        VAGRANT,
    ),
    Spec(
        "gre",
        "kernel GRE (L3) tunnels",
        _link("type gre local 10.0.0.1 remote 10.0.0.2"),
        "kernel lacks GRE (CONFIG_NET_IPGRE)",
        GRE_ON_OVS,
        VAGRANT,
    ),
    Spec(
        "gretap",
        "kernel GRE (L2, gretap) tunnels",
        _link("type gretap local 10.0.0.1 remote 10.0.0.2"),
        "kernel lacks gretap (CONFIG_NET_IPGRE)",
        GRE_FALLBACK,
        VAGRANT,
    ),
    Spec(
        "ovs_kernel",
        "Open vSwitch kernel datapath",
        _probe_ovs_kernel,
        "kernel lacks the openvswitch module (CONFIG_OPENVSWITCH)",
        "Open vSwitch userspace datapath (datapath_type=netdev)",
        VAGRANT,
    ),
    Spec(
        "ovs_user",
        "Open vSwitch userspace datapath",
        _probe_ovs_user,
        "Open vSwitch is missing or not running",
        None,
        "run `sudo make install` (installs and starts Open vSwitch)",
        still=_ovs_running,
    ),
    Spec(
        "netem",
        "tc netem (delay, loss)",
        _qdisc("netem delay 1ms"),
        "kernel lacks netem (CONFIG_NET_SCH_NETEM)",
        "loss injected in user space by taplab's agents; no added delay",
        VAGRANT,
    ),
    Spec(
        "dummy",
        "dummy interfaces",
        _link("type dummy"),
        "kernel lacks dummy interfaces (CONFIG_DUMMY)",
        None,
        VAGRANT,
    ),
    Spec(
        "vlan",
        "802.1Q VLAN interfaces",
        lambda: _in_scratch_netns(
            "ip link add pa type veth peer name pb; ip link add link pa name probe0 type vlan id 42"
        ),
        "kernel lacks VLAN interfaces (CONFIG_VLAN_8021Q)",
        None,
        VAGRANT,
    ),
    Spec(
        "br_netfilter",
        "iptables on bridged traffic (br_netfilter)",
        lambda: _in_scratch_netns("test -e /proc/sys/net/bridge/bridge-nf-call-iptables"),
        "the br_netfilter module is not loaded, so bridged traffic skips iptables",
        "routed traffic only walks iptables",
        "run `sudo make install` (loads br_netfilter now and at boot)",
    ),
    Spec(
        "htb",
        "tc HTB rate limits",
        _qdisc("handle 1: htb"),
        "kernel lacks HTB (CONFIG_NET_SCH_HTB)",
        None,
        VAGRANT,
    ),
    Spec(
        "tc_bpf",
        "eBPF programs on tc (cls_bpf, clsact)",
        _py(_TC_BPF),
        "cannot load an eBPF program on tc",
        None,
        "run `sudo make install` (bcc, kernel headers, bpffs)",
    ),
    Spec(
        "xdp",
        "XDP programs (generic mode on veth)",
        _py(_XDP),
        "cannot attach an XDP program",
        "tc_bpf programs",
        "run `sudo make install` (bcc, kernel headers)",
    ),
    Spec(
        "kprobes",
        "kprobes for eBPF",
        _py(_KPROBE),
        "kernel lacks kprobes (CONFIG_KPROBE_EVENTS)",
        "tracepoints (tcp:*, sock:inet_sock_set_state, net:*, skb:kfree_skb)",
        VAGRANT,
    ),
    Spec(
        "tracepoints",
        "eBPF on tracepoints",
        _py(_TRACEPOINT),
        "cannot attach eBPF to tracepoints",
        None,
        "run `sudo make install` (mounts tracefs)",
    ),
    Spec(
        "bcc",
        "bcc compiles and loads eBPF",
        _py(_BCC),
        "bcc cannot compile eBPF programs",
        None,
        "run `sudo make install` (python3-bpfcc and kernel headers)",
    ),
    Spec(
        "iptables",
        "iptables in network namespaces",
        lambda: _in_scratch_netns("iptables -A INPUT -j ACCEPT"),
        "iptables does not work in a network namespace",
        None,
        "apt-get install iptables",
    ),
    Spec(
        "nftables",
        "nftables in network namespaces",
        lambda: _in_scratch_netns("nft add table ip probe"),
        "nftables does not work in a network namespace",
        None,
        "run `sudo make install`",
    ),
    Spec(
        "hping3",
        "hping3 (SYN floods)",
        _tool("hping3"),
        "hping3 is not installed",
        "scapy SYN flooder",
        "run `sudo make install`",
    ),
    Spec(
        "nmap",
        "nmap (port scans)",
        _tool("nmap"),
        "nmap is not installed",
        "scapy SYN scanner",
        "run `sudo make install`",
    ),
    Spec(
        "iperf3",
        "iperf3 (throughput)",
        _tool("iperf3"),
        "iperf3 is not installed",
        None,
        "run `sudo make install`",
    ),
    Spec(
        "ab",
        "ab (high-rate HTTP load, apache2-utils)",
        _tool("ab"),
        "ab is not installed",
        None,
        "run `sudo make install`",
    ),
    Spec(
        "tcpdump",
        "tcpdump (captures)",
        _tool("tcpdump"),
        "tcpdump is not installed",
        "scapy sniffer",
        "run `sudo make install`",
    ),
    Spec(
        "lambda_user",
        "the unprivileged user lambdas run as (taplab-lambda)",
        lambda_sandbox.user_problem,
        "the user or group taplab-lambda is missing, so no lambda can be loaded",
        None,
        "run `sudo make install` (creates the user and group taplab-lambda)",
    ),
    Spec(
        "lambda_limits",
        "memory, task and CPU limits on lambda workers (cgroup v2)",
        lambda_sandbox.limits_problem,
        "cgroup v2 lacks the memory, pids or cpu controller for taplab's cgroup",
        "per-process limits (address space, 64 tasks) and CPU use watched",
        "boot with cgroup v2 only (Debian 12's default), or " + VAGRANT,
    ),
]
SPECS_BY_NAME = {spec.name: spec for spec in SPECS}


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return str(uuid.getnode())


def probe(spec: Spec) -> Feature:
    """Probe one feature now (needs root)."""
    try:
        why = spec.probe()
    except Exception as exc:  # noqa: BLE001 - a crashing probe means unavailable
        why = str(exc).splitlines()[-1] if str(exc) else type(exc).__name__
    return Feature(spec.name, True, "works", None, "") if why is None else _missing(spec, why)


def _missing(spec: Spec, why: str) -> Feature:
    return Feature(spec.name, False, spec.missing, spec.fallback, spec.fix, detail=why)


def probe_all() -> dict[str, Feature]:
    """Probe every feature now (needs root)."""
    return {spec.name: probe(spec) for spec in SPECS}


def features(refresh: bool = False) -> dict[str, Feature]:
    """All features, from the per-boot cache when it is there and current."""
    if not refresh:
        try:
            cached = json.loads(CACHE.read_text())
            if cached["boot_id"] == _boot_id() and cached["version"] == PROBE_VERSION:
                return {n: Feature(**f) for n, f in cached["features"].items()}
        except (OSError, ValueError, KeyError, TypeError):
            pass
    if os.geteuid() != 0:
        raise UserError("probing the kernel needs root: run it with sudo.")
    result = probe_all()
    _save(result)
    return result


def _save(result: dict[str, Feature]) -> None:
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    CACHE.write_text(
        json.dumps(
            {
                "boot_id": _boot_id(),
                "version": PROBE_VERSION,
                "features": {n: asdict(f) for n, f in result.items()},
            }
        )
    )


_rechecked: set[str] = set()


def feature(name: str) -> Feature:
    """The feature, as cached; one that was missing is probed again once per process,
    since it may work now (Open vSwitch started, a tool installed since), and one a
    daemon provides is checked to still run."""
    known, spec = features(), SPECS_BY_NAME[name]
    if known[name].available:
        gone = spec.still() if spec.still else None
        return known[name] if gone is None else _missing(spec, gone)
    if name in _rechecked or os.geteuid() != 0:
        return known[name]
    _rechecked.add(name)
    now = probe(spec)
    if now.available:
        _save({**known, name: now})
    return now


def available(name: str) -> bool:
    return feature(name).available


def unavailable_reason(name: str) -> str:
    """One sentence: what is missing, why, and how to get it (or what to use)."""
    f = feature(name)
    text = f"{SPECS_BY_NAME[name].what} unavailable: {f.reason}; {f.fix}"
    return text + (f", or use {f.fallback}." if f.fallback else ".")


def require(name: str) -> None:
    """Raise a UserError naming the fix unless feature name is available."""
    if not available(name):
        raise UserError(unavailable_reason(name))
