"""Vault metadata on a real OpenBao: rotation dates from versions, custom_metadata limits."""

from __future__ import annotations

import json

import pytest

from credctl.backends import vault
from credctl.backends.vault import VaultBackend
from credctl.errors import BackendError
from credctl.model import META_LAST_ROTATED, META_OWNER
from credctl.schedule import parse_timestamp
from credctl.secret import Secret
from tests.support.contract import MANAGED
from tests.support.fixtures import make_vault, unique_prefix
from tests.support.servers import OpenBao

pytestmark = pytest.mark.integration

TOKEN = "r-0123456789abcdef-1-host"


@pytest.fixture
def backend(openbao: OpenBao, monkeypatch: pytest.MonkeyPatch) -> VaultBackend:
    monkeypatch.setenv("VAULT_TOKEN", openbao.token)
    return make_vault(openbao, unique_prefix())


def version_created(openbao: OpenBao, name: str, version: int) -> str:
    answer = openbao.bao("kv", "metadata", "get", "-mount=secret", "-format=json", name)
    stamp: str = json.loads(answer.stdout)["data"]["versions"][str(version)]["created_time"]
    head, _, tail = stamp.removesuffix("Z").partition(".")
    return f"{head}.{tail[:6]}Z" if tail else f"{head}Z"  # Vault writes nanoseconds


def info_of(backend: VaultBackend, name: str) -> object:
    return next(i for i in backend.list_secrets() if i.name == name)


def test_last_rotated_is_the_current_versions_time_when_credctl_wrote_it(
    openbao: OpenBao, backend: VaultBackend
) -> None:
    name = backend.environment.prefix + "stripe/api-key"
    backend.create(name, MANAGED, Secret("v1"))
    backend.put_pending(name, Secret("v2"), TOKEN)
    assert backend.promote(name, TOKEN) == "2"
    info = info_of(backend, name)
    assert META_LAST_ROTATED not in info.metadata  # type: ignore[attr-defined]
    assert info.last_rotated == parse_timestamp(version_created(openbao, name, 2))  # type: ignore[attr-defined]
    assert info.created == parse_timestamp(version_created(openbao, name, 1))  # type: ignore[attr-defined]
    # the recorded date wins over the version's time
    backend.set_metadata(name, {META_LAST_ROTATED: "2019-01-02T03:04:05Z"})
    dated = info_of(backend, name)
    assert dated.last_rotated == parse_timestamp("2019-01-02T03:04:05Z")  # type: ignore[attr-defined]
    backend.close()


def test_never_rotated_is_aged_from_the_first_version(
    openbao: OpenBao, backend: VaultBackend
) -> None:
    managed = backend.environment.prefix + "stripe/api-key"
    backend.create(managed, MANAGED, Secret("v1"))
    only_version = info_of(backend, managed)
    assert only_version.last_rotated is None  # type: ignore[attr-defined]
    assert only_version.created == parse_timestamp(version_created(openbao, managed, 1))  # type: ignore[attr-defined]
    # another tool's secret written again: aged from its newest version, as it will be
    # once credctl adopts it (no record of credctl's says otherwise)
    other = backend.environment.prefix + "twilio/api-key"
    openbao.bao("kv", "put", "-mount=secret", other, "value=a")
    openbao.bao("kv", "put", "-mount=secret", other, "value=b")
    unmanaged = info_of(backend, other)
    assert unmanaged.last_rotated == parse_timestamp(version_created(openbao, other, 2))  # type: ignore[attr-defined]
    assert unmanaged.created == parse_timestamp(version_created(openbao, other, 1))  # type: ignore[attr-defined]
    assert unmanaged.current_version == "2"  # type: ignore[attr-defined]
    backend.close()


def test_custom_metadata_at_the_limits_is_written(backend: VaultBackend) -> None:
    name = backend.environment.prefix + "a/b"
    backend.create(name, MANAGED, Secret("v"))
    backend.set_metadata(name, {"k" * 128: "é" * 256})  # 128-byte key, 512-byte value
    assert info_of(backend, name).metadata["k" * 128] == "é" * 256  # type: ignore[attr-defined]
    backend.close()


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("team:notes", "é" * 257),  # 257 characters, 514 bytes
        ("k" * 129, "short"),
        ("ключ" * 17, "short"),  # 68 characters, 136 bytes
    ],
)
def test_custom_metadata_over_the_limits_is_refused_and_nothing_written(
    backend: VaultBackend, key: str, text: str
) -> None:
    name = backend.environment.prefix + "a/b"
    backend.create(name, MANAGED, Secret("v"))
    with pytest.raises(BackendError) as raised:
        backend.set_metadata(name, {key: text, META_OWNER: "@other-team"})
    message = str(raised.value)
    assert f"{name}: custom_metadata key {key!r} exceeds Vault's limits" in message
    assert "(128 B keys, 512 B values)" in message
    assert text not in message or text == "short"
    after = info_of(backend, name).metadata  # type: ignore[attr-defined]
    assert key not in after
    assert after[META_OWNER] == MANAGED[META_OWNER]
    assert raised.value.exit_code == 2  # refused before anything is written: fix the rows
    backend.close()


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("2001-11-24T05:12:01.123456789Z", "2001-11-24T05:12:01.123456+00:00"),  # Vault's form
        ("2001-11-24T05:12:01.5+02:00", "2001-11-24T03:12:01.500000+00:00"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00+00:00"),  # "no deletion time"
        ("2001-11-24", "2001-11-24T00:00:00+00:00"),
        ("never", None),
        ("", None),
    ],
)
def test_vault_times_are_read_in_utc_to_the_microsecond(text: str, read: str | None) -> None:
    stamped = vault._stamp(text)
    assert (stamped.isoformat() if stamped else None) == read
