"""Opening backends (through the registry's factory, each environment's once per run),
and what an opened backend can do beyond the protocol."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import pytest

from credctl.backends.base import BackendContext, Batching, BuiltOnce, NativeRotation, batched
from credctl.backends.config import BackendConfig
from credctl.backends.pool import Backends, backends_for, open_backend
from credctl.backends.registry import BACKENDS, BackendType
from credctl.errors import ConfigError, Problem
from credctl.model import EnvironmentConfig
from tests.support import memory_backend
from tests.support.memory_backend import MEMORY, MemoryBackend


class MissingBackendConfig(BackendConfig):
    type: Literal["missing"]


MISSING = BackendType(
    type="missing",
    scheme="missing",
    config=MissingBackendConfig,
    factory="credctl.backends.no_such_module:from_config",
    reference_form="missing://NAME",
)


@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(BACKENDS, MEMORY.type, MEMORY)
    monkeypatch.setitem(BACKENDS, MISSING.type, MISSING)
    yield
    memory_backend.STORES.clear()


@dataclass
class Folder:
    root: Path


def environment(name: str, kind: str = "memory") -> EnvironmentConfig:
    return EnvironmentConfig.model_validate({"name": name, "backend": {"type": kind}})


def test_each_environment_is_opened_once_and_all_are_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[str] = []
    monkeypatch.setattr(MemoryBackend, "close", lambda self: closed.append(self.environment.name))
    prod, dev = environment("prod"), environment("dev")
    with backends_for(Folder(tmp_path)) as backends:
        first = backends.get(prod)
        assert backends.get(prod) is first
        assert backends.get(dev) is not first
        assert closed == []
    assert sorted(closed) == ["dev", "prod"]


def test_a_store_whose_module_is_missing_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        Backends(Folder(tmp_path)).get(environment("prod", "missing"))
    assert str(caught.value) == (
        "environments/prod.yaml: the missing backend cannot be loaded "
        "(missing module credctl.backends.no_such_module)"
    )
    assert caught.value.hint == "reinstall credctl: this copy is incomplete (README: Install)"


def test_a_missing_vendor_sdk_is_named_with_the_command_that_installs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    without_sdk = replace(MISSING, factory="no_such_vendor_sdk.client:from_config")
    monkeypatch.setitem(BACKENDS, MISSING.type, without_sdk)
    with pytest.raises(ConfigError) as caught:
        Backends(Folder(tmp_path)).get(environment("prod", "missing"))
    assert str(caught.value).endswith("(missing module no_such_vendor_sdk)")
    assert caught.value.hint == (
        f"install it where credctl runs: {sys.executable} -m pip install no_such_vendor_sdk"
    )


def test_optional_capabilities_are_typed_protocols(tmp_path: Path) -> None:
    from credctl.backends.aws import AwsBackend
    from credctl.backends.local import LocalBackend
    from credctl.backends.vault import VaultBackend

    local = open_backend(environment("dev", "local"), BackendContext(project_dir=tmp_path))
    assert isinstance(local, LocalBackend)
    vault = VaultBackend(environment("prod", "vault"), "http://127.0.0.1:1")
    memory = open_backend(environment("prod"), BackendContext(project_dir=tmp_path))
    stores = [local, AwsBackend(environment("prod", "aws"), None), vault, memory]
    assert [isinstance(store, Batching) for store in stores] == [True, False, False, False]
    assert [isinstance(store, NativeRotation) for store in stores] == [False, True, False, False]
    with batched(memory) as deferred:
        assert deferred is False
    with batched(local) as deferred:
        assert deferred is True


def test_what_a_run_shares_is_built_once_whoever_asks_at_once_and_closed_once() -> None:
    closed: list[str] = []
    shared = BuiltOnce[str](closed.append)
    builds: list[str] = []
    asking = threading.Barrier(4, timeout=20)

    def build() -> str:
        builds.append("client")
        time.sleep(0.05)  # the others ask while it is being built
        return "client"

    def ask(_: int) -> str:
        asking.wait()
        return shared.get(("aws", "us-east-1"), build)

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(ask, range(4))) == ["client"] * 4
    assert builds == ["client"]
    assert shared.get(("aws", "eu-west-1"), lambda: "other") == "other"
    shared.close()
    assert sorted(closed) == ["client", "other"]


def test_a_build_that_failed_fails_alike_for_the_others_without_building_again() -> None:
    shared = BuiltOnce[str](lambda _: None)
    tried: list[str] = []

    def refused() -> str:
        tried.append("build")
        raise ConfigError(Problem("environments/prod.yaml", None, "no region"))

    for _ in range(3):
        with pytest.raises(ConfigError, match="no region"):
            shared.get("key", refused)
    assert tried == ["build"]  # not one timeout after another for each environment
    assert shared.get("other", lambda: "built") == "built"


def test_every_thing_built_is_closed_even_when_one_close_fails() -> None:
    closed: list[str] = []

    def close(name: str) -> None:
        closed.append(name)
        if name == "first":
            raise OSError("already gone")

    shared = BuiltOnce[str](close)
    shared.get(1, lambda: "first")
    shared.get(2, lambda: "second")
    with pytest.raises(OSError, match="already gone"):
        shared.close()
    assert closed == ["first", "second"]
