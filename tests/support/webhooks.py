"""A webhook receiver on loopback: records each POST, answers as the test tells it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Receiver:
    url: str
    received: dict[str, list[Any]] = field(default_factory=dict)  # path -> JSON bodies accepted
    attempts: dict[str, int] = field(default_factory=dict)  # path -> requests seen
    failures: dict[str, int] = field(
        default_factory=dict
    )  # path -> 500s still to answer (-1: always)

    def bodies(self, path: str) -> list[Any]:
        return self.received.get(path, [])


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    receiver = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            receiver.attempts[self.path] = receiver.attempts.get(self.path, 0) + 1
            left = receiver.failures.get(self.path, 0)
            if left:
                receiver.failures[self.path] = left - 1 if left > 0 else left
                self.send_response(500)
                self.end_headers()
                return
            receiver.received.setdefault(self.path, []).append(json.loads(body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
