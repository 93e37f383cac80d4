"""The lambda server's local HTTP/JSON API (127.0.0.1 only, bearer token).

Every request but ``GET /health`` needs ``Authorization: Bearer <token>``, the
token being the content of the root-only (0600) file named in
``lab.meta["controller"]["token_file"]``. Errors are ``{"error": sentence}``
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
"""

import hmac
import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from taplab.controllers.lambda_server import LambdaServer
from taplab.controllers.lambda_worker import LambdaLoadError

from taplab import lambdas

ACTIONS = {cls.__name__: cls for cls in (lambdas.Alert, lambdas.Block, lambdas.Mirror,
                                         lambdas.RateLimit, lambdas.InstallFlow)}
MAX_BODY = 4 * 2**20
NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def action_from_json(data: dict):
    """A lambda action from {"type": "Block", ...fields}."""
    fields = dict(data)
    kind = fields.pop("type", None)
    if kind not in ACTIONS:
        raise ApiError(400, f"unknown action type {kind!r}: use one of {', '.join(ACTIONS)}.")
    try:
        return ACTIONS[kind](**fields)
    except TypeError as exc:
        raise ApiError(400, f"bad {kind} action: {exc}.") from None


class _Handler(BaseHTTPRequestHandler):
    server: "ApiServer"

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
        data = json.dumps(body, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ApiError(400, "request body too large.")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            raise ApiError(400, "the request body is not JSON.") from None
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
                    raise ApiError(400, "give the lambda's source and a name made of letters, "
                                        "digits, '_', '-' and '.'.")
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
                return lam.stats()
            case "GET", ["actions"]:
                return {"actions": lam.actions()}
            case "POST", ["actions"]:
                return lam.apply(action_from_json(self._body()))
            case "POST", ["events"]:
                body = self._body()
                events = body["events"] if "events" in body else [body]
                return {"delivered": sum(self._post_event(e) for e in events)}
        raise ApiError(404, f"no {method} /{'/'.join(parts)} in this API.")

    def _post_event(self, e) -> int:
        if not isinstance(e, dict):
            raise ApiError(400, "each event must be a JSON object.")
        try:
            return self.server.lambdas.post(e.get("kind", "tap"), e.get("dpid"), e.get("src"),
                                            e.get("dst"), e.get("data") or {})
        except ValueError as exc:
            raise ApiError(400, f"{exc}.") from None


class ApiServer(ThreadingHTTPServer):
    """The API of one lambda server, served from a daemon thread."""

    daemon_threads = True

    def __init__(self, port: int, token: str, lambda_server: LambdaServer):
        super().__init__(("127.0.0.1", port), _Handler)
        self.token, self.lambdas = token, lambda_server

    def start(self) -> None:
        threading.Thread(target=self.serve_forever, name="lambda-api", daemon=True).start()
