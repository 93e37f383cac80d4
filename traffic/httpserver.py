"""An HTTP server answering 200, or 500 for a set share of requests.

    python -m taplab.traffic.httpserver --port 80 --error-ratio 0.1

Threaded, HTTP/1.1 with keep-alive; prints ``# ready`` once listening.
"""

import argparse
import random
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def handler(error_ratio: float, rng: random.Random) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 - http.server's naming
            status = 500 if rng.random() < error_ratio else 200
            body = b"error\n" if status == 500 else b"ok\n"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--error-ratio", type=float, default=0.0, help="share of 500s, 0..1")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    server = ThreadingHTTPServer(
        ("0.0.0.0", args.port), handler(args.error_ratio, random.Random(args.seed))
    )
    server.daemon_threads = True
    print("# ready", flush=True, file=sys.stdout)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
