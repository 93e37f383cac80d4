"""Talks to a running lab's lambda server over its HTTP API (see ``lambda_api``)."""

import json
import urllib.error
import urllib.request
from pathlib import Path

from taplab.controllers.lambda_worker import LambdaLoadError, compile_lambda
from taplab.errors import UserError


class ControllerClient:
    """The lambda server of one lab: URL and token from ``lab.controller``."""

    def __init__(self, url: str, token: str, lab_id: str = ""):
        self.url, self.token, self.lab_id = url, token, lab_id

    @classmethod
    def for_lab(cls, lab) -> "ControllerClient":
        meta = lab.controller
        if not lab.has_lambda_server:
            raise UserError(
                f"lab {lab.id} runs no lambda server: start it with --switch ovs "
                "and the default controller apps."
            )
        return cls(meta["api_url"], Path(meta["token_file"]).read_text().strip(), lab.id)

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read())["error"]
            except (ValueError, KeyError):
                message = f"HTTP {exc.code}"
            raise UserError(message) from None
        except OSError as exc:
            raise UserError(
                f"the lambda server of lab {self.lab_id} does not answer at {self.url} ({exc})."
            ) from None

    def load(self, name: str, source: str) -> dict:
        """Load (or replace) a lambda: its name and the kinds of event it handles."""
        return self.request("POST", "/lambdas", {"name": name, "source": source})

    def load_file(self, path: str | Path) -> dict:
        """Load (or replace) the lambda in a file; its name is the file's stem."""
        return self.load(*read_lambda_file(path))

    def unload(self, name: str) -> dict:
        return self.request("DELETE", f"/lambdas/{name}")

    def lambdas(self) -> list[dict]:
        """The loaded lambdas with their kinds and counters."""
        return self.request("GET", "/lambdas")["lambdas"]

    def logs(self, name: str) -> list[str]:
        """What a lambda logged (and its tracebacks), oldest first."""
        return self.request("GET", f"/lambdas/{name}/logs")["logs"]

    def stats(self) -> dict:
        """Events received, delivered and dropped, telemetry, latency, per-lambda counters."""
        return self.request("GET", "/stats")

    def actions(self) -> list[dict]:
        """Every action applied so far (lambdas' and the API's), oldest first."""
        return self.request("GET", "/actions")["actions"]

    def apply(self, action: dict) -> dict:
        """Apply an action given as ``{"type": "Block", "src": ..., ...}``."""
        return self.request("POST", "/actions", action)

    def post_events(self, events: list[dict]) -> int:
        """Deliver events (``{"kind": "tap", "src": ..., "data": {...}}``); how many went."""
        return self.request("POST", "/events", {"events": events})["delivered"]


def read_lambda_file(path: str | Path) -> tuple[str, str]:
    """A lambda file's name and source; UserError if unreadable or not valid Python."""
    path = Path(path)
    try:
        source = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(
            f"cannot read lambda file {path}: {getattr(exc, 'strerror', exc)}."
        ) from None
    try:
        compile_lambda(str(path), source)
    except LambdaLoadError as exc:
        raise UserError(str(exc)) from None
    return path.stem, source


def load_lambdas(lab, files: list[tuple[str, str]]) -> None:
    """Load (name, source) lambdas into a lab's lambda server."""
    client = ControllerClient.for_lab(lab) if files else None
    for name, source in files:
        client.load(name, source)
