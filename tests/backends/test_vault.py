"""Vault / OpenBao KV v2 on a real OpenBao dev server: contract, interoperability, auth, errors."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from credctl.backends.vault import VaultBackend
from credctl.errors import AccessDeniedError, BackendError, ConfigError
from credctl.model import Ref
from credctl.secret import Secret
from tests.support.contract import CANARY, MANAGED, BackendContract
from tests.support.dates import stamp
from tests.support.fixtures import make_vault, project_env, unique_prefix, vault_environment_yaml
from tests.support.projects import make_project, row
from tests.support.runner import credctl
from tests.support.servers import OpenBao, free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def vault_token(openbao: OpenBao, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_TOKEN", openbao.token)


class TestOpenBaoContract(BackendContract):
    # both ways of listing: OpenBao's one-request SCAN, and the LIST + metadata reads
    # that HashiCorp Vault and older OpenBao get
    @pytest.fixture(params=["scan", "list"])
    def backend(
        self, request: pytest.FixtureRequest, openbao: OpenBao, vault_token: None
    ) -> Iterator[VaultBackend]:
        opened = make_vault(openbao, f"t-{uuid.uuid4().hex[:8]}/", listing=request.param)
        yield opened
        opened.close()  # its worker pool and sessions


def vault_project(tmp_path: Path, server: OpenBao, prefix: str, rows: list[str]) -> Path:
    return make_project(
        tmp_path, rows, environments={"prod": vault_environment_yaml(server.url, prefix)}
    )


def test_reads_secrets_written_by_the_bao_cli(tmp_path: Path, openbao: OpenBao) -> None:
    prefix = unique_prefix()
    openbao.bao("kv", "put", "-mount=secret", f"{prefix}stripe/api-key", f"value={CANARY}")
    openbao.bao(
        "kv",
        "metadata",
        "put",
        "-mount=secret",
        "-custom-metadata=credctl:managed=true",
        "-custom-metadata=credctl:owner=@payments",
        f"-custom-metadata=credctl:last-rotated={stamp(10)}",
        "-custom-metadata=team:cost-center=42",
        f"{prefix}stripe/api-key",
    )
    openbao.bao(
        "kv",
        "put",
        "-mount=secret",
        f"{prefix}google/oauth",
        "client_id=abc",
        "client_secret=s3cret",
    )
    project = vault_project(
        tmp_path,
        openbao,
        prefix,
        [
            row(reference=f"vault://secret/{prefix}stripe/api-key"),
            row(
                service="Google",
                credential_type="Client Secret",
                reference=f"vault://secret/{prefix}google/oauth#client_secret",
                owner="@identity",
            ),
        ],
    )
    env = project_env(openbao)
    audit = credctl(project, "audit", "--format", "json", "--fail-on", "never", env=env)
    assert audit.exit_code == 0, audit.output
    report = json.loads(audit.stdout)
    statuses = {c["id"]: c["status"] for c in report["credentials"]}
    assert statuses["prod/stripe/api-key"] == "ok"
    assert CANARY not in audit.output
    written = credctl(project, "env", "--env", "prod", "-o", "-", "--format", "json", env=env)
    assert written.exit_code == 0, written.output
    assert json.loads(written.stdout) == {
        "STRIPE_API_KEY": CANARY,
        "GOOGLE_CLIENT_SECRET": "s3cret",
    }
    # credctl's own metadata write keeps the other tool's key
    assert credctl(project, "set", "prod/stripe/api-key", input="next", env=env).exit_code == 0
    meta = openbao.bao(
        "kv", "metadata", "get", "-mount=secret", "-format=json", f"{prefix}stripe/api-key"
    )
    custom = json.loads(meta.stdout)["data"]["custom_metadata"]
    assert custom["team:cost-center"] == "42"
    assert custom["credctl:rotated-by"]
    previous = openbao.bao(
        "kv", "get", "-mount=secret", "-version=1", "-format=json", f"{prefix}stripe/api-key"
    )
    assert json.loads(previous.stdout)["data"]["data"]["value"] == CANARY


def test_approle_allows_only_the_prefix(tmp_path: Path, openbao: OpenBao) -> None:
    prefix = unique_prefix()
    policy = (
        f'path "secret/metadata/{prefix}*" {{ capabilities = ["list", "read", "create", "update"] }}\n'
        f'path "secret/data/{prefix}*" {{ capabilities = ["read", "create", "update"] }}\n'
        f'path "secret/metadata/" {{ capabilities = ["list"] }}\n'
    )
    role = "r" + uuid.uuid4().hex[:8]
    openbao.bao("policy", "write", role, "-", input=policy)
    if "approle/" not in openbao.bao("auth", "list").stdout:
        openbao.bao("auth", "enable", "approle", check=False)
    openbao.bao("write", f"auth/approle/role/{role}", f"token_policies={role}")
    role_id = json.loads(
        openbao.bao("read", "-format=json", f"auth/approle/role/{role}/role-id").stdout
    )["data"]["role_id"]
    secret_id = json.loads(
        openbao.bao("write", "-format=json", "-f", f"auth/approle/role/{role}/secret-id").stdout
    )["data"]["secret_id"]
    openbao.bao("kv", "put", "-mount=secret", f"{prefix}stripe/api-key", "value=v1")
    openbao.bao("kv", "put", "-mount=secret", "elsewhere/x", "value=hidden")
    environment = (
        f"backend: {{type: vault, url: '{openbao.url}', path_prefix: '{prefix}', "
        f"auth: {{method: approle, role_id: '{role_id}', secret_id_env: APP_SECRET_ID}}}}\n"
        "retry: {max_attempts: 1}\n"
        "external: [elsewhere/]\n"  # a row may reference it, the role may not read it
    )
    project = make_project(
        tmp_path,
        [
            row(reference=f"vault://secret/{prefix}stripe/api-key"),
            row(service="Other", reference="vault://secret/elsewhere/x"),
        ],
        environments={"prod": environment},
    )
    env = {**project_env(), "APP_SECRET_ID": secret_id}
    allowed = credctl(project, "get", "prod/stripe/api-key", env=env)
    assert allowed.exit_code == 0, allowed.output
    assert allowed.stdout == "v1"
    denied = credctl(project, "get", "prod/other/api-key", env=env)
    assert denied.exit_code == 3, denied.output
    assert "permission denied: 'read' on secret/data/elsewhere/x" in denied.stderr
    assert denied.stderr.count("\n") == 1
    bad = credctl(project, "get", "prod/stripe/api-key", env={**env, "APP_SECRET_ID": "wrong"})
    assert bad.exit_code == 3
    assert "AppRole login" in bad.stderr


def test_unreachable_server_is_one_line_exit_3(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    project = make_project(
        tmp_path,
        [row()],
        environments={
            "prod": vault_environment_yaml(url, "prod/", retry="{max_attempts: 2, base_delay: 1ms}")
        },
    )
    result = credctl(project, "audit", env={**project_env(), "VAULT_TOKEN": "t"})
    assert result.exit_code == 3, result.output
    assert (
        result.stderr
        == f"Error: environment prod: cannot reach Vault at {url} (hint: check VAULT_ADDR / 'url' in the environment file and that the server is up)\n"
    )


def test_missing_token_hints_to_log_in(tmp_path: Path, openbao: OpenBao) -> None:
    project = vault_project(tmp_path, openbao, "prod/", [row()])
    result = credctl(project, "audit", env={**project_env(), "HOME": str(tmp_path)})
    assert result.exit_code == 3
    assert "no Vault token" in result.stderr


def test_kv_version_1_and_missing_mounts_are_clear_errors(
    openbao: OpenBao, vault_token: None
) -> None:
    mount = "kv1-" + uuid.uuid4().hex[:6]
    openbao.bao("secrets", "enable", f"-path={mount}", "-version=1", "kv")
    with pytest.raises(ConfigError, match="KV version 1"):
        make_vault(openbao, "p/", mount=mount).list_secrets()
    with pytest.raises(ConfigError, match="does not exist"):
        make_vault(openbao, "p/", mount="nope-" + mount).list_secrets()


def test_custom_metadata_limits_are_checked(openbao: OpenBao, vault_token: None) -> None:
    backend = make_vault(openbao, unique_prefix())
    name = backend.environment.prefix + "a/b"
    backend.create(name, MANAGED, Secret("v"))
    with pytest.raises(BackendError, match="at most 64 keys"):
        backend.set_metadata(name, {f"k{i}": "v" for i in range(70)})


def test_namespace_header_is_sent(openbao: OpenBao, vault_token: None, proxy: Any) -> None:
    """OpenBao's dev server has no namespaces; check credctl sends the header a Vault would use."""
    seen: list[bytes] = []
    through = proxy(openbao.url)

    def record(head: bytes) -> bool:
        seen.append(head)
        return False

    through.fail_when(record)
    backend = make_vault(openbao, unique_prefix(), namespace="team-a")
    backend.url = through.url
    with contextlib.suppress(BackendError, ConfigError):  # OpenBao may refuse the namespace
        backend.list_secrets()
    assert seen
    assert all(b"X-Vault-Namespace: team-a" in head for head in seen)


