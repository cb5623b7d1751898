"""A row's secret deleted or scheduled for deletion by another tool: one state, reported
the same way by every command, and one way out that works (local, moto_server, OpenBao)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from credctl.backends.base import BackendContext
from credctl.backends.pool import open_backend
from credctl.model import EnvironmentConfig
from tests.support.contract import CANARY
from tests.support.fixtures import Store
from tests.support.projects import make_project, row
from tests.support.runner import credctl
from tests.support.servers import MotoServer, OpenBao

POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  API Key: {secret: true, rotator: generate, generator: {kind: token, bytes: 32}}
  Client Secret: {secret: true, max_age: 180d, rotator: manual}
"""


def project_on(tmp_path: Path, store: Store, rows: list[str]) -> tuple[Path, str]:
    prefix = f"lc-{uuid.uuid4().hex[:8]}/"
    project = make_project(
        tmp_path,
        rows,
        environments={"prod": store.environment_yaml(prefix)},
        policies={"default.yaml": POLICY},
    )
    return project, prefix


def local_backend(project: Path, prefix: str) -> Any:
    environment = EnvironmentConfig.model_validate(
        {"name": "prod", "backend": {"type": "local", "prefix": prefix}}
    )
    return open_backend(environment, BackendContext(project_dir=project))


def delete_out_of_band(store: Store, project: Path, prefix: str, name: str) -> None:
    """Delete the secret the way each store's own tools do."""
    if isinstance(store.server, MotoServer):
        store.server.client().delete_secret(SecretId=name, RecoveryWindowInDays=7)
    elif isinstance(store.server, OpenBao):
        store.server.bao("kv", "delete", "-mount=secret", name)
    else:  # the local store has no other tool: its own deletion, as --prune makes it
        local_backend(project, prefix).schedule_delete(name)


def versions(store: Store, project: Path, name: str) -> int:
    """How many versions the store holds of the secret (never changed by a refusal)."""
    if isinstance(store.server, MotoServer):
        answer = store.server.client().list_secret_version_ids(
            SecretId=name, IncludeDeprecated=True
        )
        return len(answer["Versions"])
    if isinstance(store.server, OpenBao):
        meta = store.server.client().secrets.kv.v2.read_secret_metadata(
            path=name, mount_point="secret"
        )
        return len(meta["data"]["versions"])
    document = json.loads((project / ".credctl" / "store" / "store.json").read_text())
    return len(document["secrets"][name]["versions"])


def audit_of(project: Path, store: Store) -> dict[str, Any]:
    result = credctl(project, "audit", "--format", "json", "--fail-on", "never", env=store.env)
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@pytest.mark.integration
def test_a_deleted_secret_is_one_state_with_one_way_out(tmp_path: Path, store: Store) -> None:
    project, prefix = project_on(tmp_path, store, [row()])
    name = f"{prefix}stripe/api-key"
    assert credctl(project, "sync", env=store.env).exit_code == 0
    value = credctl(project, "get", "prod/stripe/api-key", env=store.env).stdout
    delete_out_of_band(store, project, prefix, name)
    count = versions(store, project, name)
    way_out = "credctl sync --restore --env prod"

    audit = audit_of(project, store)
    [credential] = audit["credentials"]
    assert credential["status"] == "deleted"
    [finding] = credential["findings"]
    assert (finding["code"], finding["severity"]) == ("deleted", "error")
    assert finding["message"].startswith(f"prod/stripe/api-key: {store.scheme_prefix()}{name} is ")
    assert f"restore it with its value: '{way_out}'" in finding["message"]
    failing = credctl(project, "audit", env=store.env)
    assert failing.exit_code == 1
    assert "deleted" in failing.stdout

    plan = credctl(project, "plan", env=store.env)
    assert plan.exit_code == 0, plan.output
    assert f"x deleted     prod/stripe/api-key  (restore it with its value: '{way_out}')" in (
        plan.stdout
    )
    # every command that would read or write it refuses, naming the one way out
    for command, stdin in (
        (["sync"], None),
        (["sync", "--env", "prod"], None),
        (["rotate", "prod/stripe/api-key"], None),
        (["set", "prod/stripe/api-key"], CANARY),
        (["get", "prod/stripe/api-key"], None),
        (["env", "--env", "prod", "-o", "-"], None),
    ):
        refused = credctl(project, *command, input=stdin, env=store.env)
        assert refused.exit_code == 3, (command, refused.output)
        assert way_out in refused.output, (command, refused.output)
        assert "is deleted" in refused.output, (command, refused.output)
        assert CANARY not in refused.output
        assert value not in refused.output
    assert versions(store, project, name) == count  # nothing was written over it
    imported = credctl(project, "import", "--dry-run", env=store.env)
    assert way_out in imported.output, imported.output

    restored = credctl(project, "sync", "--restore", env=store.env)
    assert restored.exit_code == 0, restored.output
    assert "^ restore" in restored.stdout
    assert f"restored prod/stripe/api-key ({store.scheme_prefix()}{name}) with its value" in (
        restored.stderr
    )
    assert credctl(project, "get", "prod/stripe/api-key", env=store.env).stdout == value
    assert versions(store, project, name) == count
    assert audit_of(project, store)["credentials"][0]["status"] == "ok"
    for _ in range(2):
        again = credctl(project, "sync", env=store.env)
        assert again.exit_code == 0, again.output
    assert credctl(project, "plan", "--detailed-exitcode", env=store.env).exit_code == 0


