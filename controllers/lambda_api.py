"""The lambda server's local HTTP/JSON API (127.0.0.1 only, bearer token).

Every request but ``GET /health`` needs ``Authorization: Bearer <token>``, the
token being the content of the root-only (0600) file named in
``lab.controller["token_file"]``. Errors are ``{"error": sentence}``
with status 400 (bad request), 401 (token) or 404 (unknown lambda or path).

    GET    /health                     {"ok": true, "pid": ..}
    GET    /lambdas                    {"lambdas": [{name, kinds, invocations, errors, ...}]}
    POST   /lambdas                    {"name": "synflood", "source": "..."}: load or replace
    DELETE /lambdas/NAME               unload
    GET    /lambdas/NAME/logs          {"name": .., "logs": [lines]}
    GET    /stats                      events received/delivered/dropped, telemetry counts,
                                       dispatch latency, per-lambda counters and queues
    GET    /actions                    {"actions": [recorded actions]}
    POST   /actions                    {"type": "Block", "src": "10.0.0.1", "seconds": 5}
    POST   /events                     {"kind": "tap", "src": .., "dst": .., "dpid": ..,
                                        "data": {..}} or {"events": [..]}: {"delivered": n}

``POST /events`` is how the taps' collector feeds ``tap`` events to lambdas.

Bounds: a connection that sends nothing for ``TIMEOUT`` seconds is closed, and
any connection still open after ``DEADLINE`` seconds (a client that trickles
its request byte by byte); at most ``MAX_CONNECTIONS`` are served at once (the
next ones get 503 at once); a body is at most 4 MiB with an exact
Content-Length; JSON nested deeper than the parser allows is a 400. Nothing a
client sends reaches the log.
"""

import collections
import hmac
import json
import os
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from taplab import lambdas
from taplab.controllers.lambda_server import LambdaServer
from taplab.controllers.lambda_worker import LambdaLoadError

ACTIONS = {
    cls.__name__: cls
    for cls in (
        lambdas.Alert,
        lambdas.Block,
        lambdas.Mirror,
        lambdas.RateLimit,
        lambdas.InstallFlow,
    )
}
MAX_BODY = 4 * 2**20
MAX_CONNECTIONS = 64
TIMEOUT = 5.0
DEADLINE = 15.0
BUSY = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n\r\n"
    b'{"error": "the API is serving too many connections: try again."}'
)
NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def action_from_json(data: dict):
    """A lambda action from {"type": "Block", ...fields}."""
    fields = dict(data)
    kind = fields.pop("type", None)
    if not isinstance(kind, str) or kind not in ACTIONS:
        raise ApiError(400, f"unknown action type {kind!r}: use one of {', '.join(ACTIONS)}.")
    try:
        return ACTIONS[kind](**fields)
    except TypeError as exc:
        raise ApiError(400, f"bad {kind} action: {exc}.") from None


