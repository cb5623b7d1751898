"""The test infrastructure itself: guard, servers, proxy."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import netguard
from tests.support.projects import make_project
from tests.support.proxy import Proxy
from tests.support.runner import credctl
from tests.support.servers import MotoServer, OpenBao


def test_guard_refuses_non_loopback_connections() -> None:
    before = len(netguard.attempts)
    with (
        pytest.raises(netguard.NetworkGuardError),
        socket.create_connection(("192.0.2.1", 443), timeout=1),
    ):
        pass
    with pytest.raises(netguard.NetworkGuardError):
        socket.getaddrinfo("secretsmanager.us-east-1.amazonaws.com", 443)
    del netguard.attempts[before:]  # expected here; other tests must not do this


def test_guard_is_active_in_credctl_subprocesses(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    probe = "import socket; socket.create_connection(('192.0.2.1', 443), timeout=1)"
    result = credctl(project, "--version")
    assert result.exit_code == 0
    import os
    import subprocess
    import sys

    from tests.support.runner import REPO

    env = {**os.environ, "PYTHONPATH": f"{REPO}/tests/support/guard{os.pathsep}{REPO}"}
    completed = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False
    )
    assert completed.returncode != 0
    assert "network guard" in completed.stderr


@pytest.mark.integration
def test_moto_server_answers(moto_server: MotoServer) -> None:
    client = moto_server.client()
    client.create_secret(Name="infra/probe", SecretString="x")
    assert client.get_secret_value(SecretId="infra/probe")["SecretString"] == "x"
    client.delete_secret(SecretId="infra/probe", ForceDeleteWithoutRecovery=True)


@pytest.mark.integration
def test_openbao_answers(openbao: OpenBao) -> None:
    openbao.bao("kv", "put", "-mount=secret", "infra/probe", "value=x")
    client = openbao.client()
    read = client.secrets.kv.v2.read_secret_version(
        path="infra/probe", mount_point="secret", raise_on_deleted_version=True
    )
    assert read["data"]["data"] == {"value": "x"}


@pytest.mark.integration
def test_proxy_delays_counts_and_cuts(moto_server: MotoServer, proxy: Callable[..., Proxy]) -> None:
    through = proxy(moto_server.url, delay=0.05)
    for _ in range(3):
        with urllib.request.urlopen(through.url + "/moto-api/", timeout=5):
            pass
    assert through.delayed == pytest.approx(0.15)
    assert through.requests == 3
    through.fail_when(lambda head: b"/moto-api/" in head)
    with pytest.raises(OSError):
        urllib.request.urlopen(through.url + "/moto-api/", timeout=5)
    assert through.dropped == 1


def test_the_in_process_runner_puts_back_what_a_run_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging
    import os

    project = make_project(tmp_path / "project")
    monkeypatch.setenv("CREDCTL_ACTOR", "a user's setting, not seen by the run")
    folder, variables = os.getcwd(), dict(os.environ)
    logger = logging.getLogger("credctl")
    level, handlers = logger.level, list(logger.handlers)
    result = credctl(project, "-vv", "validate", env={"EXTRA": "1"})
    assert result.exit_code == 0, result.output
    assert "debug: project" in result.stderr  # -vv reached the log handler on the run's stderr
    assert (os.getcwd(), dict(os.environ)) == (folder, variables)
    assert (logger.level, logger.handlers) == (level, handlers)


def test_the_in_process_runner_refuses_what_would_end_pytest(tmp_path: Path) -> None:
    from tests.support.runner import ExecRefused

    project = make_project(tmp_path)
    assert credctl(project, "set", "prod/stripe/api-key", input="x").exit_code == 0
    with pytest.raises(ExecRefused, match="credctl_process"):
        credctl(project, "run", "--env", "prod", "--", "true")
    with pytest.raises(ExecRefused, match="credctl_process"):
        credctl(project, "set", "prod/stripe/api-key", input="x", env={"CRASH_AT_WRITE": "1"})
