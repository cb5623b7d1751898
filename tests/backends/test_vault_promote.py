"""Vault promote writes with cas=<the version the pending value was staged on>.

A write by another tool between staging and promotion must make the promote fail,
never be superseded by the staged snapshot of the whole KV data.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from credctl.backends.vault import PENDING_SUFFIX, VaultBackend
from credctl.errors import ConflictError
from credctl.model import Ref
from credctl.secret import Secret
from tests.support.contract import MANAGED
from tests.support.fixtures import make_vault, project_env, unique_prefix, vault_environment_yaml
from tests.support.projects import make_project, row
from tests.support.runner import credctl
from tests.support.servers import OpenBao, bao_binary

pytestmark = pytest.mark.integration

TOKEN = "r-0123456789abcdef-1-host"


@pytest.fixture
def vault_token(openbao: OpenBao, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_TOKEN", openbao.token)


def current_data(openbao: OpenBao, name: str) -> dict[str, str]:
    answer = openbao.bao("kv", "get", "-mount=secret", "-format=json", name)
    data: dict[str, str] = json.loads(answer.stdout)["data"]["data"]
    return data


def staged(backend: VaultBackend, name: str) -> Secret | None:
    return backend.read_pending(name, TOKEN)


def test_out_of_band_write_makes_promote_fail_and_keeps_both_values(
    openbao: OpenBao, vault_token: None
) -> None:
    backend = make_vault(openbao, unique_prefix())
    name = backend.environment.prefix + "stripe/api-key"
    backend.create(name, MANAGED, Secret("first-value"))
    backend.put_pending(name, Secret("staged-value"), TOKEN)
    openbao.bao("kv", "put", "-mount=secret", name, "value=out-of-band")
    with pytest.raises(ConflictError) as raised:
        backend.promote(name, TOKEN)
    message = f"{raised.value} {raised.value.hint}"
    assert f"{name} was written by someone else after version 1" in message
    assert "still pending" in message
    assert "which value the provider uses now" in message  # before anyone aborts
    assert "'--abort' destroys the pending one" in message
    for value in ("first-value", "staged-value", "out-of-band"):
        assert value not in message
    assert current_data(openbao, name) == {"value": "out-of-band"}
    pending = staged(backend, name)
    assert pending is not None
    assert pending.reveal() == "staged-value"
    [info] = backend.list_secrets()
    assert info.pending is not None
    assert info.pending.token == TOKEN
    assert info.current_version == "2"
    # once a person drops it, the store is as the other tool left it
    backend.discard_pending(name, TOKEN)
    assert staged(backend, name) is None
    assert current_data(openbao, name) == {"value": "out-of-band"}
    backend.close()


def test_other_fields_written_meanwhile_are_not_reverted(
    openbao: OpenBao, vault_token: None
) -> None:
    backend = make_vault(openbao, unique_prefix())
    name = backend.environment.prefix + "google/oauth"
    openbao.bao("kv", "put", "-mount=secret", name, "client_id=id-1", "client_secret=s-1")
    backend.set_metadata(name, MANAGED)
    backend.put_pending(name, Secret("s-2"), TOKEN, field="client_secret")
    openbao.bao("kv", "patch", "-mount=secret", name, "client_id=id-2")
    with pytest.raises(ConflictError):
        backend.promote(name, TOKEN)
    assert current_data(openbao, name) == {"client_id": "id-2", "client_secret": "s-1"}
    ref = Ref("vault", f"secret/{name}", "client_secret")
    assert backend.read_values([ref])[ref] == Secret("s-1")
    assert backend.read_pending(name, TOKEN, "client_secret") == Secret("s-2")
    backend.close()


def test_promote_without_other_writes_uses_the_base_version(
    openbao: OpenBao, vault_token: None
) -> None:
    backend = make_vault(openbao, unique_prefix())
    name = backend.environment.prefix + "stripe/api-key"
    backend.create(name, MANAGED, Secret("first-value"))
    backend.put_pending(name, Secret("staged-value"), TOKEN)
    pending_data = current_data(openbao, name + PENDING_SUFFIX)
    assert pending_data["base"] == 1  # type: ignore[comparison-overlap]
    # metadata writes do not make a version: they do not stand in the way
    backend.set_metadata(name, {"team:cost-center": "42"})
    assert backend.promote(name, TOKEN) == "2"
    assert current_data(openbao, name) == {"value": "staged-value"}
    assert staged(backend, name) is None
    assert backend.promote(name, TOKEN) == "2"  # idempotent
    backend.close()


def test_promote_that_wrote_then_stopped_finishes_on_retry(
    openbao: OpenBao, vault_token: None
) -> None:
    """The write landed (version base+1 holds the staged data) but the pending value stayed."""
    backend = make_vault(openbao, unique_prefix())
    name = backend.environment.prefix + "stripe/api-key"
    backend.create(name, MANAGED, Secret("first-value"))
    backend.put_pending(name, Secret("staged-value"), TOKEN)
    openbao.bao("kv", "put", "-mount=secret", "-cas=1", name, "value=staged-value")
    assert backend.promote(name, TOKEN) == "2"
    assert staged(backend, name) is None
    assert current_data(openbao, name) == {"value": "staged-value"}
    backend.close()


def test_pending_staged_without_a_base_version_still_promotes(
    openbao: OpenBao, vault_token: None
) -> None:
    """A value staged by an earlier credctl (no `base` recorded) promotes as it did then."""
    backend = make_vault(openbao, unique_prefix())
    name = backend.environment.prefix + "stripe/api-key"
    backend.create(name, MANAGED, Secret("first-value"))
    client = openbao.client()
    client.secrets.kv.v2.create_or_update_secret(
        path=name + PENDING_SUFFIX,
        secret={"token": TOKEN, "data": {"value": "staged-value"}},
        cas=0,
        mount_point="secret",
    )
    client.adapter.close()
    openbao.bao("kv", "put", "-mount=secret", name, "value=out-of-band")
    assert backend.promote(name, TOKEN) == "3"
    assert current_data(openbao, name) == {"value": "staged-value"}
    assert staged(backend, name) is None
    backend.close()


POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  Applied Key:
    secret: true
    rotator: command
    generator: {kind: password, length: 20}
    command: ["sh", "-c", "cat > /dev/null; \\"$BAO\\" kv put -mount=secret \\"$OUT_OF_BAND\\" value=out-of-band > /dev/null"]
"""