@pytest.mark.integration
def test_a_soft_deleted_vault_secret_is_never_written_over(
    tmp_path: Path, openbao: OpenBao
) -> None:
    """`bao kv delete` of a credctl secret: sync used to write a new generated version."""
    store = Store("vault", openbao)
    project, prefix = project_on(tmp_path, store, [row()])
    name = f"{prefix}stripe/api-key"
    assert credctl(project, "sync", env=store.env).exit_code == 0
    openbao.bao("kv", "delete", "-mount=secret", name)
    for _ in range(2):
        refused = credctl(project, "sync", env=store.env)
        assert refused.exit_code == 3, refused.output
    meta = openbao.client().secrets.kv.v2.read_secret_metadata(path=name, mount_point="secret")
    assert meta["data"]["current_version"] == 1
    assert meta["data"]["versions"]["1"]["deletion_time"]


@pytest.mark.integration
def test_a_destroyed_vault_version_comes_back_only_with_recreate(
    tmp_path: Path, openbao: OpenBao
) -> None:
    store = Store("vault", openbao)
    rows = [row(), row(service="Google", credential_type="Client Secret")]
    project, prefix = project_on(tmp_path, store, rows)
    assert credctl(project, "sync", env=store.env).exit_code == 0
    google = f"{prefix}google/client-secret"
    assert (
        credctl(project, "set", "prod/google/client-secret", input="s1", env=store.env).exit_code
        == 0
    )
    old = credctl(project, "get", "prod/stripe/api-key", env=store.env).stdout
    for name in (f"{prefix}stripe/api-key", google):
        current = openbao.client().secrets.kv.v2.read_secret_metadata(
            path=name, mount_point="secret"
        )
        version = str(current["data"]["current_version"])
        openbao.bao("kv", "destroy", "-mount=secret", f"-versions={version}", name)

    audit = {c["id"]: c for c in audit_of(project, store)["credentials"]}
    generated, manual = audit["prod/stripe/api-key"], audit["prod/google/client-secret"]
    assert (generated["status"], manual["status"]) == ("deleted", "deleted")
    assert (
        "its current version 1 is destroyed, so its value cannot be restored"
        in (generated["findings"][0]["message"])
    )
    assert (
        "give it a new generated value: 'credctl sync --recreate --env prod'"
        in (generated["findings"][0]["message"])
    )
    assert (
        "give it a new value: printf '%s' \"$VALUE\" | credctl set prod/google/client-secret "
        "--recreate" in manual["findings"][0]["message"]
    )
    # --restore cannot bring a destroyed value back: nothing written, the hint says --recreate
    restore = credctl(project, "sync", "--restore", env=store.env)
    assert restore.exit_code == 3, restore.output
    assert "credctl sync --recreate --env prod" in restore.output
    assert (
        credctl(project, "set", "prod/google/client-secret", input="s2", env=store.env).exit_code
        == 3
    )

    recreated = credctl(project, "sync", "--recreate", env=store.env)
    assert recreated.exit_code == 3, recreated.output  # the manual one still needs a person
    assert "+ recreate    prod/stripe/api-key" in recreated.stdout
    assert "credctl set prod/google/client-secret --recreate" in recreated.stderr
    new = credctl(project, "get", "prod/stripe/api-key", env=store.env)
    assert new.exit_code == 0, new.output
    assert new.stdout not in ("", old)
    given = credctl(
        project, "set", "prod/google/client-secret", "--recreate", input=CANARY, env=store.env
    )
    assert given.exit_code == 0, given.output
    assert credctl(project, "get", "prod/google/client-secret", env=store.env).stdout == CANARY
    statuses = {c["id"]: c["status"] for c in audit_of(project, store)["credentials"]}
    assert statuses == {"prod/stripe/api-key": "ok", "prod/google/client-secret": "ok"}
    assert credctl(project, "sync", env=store.env).exit_code == 0


