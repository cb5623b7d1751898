"""The local encrypted store: the contract, plus encryption and key handling."""

from __future__ import annotations

import base64
import os
import stat
import uuid
from pathlib import Path

import pytest

from credctl.backends.base import BackendContext
from credctl.backends.local import LocalBackend
from credctl.backends.pool import open_backend
from credctl.errors import ConfigError, SecretDeletedError, WrongKeyError
from credctl.model import EnvironmentConfig
from credctl.secret import Secret
from tests.support.contract import CANARY, MANAGED, BackendContract, value_of


def make_local(project: Path, prefix: str | None = None) -> LocalBackend:
    environment = EnvironmentConfig.model_validate(
        {"name": "dev", "backend": {"type": "local", "prefix": prefix}}
    )
    backend = open_backend(environment, BackendContext(project_dir=project))
    assert isinstance(backend, LocalBackend)
    return backend


@pytest.fixture(autouse=True)
def _no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDCTL_LOCAL_KEY", raising=False)


class TestLocalContract(BackendContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> LocalBackend:
        return make_local(tmp_path, prefix=f"t-{uuid.uuid4().hex[:8]}/")


def test_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    backend = make_local(tmp_path)
    backend.create("dev/a/b", MANAGED, Secret("v"))
    key_file = tmp_path / ".credctl" / "key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert value_of(make_local(tmp_path), "dev/a/b") == "v"


def test_values_are_encrypted_at_rest(tmp_path: Path) -> None:
    make_local(tmp_path).create("dev/a/b", MANAGED, Secret(CANARY))
    store = tmp_path / ".credctl" / "store" / "store.json"
    assert CANARY.encode() not in store.read_bytes()
    assert stat.S_IMODE(store.stat().st_mode) == 0o600


def test_wrong_key_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_local(tmp_path).create("dev/a/b", MANAGED, Secret(CANARY))
    monkeypatch.setenv("CREDCTL_LOCAL_KEY", base64.urlsafe_b64encode(os.urandom(32)).decode())
    with pytest.raises(WrongKeyError) as caught:
        make_local(tmp_path).list_secrets()
    assert "another key" in str(caught.value)
    assert CANARY not in str(caught.value)


def test_malformed_key_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDCTL_LOCAL_KEY", "not-a-key")
    with pytest.raises(ConfigError, match="32 bytes"):
        make_local(tmp_path)


def test_moving_a_ciphertext_to_another_secret_fails(tmp_path: Path) -> None:
    import json

    backend = make_local(tmp_path)
    backend.create("dev/a/b", MANAGED, Secret("one"))
    backend.create("dev/c/d", MANAGED, Secret("two"))
    store = tmp_path / ".credctl" / "store" / "store.json"
    document = json.loads(store.read_text())
    entries = document["secrets"]
    entries["dev/c/d"]["versions"]["1"] = entries["dev/a/b"]["versions"]["1"]
    store.write_text(json.dumps(document))
    with pytest.raises(WrongKeyError):
        value_of(backend, "dev/c/d")


def test_history_is_bounded_but_keeps_the_previous_value(tmp_path: Path) -> None:
    backend = make_local(tmp_path)
    backend.create("dev/a/b", MANAGED, Secret("v0"))
    versions = []
    for index in range(1, 15):
        backend.put_pending("dev/a/b", Secret(f"v{index}"), f"t{index}")
        versions.append(backend.promote("dev/a/b", f"t{index}"))
    assert backend.read_version("dev/a/b", versions[-2]).reveal() == "v13"
    assert value_of(backend, "dev/a/b") == "v14"


def _create_many(project: str, worker: int) -> None:
    backend = make_local(Path(project))
    for index in range(15):
        backend.create(f"dev/w{worker}/s{index}", MANAGED, Secret(f"{worker}-{index}"))


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    import multiprocessing

    make_local(tmp_path)  # create the key once, before the race
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_create_many, args=(str(tmp_path), w)) for w in range(6)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    backend = make_local(tmp_path)
    assert len(backend.list_secrets()) == 90
    assert value_of(backend, "dev/w5/s14") == "5-14"


def test_a_corrupt_store_is_a_clear_error(tmp_path: Path) -> None:
    from credctl.errors import BackendError

    backend = make_local(tmp_path)
    backend.create("dev/a/b", MANAGED, Secret("v"))
    (tmp_path / ".credctl" / "store" / "store.json").write_text("{not json")
    with pytest.raises(BackendError, match="corrupt"):
        backend.list_secrets()


def test_a_pruned_secret_is_restored_with_its_history_only_when_asked(tmp_path: Path) -> None:
    backend = make_local(tmp_path)
    name = "dev/stripe/api-key"
    backend.create(name, MANAGED, Secret("before-prune"))
    backend.schedule_delete(name)
    with pytest.raises(SecretDeletedError):
        backend.create(name, {**MANAGED, "credctl:owner": "@new"}, Secret("after-prune"))
    backend.restore(name)
    [info] = backend.list_secrets()
    assert not info.deleted
    assert value_of(backend, name) == "before-prune"
    assert backend.read_version(name, "1").reveal() == "before-prune"  # history kept
