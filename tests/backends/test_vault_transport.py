"""Vault transport on a real OpenBao: ~/.vault-token, 429/503 retries, one kept worker pool."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from credctl.backends.base import BackendContext
from credctl.backends.pool import open_backend
from credctl.backends.vault import VaultBackend
from credctl.model import EnvironmentConfig, Ref
from credctl.secret import Secret
from tests.support.contract import MANAGED
from tests.support.fixtures import project_env, unique_prefix, vault_environment_yaml
from tests.support.projects import make_project, row
from tests.support.proxy import Proxy
from tests.support.runner import credctl
from tests.support.servers import OpenBao

pytestmark = pytest.mark.integration


def test_token_from_vault_token_file_when_vault_token_is_unset(
    tmp_path: Path, openbao: OpenBao
) -> None:
    prefix = unique_prefix()
    openbao.bao("kv", "put", "-mount=secret", f"{prefix}stripe/api-key", "value=from-file")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".vault-token").write_text(openbao.token + "\n")  # as `vault login` leaves it
    project = make_project(
        tmp_path / "project",
        [row()],
        environments={"prod": vault_environment_yaml(openbao.url, prefix)},
    )
    env = {**project_env(), "HOME": str(home)}
    assert "VAULT_TOKEN" not in env
    result = credctl(project, "get", "prod/stripe/api-key", env=env)
    assert result.exit_code == 0, result.output
    assert (result.stdout, result.stderr) == ("from-file", "")


def retry_project(tmp_path: Path, url: str, prefix: str) -> Path:
    return make_project(
        tmp_path,
        [row()],
        environments={
            "prod": vault_environment_yaml(
                url, prefix, retry="{max_attempts: 4, base_delay: 1ms, max_delay: 5ms}"
            )
        },
    )


@pytest.mark.parametrize("status", [429, 503])
def test_throttling_is_retried_then_exit_3_past_the_budget(
    tmp_path: Path, openbao: OpenBao, proxy: Callable[..., Proxy], status: int
) -> None:
    prefix = unique_prefix()
    name = f"{prefix}stripe/api-key"
    openbao.bao("kv", "put", "-mount=secret", name, "value=through")
    through = proxy(openbao.url)
    project = retry_project(tmp_path, through.url, prefix)
    env = project_env(openbao)
    read = f"GET /v1/secret/data/{name} ".encode()

    def reads(head: bytes) -> bool:
        return head.startswith(read)

    through.answer_when(reads, status, times=3)  # three failures, four attempts
    recovered = credctl(project, "get", "prod/stripe/api-key", env=env)
    assert recovered.exit_code == 0, recovered.output
    assert (recovered.stdout, recovered.stderr) == ("through", "")
    assert through.answered == 3
    through.clear_faults()
    through.answer_when(reads, status)  # every time
    answered = through.answered
    failed = credctl(project, "get", "prod/stripe/api-key", env=env)
    assert failed.exit_code == 3, failed.output
    assert through.answered - answered == 4
    assert failed.stdout == ""
    assert failed.stderr.count("\n") == 1
    assert failed.stderr.startswith("Error: environment prod: ")
    if status == 429:
        assert f"still failing on secret/data/{name} after 4 attempts" in failed.stderr
    assert "through" not in failed.stderr


def vault_with_concurrency(server: OpenBao, concurrency: int) -> VaultBackend:
    """A backend whose environment name is its own, so that its pool threads can be told apart."""
    environment = EnvironmentConfig.model_validate(
        {
            "name": "pool" + uuid.uuid4().hex[:8],
            "backend": {"type": "vault", "url": server.url, "path_prefix": unique_prefix()},
            "concurrency": concurrency,
        }
    )
    opened = open_backend(environment, BackendContext(project_dir=Path(".")))
    assert isinstance(opened, VaultBackend)
    return opened


def pool_threads(backend_name: str) -> list[threading.Thread]:
    prefix = f"credctl-vault-{backend_name}_"
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


def test_one_worker_pool_and_its_sessions_last_the_backend_lifetime(
    openbao: OpenBao, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", openbao.token)
    backend = vault_with_concurrency(openbao, 4)
    names = [f"{backend.environment.prefix}svc-{i}/api-key" for i in range(12)]
    for name in names:
        backend.create(name, MANAGED, Secret("v"))
    refs = [Ref("vault", f"secret/{name}") for name in names]
    assert len(backend.list_secrets()) == 12
    assert all(v == Secret("v") for v in backend.read_values(refs).values())
    sessions = list(backend._sessions)
    executor = backend._executor
    assert executor is not None
    # a worker per `concurrency` and the calling thread: no session per phase
    assert len(sessions) <= 4 + 1
    for _ in range(3):
        assert len(backend.list_secrets()) == 12
        assert len(backend.read_values(refs)) == 12
    assert backend._executor is executor
    assert backend._sessions == sessions
    assert 1 <= len(pool_threads(backend.environment.name)) <= 4
    backend.close()
    assert backend._executor is None
    assert backend._sessions == []
    assert pool_threads(backend.environment.name) == []


def test_pool_is_shared_safely_by_concurrent_callers(
    openbao: OpenBao, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rotations call the backend from several threads at once: one pool, right answers."""
    monkeypatch.setenv("VAULT_TOKEN", openbao.token)
    backend = vault_with_concurrency(openbao, 3)
    names = [f"{backend.environment.prefix}svc-{i}/api-key" for i in range(6)]
    for index, name in enumerate(names):
        backend.create(name, MANAGED, Secret(f"v{index}"))
    refs = [Ref("vault", f"secret/{name}") for name in names]
    results: list[dict[Ref, object]] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            results.append(dict(backend.read_values(refs)))
        except BaseException as error:  # reported below
            errors.append(error)

    callers = [threading.Thread(target=read) for _ in range(5)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(timeout=30)
    assert errors == []
    assert len(results) == 5
    expected = {ref: Secret(f"v{i}") for i, ref in enumerate(refs)}
    assert all(result == expected for result in results)
    assert len(pool_threads(backend.environment.name)) <= 3
    backend.close()
    assert pool_threads(backend.environment.name) == []


def test_backend_used_again_after_close_opens_a_new_pool(
    openbao: OpenBao, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", openbao.token)
    backend = vault_with_concurrency(openbao, 2)
    for index in range(3):
        backend.create(f"{backend.environment.prefix}s{index}/k", MANAGED, Secret("v"))
    assert len(backend.list_secrets()) == 3
    backend.close()
    assert len(backend.list_secrets()) == 3
    backend.close()
    assert pool_threads(backend.environment.name) == []