def test_a_deleted_secret_without_a_row_is_not_an_orphan(tmp_path: Path) -> None:
    store = Store("local")
    project, _ = project_on(tmp_path, store, [row(), row(service="Old")])
    assert credctl(project, "sync", env=store.env).exit_code == 0
    table = project / "credentials.md"
    kept = [line for line in table.read_text().splitlines(True) if "| Old |" not in line]
    table.write_text("".join(kept))
    assert credctl(project, "sync", "--prune", env=store.env).exit_code == 0
    plan = credctl(project, "plan", "--detailed-exitcode", env=store.env)
    assert (plan.exit_code, "! orphan" in plan.stdout) == (0, False)
    audit = audit_of(project, store)
    assert [f["code"] for f in audit["findings"]] == []
    # the row back: its secret is deleted, and the one way out restores it
    table.write_text(table.read_text() + row(service="Old"))
    assert credctl(project, "sync", env=store.env).exit_code == 3
    assert credctl(project, "sync", "--restore", env=store.env).exit_code == 0
    assert audit_of(project, store)["credentials"][1]["status"] == "ok"


@pytest.mark.integration
def test_a_vault_deletion_still_to_come_is_not_a_deleted_secret(
    tmp_path: Path, openbao: OpenBao
) -> None:
    """`delete_version_after` gives every version a deletion_time ahead: readable until then."""
    store = Store("vault", openbao)
    project, prefix = project_on(tmp_path, store, [row()])
    name = f"{prefix}stripe/api-key"
    openbao.client().secrets.kv.v2.update_metadata(
        path=name, delete_version_after="24h", mount_point="secret"
    )
    assert credctl(project, "sync", env=store.env).exit_code == 0
    meta = openbao.client().secrets.kv.v2.read_secret_metadata(path=name, mount_point="secret")
    assert meta["data"]["versions"]["1"]["deletion_time"]  # set, and a day ahead
    assert audit_of(project, store)["credentials"][0]["status"] == "ok"
    assert credctl(project, "get", "prod/stripe/api-key", env=store.env).exit_code == 0


def test_import_of_a_destroyed_vault_secret_names_the_way_out_that_works(
    tmp_path: Path, openbao: OpenBao
) -> None:
    """A destroyed value cannot be restored: import says to add the row and --recreate."""
    store = Store("vault", openbao)
    project, prefix = project_on(tmp_path, store, [])
    name = f"{prefix}google/client-secret"
    openbao.bao("kv", "put", "-mount=secret", name, "value=old")
    openbao.bao("kv", "destroy", "-mount=secret", "-versions=1", name)
    imported = credctl(project, "import", env=store.env)
    assert imported.exit_code == 0, imported.output
    assert "destroyed in Vault" in imported.output
    assert "restore it in the store" not in imported.output
    assert "then give it a new value with 'credctl set ID --recreate'" in imported.output
    # followed: the row by hand, then a value a person gives
    table = project / "credentials.md"
    table.write_text(table.read_text() + row(service="Google", credential_type="Client Secret"))
    given = credctl(
        project, "set", "prod/google/client-secret", "--recreate", input=CANARY, env=store.env
    )
    assert given.exit_code == 0, given.output
    assert credctl(project, "get", "prod/google/client-secret", env=store.env).stdout == CANARY
    assert audit_of(project, store)["credentials"][0]["status"] == "ok"
