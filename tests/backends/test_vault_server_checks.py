"""A Vault address that is not Vault, and plain http to another machine."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from credctl.backends.base import BackendContext
from credctl.backends.vault import from_config
from credctl.model import EnvironmentConfig
from tests.support.fixtures import project_env, vault_environment_yaml
from tests.support.projects import make_project, row
from tests.support.runner import credctl


class _WebServer(BaseHTTPRequestHandler):
    """Any web server that is not Vault: one status and an HTML page for every request."""

    status = 404

    def _answer(self) -> None:
        body = b"<html><body>Not here</body></html>"
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_LIST = _answer

    def log_message(self, *_: object) -> None:
        """Quiet."""


@pytest.fixture(params=[404, 200])
def web_server(request: pytest.FixtureRequest) -> Iterator[str]:
    handler = type("Handler", (_WebServer,), {"status": request.param})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_web_server_that_is_not_vault_is_exit_3_not_an_empty_store(
    tmp_path: Path, web_server: str
) -> None:
    project = make_project(
        tmp_path, [row()], environments={"prod": vault_environment_yaml(web_server, "prod/")}
    )
    env = {**project_env(), "VAULT_TOKEN": "some-token"}
    expected = (
        f"Error: environment prod: {web_server} is not a Vault server (its sys/health is not "
        "Vault's, and the mount cannot be found) (hint: set 'url' in environments/prod.yaml "
        "(or VAULT_ADDR) to the Vault server's address, e.g. https://vault.example.com:8200)\n"
    )
    for args in (("audit",), ("sync",), ("get", "prod/stripe/api-key")):
        result = credctl(project, *args, env=env)
        assert (result.exit_code, result.stderr) == (3, expected), args
    doctor = credctl(project, "doctor", "--format", "json", env=env)
    assert doctor.exit_code == 3
    [check] = json.loads(doctor.stdout)["checks"]
    assert (check["ok"], check["state"]) == (False, "error")
    assert "is not a Vault server" in check["message"]
    assert "plain http" not in doctor.stderr  # loopback: nothing crosses the network


@pytest.mark.integration
def test_a_real_vault_passes_the_check(tmp_path: Path, openbao: object) -> None:
    from tests.support.servers import OpenBao

    assert isinstance(openbao, OpenBao)
    project = make_project(
        tmp_path, [row()], environments={"prod": vault_environment_yaml(openbao.url, "chk/")}
    )
    result = credctl(project, "doctor", env=project_env(openbao))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("http://vault.example.com:8200", True),
        ("http://10.0.0.5:8200", True),
        ("https://vault.example.com:8200", False),
        ("http://127.0.0.1:8200", False),
        ("http://localhost:8200", False),
        ("http://[::1]:8200", False),
    ],
)
def test_plain_http_to_another_machine_is_one_warning(
    tmp_path: Path, url: str, warned: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Said when the backend is built, before any request is made."""
    monkeypatch.setenv("VAULT_TOKEN", "t")
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(f"{record.levelname.lower()}: {record.getMessage()}")

    logger = logging.getLogger("credctl")
    handler = Collect()
    logger.addHandler(handler)
    try:
        environment = EnvironmentConfig.model_validate(
            {"name": "prod", "backend": {"type": "vault", "url": url}}
        )
        from_config(environment, BackendContext(project_dir=tmp_path)).close()
    finally:
        logger.removeHandler(handler)
    expected = [
        f"warning: prod: Vault at {url} is plain http: the token and every value cross the "
        "network unencrypted; use https://"
    ]
    assert lines == (expected if warned else [])
