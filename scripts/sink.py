"""A webhook target for trying Dockhook out: ``python scripts/sink.py [--port 9000] [--status 200]``.

Prints one line per webhook it receives (its webhook-id, event type, repository and tags) and answers
``--status`` (200 by default; try 503 to watch retries). Listens on 127.0.0.1 only. Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1024 * 1024


def describe(body: bytes) -> str:
    """``PUSH_ARTIFACT library/alpine:3.19`` for a Dockhook (Harbor) payload, else the body's size."""
    try:
        payload = json.loads(body)
        data = payload["event_data"]
        tags = ",".join(str(r.get("tag") or r.get("digest", "")) for r in data.get("resources", []))
        return f"{payload['type']} {data['repository']['repo_full_name']}:{tags}"
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"{len(body)} bytes"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--status", type=int, default=200, help="the HTTP status to answer (default 200)")
    args = parser.parse_args(argv)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
            body = self.rfile.read(length)
            print(f"sink: webhook {self.headers.get('webhook-id', '-')}: {describe(body)}", flush=True)
            self.send_response(args.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *values: object) -> None:  # one line per webhook is enough
            return

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"sink: listening on http://127.0.0.1:{server.server_port}/, answering {args.status}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