class _Handler(BaseHTTPRequestHandler):
    server: "ApiServer"
    timeout = TIMEOUT

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        try:
            status, body = 200, self._route(method, self.path.rstrip("/").split("/")[1:])
        except ApiError as exc:
            status, body = exc.status, {"error": str(exc)}
        except TimeoutError:
            status, body = 408, {"error": "the request body did not arrive in time."}
        except Exception as exc:  # noqa: BLE001 - a client never gets a traceback into the log
            self.server.counts["internal_errors"] += 1
            status, body = 500, {"error": f"internal error: {type(exc).__name__}."}
        self.server.counts[f"status_{status}"] += 1
        data = json.dumps(body, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        given = (self.headers.get("Content-Length") or "0").strip()
        if not given.isascii() or not given.isdigit():
            raise ApiError(400, "Content-Length must be a number of bytes.")
        length = int(given)
        if length > MAX_BODY:
            raise ApiError(413, f"request body too large (at most {MAX_BODY} bytes).")
        data = self.rfile.read(length)
        if len(data) < length:
            raise ApiError(400, "the request body is shorter than its Content-Length.")
        try:
            body = json.loads(data or b"{}")
        except (ValueError, RecursionError):
            raise ApiError(400, "the request body is not JSON (or is nested too deep).") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object.")
        return body

    def _route(self, method: str, parts: list[str]):
        if (method, parts) == ("GET", ["health"]):
            return {"ok": True, "pid": os.getpid()}
        given = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), self.server.token.encode()):
            raise ApiError(401, "missing or wrong token: read it from the lab's token file.")
        lam: LambdaServer = self.server.lambdas
        match method, parts:
            case "GET", ["lambdas"]:
                return {"lambdas": [w.describe() for w in list(lam.workers.values())]}
            case "POST", ["lambdas"]:
                body = self._body()
                name, source = body.get("name"), body.get("source")
                if not isinstance(source, str) or not NAME.fullmatch(str(name)):
                    raise ApiError(
                        400,
                        "give the lambda's source and a name made of letters, "
                        "digits, '_', '-' and '.'.",
                    )
                try:
                    return lam.load(name, source)
                except LambdaLoadError as exc:
                    raise ApiError(400, str(exc)) from None
            case "DELETE", ["lambdas", name]:
                try:
                    lam.unload(name)
                except KeyError:
                    raise ApiError(404, f"no lambda named '{name}' is loaded.") from None
                return {"unloaded": name}
            case "GET", ["lambdas", name, "logs"]:
                if name not in lam.workers:
                    raise ApiError(404, f"no lambda named '{name}' is loaded.")
                return {"name": name, "logs": list(lam.workers[name].logs)}
            case "GET", ["stats"]:
                return {**lam.stats(), "api": dict(self.server.counts)}
            case "GET", ["actions"]:
                return {"actions": lam.actions()}
            case "POST", ["actions"]:
                return lam.apply(action_from_json(self._body()))
            case "POST", ["events"]:
                body = self._body()
                events = body["events"] if "events" in body else [body]
                if not isinstance(events, list):
                    raise ApiError(400, "events must be a list of event objects.")
                return {"delivered": sum(self._post_event(e) for e in events)}
        raise ApiError(404, f"no {method} /{'/'.join(parts)} in this API.")

    def _post_event(self, e) -> int:
        if not isinstance(e, dict):
            raise ApiError(400, "each event must be a JSON object.")
        fields = [(k, e.get(k)) for k in ("kind", "src", "dst")]
        if any(v is not None and not isinstance(v, str) for _, v in fields) or not (
            isinstance(e.get("dpid"), int | None) and isinstance(e.get("data"), dict | None)
        ):
            raise ApiError(
                400,
                "an event has a string kind, src and dst, an integer dpid and an object as data.",
            )
        try:
            return self.server.lambdas.post(
                e.get("kind", "tap"), e.get("dpid"), e.get("src"), e.get("dst"), e.get("data") or {}
            )
        except ValueError as exc:
            raise ApiError(400, f"{exc}.") from None


class ApiServer(ThreadingHTTPServer):
    """The API of one lambda server, served from a daemon thread; at most
    MAX_CONNECTIONS connections at once, each with its own thread."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, port: int, token: str, lambda_server: LambdaServer):
        super().__init__(("127.0.0.1", port), _Handler)
        self.token, self.lambdas = token, lambda_server
        self.counts: collections.Counter = collections.Counter()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._deadlines: dict[socket.socket, float] = {}
        self._guard = threading.Lock()

    def process_request(self, request, client_address) -> None:
        if not self._slots.acquire(blocking=False):
            self.counts["refused"] += 1
            try:
                request.sendall(BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        with self._guard:
            self._deadlines[request] = time.monotonic() + DEADLINE
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._guard:
                del self._deadlines[request]
            self._slots.release()

    def _close_late(self) -> None:
        """Shut down connections past their deadline (their handler then ends)."""
        while True:
            time.sleep(1.0)
            now = time.monotonic()
            with self._guard:
                late = [conn for conn, deadline in self._deadlines.items() if deadline < now]
            for conn in late:
                self.counts["too_slow"] += 1
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def handle_error(self, request, client_address) -> None:
        """A connection that fails (reset, broken pipe) is counted, not logged."""
        self.counts["connection_errors"] += 1

    def start(self) -> None:
        threading.Thread(target=self.serve_forever, name="lambda-api", daemon=True).start()
        threading.Thread(target=self._close_late, name="lambda-api-deadlines", daemon=True).start()