def test_denied_read_names_path_and_capability(
    openbao: OpenBao, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = unique_prefix()
    openbao.bao("kv", "put", "-mount=secret", f"{prefix}a/b", "value=x")
    name = "p" + uuid.uuid4().hex[:6]
    openbao.bao(
        "policy",
        "write",
        name,
        "-",
        input=f'path "secret/metadata/{prefix}*" {{ capabilities = ["list", "read"] }}\n',
    )
    token = json.loads(openbao.bao("token", "create", "-format=json", f"-policy={name}").stdout)[
        "auth"
    ]["client_token"]
    monkeypatch.setenv("VAULT_TOKEN", token)
    backend = make_vault(openbao, prefix)
    assert [i.name for i in backend.list_secrets()] == [f"{prefix}a/b"]
    ref = Ref("vault", f"secret/{prefix}a/b")
    result = backend.read_values([ref])[ref]
    assert isinstance(result, AccessDeniedError)
    assert f"'read' on secret/data/{prefix}a/b" in str(result)


def test_sealed_server_is_one_line_exit_3(tmp_path: Path) -> None:
    from tests.support.servers import start_openbao

    server = start_openbao()
    try:
        server.bao("operator", "seal")
        project = make_project(
            tmp_path,
            [row()],
            environments={
                "prod": vault_environment_yaml(
                    server.url, "prod/", retry="{max_attempts: 2, base_delay: 1ms}"
                )
            },
        )
        result = credctl(project, "audit", env=project_env(server))
    finally:
        server.stop()
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith(f"Error: environment prod: Vault at {server.url} is sealed")
    assert result.stderr.count("\n") == 1
