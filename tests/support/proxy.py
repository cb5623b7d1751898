"""A loopback TCP proxy that adds latency and cuts connections on demand.

Put it between credctl and a real server to simulate a distant endpoint
(`delay` seconds added to each request/response round trip) or a backend
that fails mid-way (`fail_when` drops the connection of matching requests;
`answer_when` answers matching requests with an HTTP status itself, such as
429 or 503, without forwarding them; `down` drops every new request; `fault_at`
fails the k-th request: dropped before it reaches the store, its answer lost
after the store applied it, or the store down from it on). HTTP/1.1 keep-alive
is understood just enough to tell requests apart: a request starts when the
client sends after the server last answered.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Literal
from urllib.parse import urlsplit

HEAD_END = b"\r\n\r\n"
# drop: the request never reaches the store; lose-answer: the store applies it and the
# answer is dropped; down: that request and every later one never reach the store
Fault = Literal["drop", "lose-answer", "down"]
FAULTS: tuple[Fault, ...] = ("drop", "lose-answer", "down")


class Proxy:
    def __init__(self, target_url: str, delay: float = 0.0) -> None:
        parts = urlsplit(target_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.delay = delay
        self.down = False
        self.requests = 0  # forwarded to the server
        self.seen = 0  # every request that arrived, forwarded or not
        self.dropped = 0
        self.delayed = 0.0  # seconds of delay added so far (what the tests check, not a clock)
        self.lost = 0  # answers dropped after the server applied the request
        self.log: list[str] = []  # each request that arrived, named by `describe`
        self._fault: tuple[Fault, int] | None = None
        self._predicates: list[Callable[[bytes], bool]] = []
        self._answers: list[_Answer] = []
        self.answered = 0
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(256)
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._sockets: set[socket.socket] = set()
        self._stopped = threading.Event()

    def start(self) -> Proxy:
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for sock in list(self._sockets):
                _close(sock)
            self._sockets.clear()

    def fail_when(self, predicate: Callable[[bytes], bool]) -> None:
        """Drop, without an answer, the connection of each request whose head matches."""
        self._predicates.append(predicate)

    def answer_when(
        self, predicate: Callable[[bytes], bool], status: int, times: int | None = None
    ) -> None:
        """Answer `status` to the first `times` (default: every) requests whose head matches."""
        self._answers.append(_Answer(predicate, status, times))

    def fault_at(self, kind: Fault, index: int) -> None:
        """Fail the `index`-th request from now on (1-based) the way `kind` says."""
        with self._lock:
            self._fault = (kind, self.seen + index)

    def clear_faults(self) -> None:
        self._predicates.clear()
        self._answers.clear()
        self.down = False
        with self._lock:
            self._fault = None

    def _arrived(self, head: bytes) -> Fault | None:
        """Count a request that arrived; the fault it meets, if any."""
        with self._lock:
            self.seen += 1
            self.log.append(describe(head))
            if self._fault is None:
                return None
            kind, index = self._fault
            if self.seen == index or (kind == "down" and self.seen > index):
                return kind
            return None

    def _answer_for(self, head: bytes) -> int | None:
        with self._lock:
            for answer in self._answers:
                if (answer.left is None or answer.left > 0) and answer.predicate(head):
                    if answer.left is not None:
                        answer.left -= 1
                    self.answered += 1
                    return answer.status
        return None

    # ---------------------------------------------------------------- internals

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _serve(self, client: socket.socket) -> None:
        self._track(client)
        try:
            upstream = socket.create_connection(self.target, timeout=30)
        except OSError:
            _close(client)
            return
        self._track(upstream)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        state = {"new_request": True, "lose_answer": False}
        threading.Thread(
            target=self._pump_back, args=(upstream, client, state), daemon=True
        ).start()
        self._pump_forward(client, upstream, state)

    def _pump_forward(
        self, client: socket.socket, upstream: socket.socket, state: dict[str, bool]
    ) -> None:
        try:
            while True:
                chunk = client.recv(65536)
                if not chunk:
                    break
                if state["new_request"]:
                    while HEAD_END not in chunk and len(chunk) < 65536:
                        more = client.recv(65536)
                        if not more:
                            break
                        chunk += more
                    head = chunk.split(HEAD_END, 1)[0]
                    fault = self._arrived(head)
                    if (
                        self.down
                        or fault in ("drop", "down")
                        or any(predicate(head) for predicate in list(self._predicates))
                    ):
                        self.dropped += 1
                        break
                    state["lose_answer"] = fault == "lose-answer"
                    status = self._answer_for(head)
                    if status is not None:
                        _read_body(client, chunk, head)
                        client.sendall(_response(status))
                        break
                    state["new_request"] = False
                    self.requests += 1
                    if self.delay:
                        self.delayed += self.delay
                        time.sleep(self.delay)
                upstream.sendall(chunk)
        except OSError:
            pass
        finally:
            _close(client)
            _close(upstream)

    def _pump_back(
        self, upstream: socket.socket, client: socket.socket, state: dict[str, bool]
    ) -> None:
        try:
            while True:
                chunk = upstream.recv(65536)
                if not chunk:
                    break
                if state["lose_answer"]:
                    self.lost += 1  # the server has answered, so it applied the request
                    break
                state["new_request"] = True
                client.sendall(chunk)
        except OSError:
            pass
        finally:
            _close(client)
            _close(upstream)


class _Answer:
    def __init__(self, predicate: Callable[[bytes], bool], status: int, left: int | None) -> None:
        self.predicate = predicate
        self.status = status
        self.left = left


def describe(head: bytes) -> str:
    """A request in a few words: `PutSecretValue` (AWS), `POST /v1/secret/data/x` (Vault)."""
    lines = head.decode("latin-1").split("\r\n")
    for line in lines[1:]:
        key, _, text = line.partition(":")
        if key.strip().lower() == "x-amz-target":
            return text.strip().rpartition(".")[2]
    method, _, rest = lines[0].partition(" ")
    return f"{method} {rest.partition(' ')[0].partition('?')[0]}"


def _read_body(client: socket.socket, chunk: bytes, head: bytes) -> None:
    """Take in the rest of the request, so that closing after the answer sends no reset."""
    length = 0
    for line in head.split(b"\r\n")[1:]:
        key, _, text = line.partition(b":")
        if key.strip().lower() == b"content-length":
            length = int(text.strip() or 0)
    received = len(chunk) - len(head) - len(HEAD_END)
    while received < length:
        more = client.recv(65536)
        if not more:
            return
        received += len(more)


def _response(status: int) -> bytes:
    reason = HTTPStatus(status).phrase
    body = json.dumps({"errors": [f"{status} {reason.lower()} (from the test proxy)"]}).encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
