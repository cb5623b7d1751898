"""TLS to Vault: ca_cert / VAULT_CACERT verify a real OpenBao `-dev-tls` server; turning
verification off says so once, on one line, without urllib3's own warning."""

from __future__ import annotations

import json
import secrets
import ssl
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from credctl.backends.base import BackendContext
from credctl.backends.pool import open_backend
from credctl.backends.vault import VaultBackend
from credctl.model import EnvironmentConfig
from tests.support.fixtures import project_env
from tests.support.projects import make_project, row
from tests.support.runner import credctl
from tests.support.servers import OpenBao, bao_binary, free_port

pytestmark = pytest.mark.integration


def _wait_for_tls_kv(url: str, token: str, ca: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"bao -dev-tls exited early ({process.returncode})")
        if ca.is_file():
            context = ssl.create_default_context(cafile=str(ca))
            request = urllib.request.Request(
                url + "/v1/sys/mounts", headers={"X-Vault-Token": token}
            )
            try:
                with urllib.request.urlopen(request, timeout=2, context=context) as response:
                    if "secret/" in json.load(response).get("data", {}):
                        return
            except OSError:
                pass
        time.sleep(0.05)
    raise RuntimeError("OpenBao -dev-tls server did not come up with a secret/ mount")


@pytest.fixture(scope="module")
def tls_openbao() -> Iterator[tuple[OpenBao, Path]]:
    """An OpenBao dev server on https with its own generated CA; stopped after."""
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    token = "root-" + secrets.token_hex(12)
    home = Path(tempfile.mkdtemp(prefix="credctl-bao-tls-"))
    certs = home / "certs"
    certs.mkdir()
    log = home / "server.log"
    with log.open("wb") as stream:
        process = subprocess.Popen(
            [
                bao_binary(),
                "server",
                "-dev",
                "-dev-tls",
                f"-dev-tls-cert-dir={certs}",
                f"-dev-listen-address=127.0.0.1:{port}",
                f"-dev-root-token-id={token}",
                "-dev-no-store-token",
            ],
            stdout=stream,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        )
    ca = certs / "vault-ca.pem"
    server = OpenBao(
        url=url,
        process=process,
        log=log,
        token=token,
        env={"BAO_CACERT": str(ca)},
    )
    try:
        _wait_for_tls_kv(url, token, ca, process)
        yield server, ca
    finally:
        server.stop()


def tls_project(tmp_path: Path, server: OpenBao, prefix: str, extra: str) -> Path:
    for service, value in (("stripe", "v-stripe"), ("twilio", "v-twilio"), ("mailgun", "v-mail")):
        server.bao("kv", "put", "-mount=secret", f"{prefix}{service}/api-key", f"value={value}")
    environment = (
        f"backend: {{type: vault, url: '{server.url}', path_prefix: '{prefix}'{extra}}}\n"
        "concurrency: 4\n"
    )
    return make_project(
        tmp_path,
        [row(service=s) for s in ("Stripe", "Twilio", "Mailgun")],
        environments={"prod": environment},
    )


def env_for(server: OpenBao, **more: str) -> dict[str, str]:
    return {**project_env(), "VAULT_TOKEN": server.token, **more}


def test_tls_verification_off_warns_once_on_one_line(
    tmp_path: Path, tls_openbao: tuple[OpenBao, Path]
) -> None:
    server, _ = tls_openbao
    project = tls_project(tmp_path, server, f"t-{uuid.uuid4().hex[:8]}/", ", tls_verify: false")
    result = credctl(
        project, "env", "--env", "prod", "-o", "-", "--format", "json", env=env_for(server)
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "STRIPE_API_KEY": "v-stripe",
        "TWILIO_API_KEY": "v-twilio",
        "MAILGUN_API_KEY": "v-mail",
    }
    assert result.stderr == f"warning: prod: TLS verification is off for {server.url}\n"


def test_ca_cert_in_the_file_verifies_the_server(
    tmp_path: Path, tls_openbao: tuple[OpenBao, Path]
) -> None:
    server, ca = tls_openbao
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "vault-ca.pem").write_bytes(ca.read_bytes())
    project = tls_project(
        tmp_path, server, f"t-{uuid.uuid4().hex[:8]}/", ", ca_cert: certs/vault-ca.pem"
    )
    result = credctl(project, "get", "prod/stripe/api-key", env=env_for(server))
    assert result.exit_code == 0, result.output
    assert (result.stdout, result.stderr) == ("v-stripe", "")


def test_vault_cacert_verifies_and_an_unknown_ca_is_refused(
    tmp_path: Path, tls_openbao: tuple[OpenBao, Path]
) -> None:
    server, ca = tls_openbao
    project = tls_project(tmp_path, server, f"t-{uuid.uuid4().hex[:8]}/", "")
    verified = credctl(
        project, "get", "prod/stripe/api-key", env=env_for(server, VAULT_CACERT=str(ca))
    )
    assert verified.exit_code == 0, verified.output
    assert verified.stdout == "v-stripe"
    refused = credctl(project, "get", "prod/stripe/api-key", env=env_for(server))
    assert refused.exit_code == 3, refused.output
    assert refused.stderr.count("\n") == 1
    assert refused.stderr.startswith("Error: environment prod: ")


def open_vault(tmp_path: Path, **backend: object) -> VaultBackend:
    environment = EnvironmentConfig.model_validate(
        {"name": "prod", "backend": {"type": "vault", "url": "https://vault.test:8200", **backend}}
    )
    opened = open_backend(environment, BackendContext(project_dir=tmp_path))
    assert isinstance(opened, VaultBackend)
    return opened


def test_ca_cert_is_passed_to_the_client_as_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", "t")
    (tmp_path / "ca.pem").write_text("not parsed until a connection is made\n")
    (tmp_path / "other.pem").write_text("\n")
    from_file = open_vault(tmp_path, ca_cert="ca.pem")
    client = from_file._client()
    assert client.adapter._kwargs["verify"] == str(tmp_path / "ca.pem")
    assert client.session.verify == str(tmp_path / "ca.pem")
    from_file.close()
    monkeypatch.setenv("VAULT_CACERT", str(tmp_path / "other.pem"))
    from_variable = open_vault(tmp_path)
    assert from_variable._client().adapter._kwargs["verify"] == str(tmp_path / "other.pem")
    from_variable.close()
    assert open_vault(tmp_path, ca_cert="ca.pem").verify == str(tmp_path / "ca.pem")  # file wins
    off = open_vault(tmp_path, tls_verify=False)
    assert off._client().adapter._kwargs["verify"] is False
    assert off._client().session.verify is False
    off.close()


def test_an_unknown_ca_reads_as_a_certificate_failure_not_unreachable(
    tmp_path: Path, tls_openbao: tuple[OpenBao, Path]
) -> None:
    server, _ = tls_openbao
    project = tls_project(tmp_path, server, f"t-{uuid.uuid4().hex[:8]}/", "")
    for args in (("get", "prod/stripe/api-key"), ("doctor",)):
        refused = credctl(project, *args, env=env_for(server))
        assert refused.exit_code == 3, refused.output
        assert refused.stderr in (
            "",  # doctor reports it in its table
            f"Error: environment prod: TLS certificate verification failed for Vault at "
            f"{server.url}: its certificate is not signed by a CA this machine trusts (hint: "
            "set 'ca_cert' in environments/prod.yaml (or VAULT_CACERT) to the CA certificate "
            "that signed the server's)\n",
        )
        assert "cannot reach" not in refused.output
        assert "TLS certificate verification failed" in refused.output