def test_rotate_reports_the_conflict_and_keeps_the_pending_value(
    tmp_path: Path, openbao: OpenBao
) -> None:
    """The apply command writes the secret itself (another tool would): exit 3, nothing lost."""
    prefix = f"r-{uuid.uuid4().hex[:8]}/"
    name = f"{prefix}stripe/applied-key"
    project = make_project(
        tmp_path,
        [row(credential_type="Applied Key")],
        environments={"prod": vault_environment_yaml(openbao.url, prefix)},
        policies={"default.yaml": POLICY},
    )
    env = {
        **project_env(openbao),
        "BAO": bao_binary(),
        "BAO_ADDR": openbao.url,
        "BAO_TOKEN": openbao.token,
        "OUT_OF_BAND": name,
    }
    assert credctl(project, "sync", env=env).exit_code == 0
    first = credctl(project, "set", "prod/stripe/applied-key", input="first-value", env=env)
    assert first.exit_code == 0, first.output
    result = credctl(project, "rotate", "prod/stripe/applied-key", "--format", "json", env=env)
    assert result.exit_code == 3, result.output
    [outcome] = json.loads(result.stdout)["results"]
    assert outcome["outcome"] == "failed"
    assert f"{name} was written by someone else after version 1" in outcome["message"]
    assert result.stderr == "1 of 1 rotations did not complete cleanly.\n"
    assert current_data(openbao, name) == {"value": "out-of-band"}
    pending = current_data(openbao, name + PENDING_SUFFIX)
    assert pending["base"] == 1  # type: ignore[comparison-overlap]
    staged_value = pending["data"]["value"]  # type: ignore[index]
    assert staged_value not in ("first-value", "out-of-band")
    assert staged_value not in result.output
    assert "first-value" not in result.output
    aborted = credctl(project, "rotate", "prod/stripe/applied-key", "--abort", env=env)
    assert aborted.exit_code == 0, aborted.output
    assert current_data(openbao, name) == {"value": "out-of-band"}
