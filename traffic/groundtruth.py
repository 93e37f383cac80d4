"""Ground truth: what every generator run did, written as JSON so detection can be scored.

One file per run, ``<kind>-<start ns>.json``, in the lab's workdir under
``groundtruth/`` and in the folder the user chose (``--out``)::

    {"kind": "syn-flood", "malicious": true, "attacker": "pod1",
     "attacker_ips": ["10.244.1.2"], "targets": ["10.244.1.3"], "ports": [80],
     "start": 1700000000.1, "end": 1700000003.2, "rate": 1000, "rate_unit": "SYN/s",
     "tool": "hping3", "command": "hping3 -S ...", "spoofed": false, "details": {...}}
"""

import ipaddress
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from taplab.errors import UserError
from taplab.measure import node_ip


@dataclass
class GroundTruth:
    kind: str
    malicious: bool
    attacker: str
    attacker_ips: list[str]
    targets: list[str]
    ports: list[int]
    tool: str
    command: str
    rate: float | None = None
    rate_unit: str = ""
    start: float = field(default_factory=time.time)
    end: float | None = None
    spoofed: bool = False
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def folder(lab) -> Path:
    return lab.workdir / "groundtruth"


def write(lab, truth: GroundTruth, out: str | Path | None = None) -> list[Path]:
    """Write truth into the lab's ground-truth folder and into out; the files written."""
    if truth.end is None:
        truth.end = time.time()
    name = f"{truth.kind}-{int(truth.start * 1e9)}.json"
    paths = []
    for base in (folder(lab), Path(out) if out else None):
        if base is None:
            continue
        base.mkdir(parents=True, exist_ok=True)
        (base / name).write_text(json.dumps(truth.as_dict(), indent=2))
        paths.append(base / name)
    return paths


def load(path: str | Path) -> list[dict]:
    """Every ground-truth record in a folder, oldest first."""
    records = [json.loads(p.read_text()) for p in Path(path).glob("*.json")]
    return sorted(records, key=lambda r: r["start"])


def resolve(lab, spec: str, limit: int = 4096) -> list[str]:
    """Addresses for a node name, an IPv4 address or a CIDR block (its hosts)."""
    if spec in lab.nodes:
        return [node_ip(lab, spec)]
    try:
        net = ipaddress.ip_network(spec, strict=False)
    except ValueError:
        nodes = ", ".join(sorted(lab.nodes))
        raise UserError(
            f"'{spec}' is neither a node ({nodes}) nor an IPv4 address or CIDR block."
        ) from None
    if net.num_addresses > limit:
        raise UserError(f"{spec} has {net.num_addresses} addresses: give at most {limit}.")
    hosts = [str(a) for a in (net.hosts() if net.num_addresses > 1 else [net.network_address])]
    return hosts
