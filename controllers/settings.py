"""The controller process's settings: written by the runtime, read by the apps."""

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

ENV = "TAPLAB_CONTROLLER_CONFIG"


@dataclass
class ControllerSettings:
    """Ports, secrets and lambda-server knobs of one controller process."""

    apps: list[str]
    workdir: str
    openflow_port: int = 6653
    api_port: int = 0
    telemetry_port: int = 0
    token_file: str = ""
    telemetry_key_file: str = ""
    sample_rate: float = 0.0  # share of IPv4 flows whose packets are copied to lambdas
    poll_interval: float = 5.0  # flow_stats / port_stats polling, seconds (>= 1)
    timer_interval: float = 1.0  # timer events, seconds
    time_limit: float = 1.0  # per lambda invocation, seconds
    memory_mb: int = 256  # per lambda worker, on top of its start-up size
    accept_v1: bool = False  # accept unauthenticated version 1 telemetry too
    mirrors: list[dict] = field(default_factory=list)
    ryu_args: list[str] = field(default_factory=list)  # --observe-links, --wsapi-port ...

    def save(self, path: Path) -> None:
        """Write the settings readable by root only (they name the secrets' files)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # also when the file existed
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> "ControllerSettings":
        return cls(**json.loads(Path(path).read_text()))


def current() -> ControllerSettings:
    """The settings of the controller process this code runs in."""
    return ControllerSettings.load(os.environ[ENV])
