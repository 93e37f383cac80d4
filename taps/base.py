"""One interface for every tap kind: attach, live counters, detach.

A tap is described by a record kept in the lab's meta (``meta["taps"][id]``),
so ``taplab tap stats`` or ``detach`` in another process can rebuild it. Every
resource a tap creates goes both into the lab (removed with the lab, by
``taplab clean`` too) and into the tap's record (removed by ``detach``)::

    @tap_kind
    class PcapTap(Tap):
        kind = "pcap"
        def attach(self): self.start(["tcpdump", ...])
        def counters(self): return {"packets": ..., "bytes": ..., "drops": ...}
"""

import json
import os
import sys
import time
from pathlib import Path
from subprocess import Popen
from typing import Any, ClassVar

from taplab import ready
from taplab.errors import UserError
from taplab.procs import ProcessId
from taplab.resources import Resource, remove
from taplab.taps import vxlan
from taplab.taps.procstat import cpu_seconds, rss_mb
from taplab.taps.target import Target

KINDS: dict[str, type["Tap"]] = {}


def compile_bpf(source: str, **defines: Any):
    """bcc's BPF for taps/<source> with a -D per define (flow_key.h on the include path)."""
    from bcc import BPF

    folder = Path(__file__).parent
    return BPF(
        src_file=str(folder / source),
        cflags=[f"-I{folder}", *(f"-D{k}={v}" for k, v in defines.items())],
    )


def prog_id(fd: int) -> int:
    """The kernel's id of the BPF program behind fd (``bpftool prog show id N``)."""
    with open(f"/proc/self/fdinfo/{fd}") as f:
        for line in f:
            if line.startswith("prog_id:"):
                return int(line.split()[1])
    raise LookupError(f"fd {fd} is not a BPF program")


def become_reader(bpf, fn, maps: tuple[str, ...], extra: tuple[str, ...] = ()) -> None:
    """Replace this loader (exec, same process) with ``python -m <its module> <its
    arguments> <extra> --prog-id ID --maps FD,...``: the reader inherits the maps'
    descriptors and leaves the compiler behind."""
    fds = [bpf[name].map_fd for name in maps]
    for fd in fds:
        os.set_inheritable(fd, True)
    module = sys.modules["__main__"].__spec__.name
    os.execv(
        sys.executable,
        [
            sys.executable,
            "-m",
            module,
            *sys.argv[1:],
            *extra,
            "--prog-id",
            str(prog_id(fn.fd)),
            "--maps",
            ",".join(map(str, fds)),
        ],
    )


def load_or_read(parser, load, read, maps: str) -> None:
    """The command line of a tap process that loads its program, then becomes its
    reader (become_reader): adds --stats, --maps (described by maps) and --prog-id, then
    calls read(args) when given --maps, else load(args)."""
    parser.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--maps", help=maps)
    parser.add_argument("--prog-id", type=int, help="the attached program's id (with --maps)")
    args = parser.parse_args()
    (read if args.maps else load)(args)


def write_stats(path: Path, data: dict[str, Any]) -> None:
    """Replace a tap process's counters file atomically (readers never see half)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def tap_kind(cls: type["Tap"]) -> type["Tap"]:
    """Register a Tap subclass under its ``kind``."""
    KINDS[cls.kind] = cls
    return cls


class Tap:
    """A tap of one kind on one interface of a lab node."""

    kind: ClassVar[str]
    needs: ClassVar[tuple[str, ...]] = ()  # capabilities (taplab.capabilities)
    host_side: ClassVar[bool] = False  # on a pod's host-side veth rather than in the pod
    mirrors: ClassVar[bool] = False  # sends copies to a collector over VXLAN
    sees: ClassVar[str] = "both"  # directions counted: "both" or "from-pod"

    def __init__(self, lab, record: dict[str, Any]):
        self.lab = lab
        self.record = record

    @property
    def id(self) -> str:
        return self.record["id"]

    @property
    def target(self) -> Target:
        return Target(**self.record["target"])

    @property
    def options(self) -> dict[str, Any]:
        return self.record["options"]

    @property
    def stats_path(self) -> Path:
        return self.lab.workdir / f"{self.id}.json"

    # -- resources -----------------------------------------------------------
    def add(self, resource: Resource) -> Resource:
        """Record a resource in the lab and in this tap, right after creating it."""
        self.lab.record(resource)
        self.record["resources"].append(resource)
        return resource

    def add_vxlan_device(self, name: str) -> None:
        """A kernel VXLAN device in the tap's node sending to the collector (recorded)."""
        self.sh(
            "ip",
            "link",
            "add",
            name,
            "type",
            "vxlan",
            "id",
            str(self.options["vni"]),
            "remote",
            self.record["collector_ip"],
            "dstport",
            str(vxlan.PORT),
            "nolearning",
        )
        self.add({"kind": "link", "name": name, "netns": self.target.netns})
        self.sh("ip", "link", "set", name, "up")

    def sh(self, *argv: str) -> str:
        return self.lab.sh(self.target.node, list(argv))

    def start(self, argv: list[str], in_node: bool = True) -> Popen:
        """Start a process in the tap's node, or in the root namespace (recorded in
        the lab and in the tap)."""
        node = self.target.node if in_node else None
        proc = self.lab.popen(argv, node=node, log=self.log.name)
        self.record["pids"].append(proc.pid)
        try:
            started = ProcessId.of(proc.pid).started
        except ProcessLookupError:
            raise UserError(
                f"{self.kind} tap process exited at once: {ready.last_lines(self.log)}"
            ) from None
        self.record["resources"].append(
            {"kind": "process", "pid": proc.pid, "started": started, "grace": 3.0}
        )
        return proc

    def wait_ready(self, proc: Popen, timeout: float = 60) -> None:
        """Wait until the tap's process has written its first counters."""
        ready.wait(proc, self.log, f"the {self.kind} tap", self.stats_path.exists, timeout)

    @property
    def log(self) -> Path:
        """What the tap's processes print."""
        return self.lab.workdir / f"{self.id}.log"

    def read_stats_file(self) -> dict[str, Any]:
        try:
            return json.loads(self.stats_path.read_text())
        except (OSError, ValueError):
            return {}

    def counters_from_file(self, *extra: str) -> dict[str, Any]:
        """Counters of a tap whose process writes them: packets, bytes, drops and extra."""
        data = self.read_stats_file()
        return {
            "packets": data.get("packets", 0),
            "bytes": data.get("bytes", 0),
            "drops": data.get("drops", 0),
            **{k: data[k] for k in (*extra, "prog_id") if k in data},
        }

    # -- the interface -------------------------------------------------------
    def attach(self) -> None:
        raise NotImplementedError

    def counters(self) -> dict[str, Any]:
        """At least packets, bytes and drops seen by the tap since it was attached."""
        raise NotImplementedError

    def detach(self) -> None:
        for resource in reversed(self.record["resources"]):
            remove(resource)
        self.stats_path.unlink(missing_ok=True)

    def stats(self) -> dict[str, Any]:
        """Counters plus the CPU (average since attached, start-up excluded) and memory
        of the tap's processes."""
        pids = self.record["pids"]
        elapsed = max(time.time() - self.record["attached"], 1e-6)
        return {
            "id": self.id,
            "kind": self.kind,
            "node": self.target.node,
            "intf": self.target.intf,
            **self.counters(),
            "cpu_pct": round(100 * (cpu_seconds(pids) - self.record["cpu_at_attach"]) / elapsed, 2),
            "mem_mb": round(rss_mb(pids), 1),
        }
