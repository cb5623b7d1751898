"""Where values other tools wrote (shapes, rows on fields, changes outside credctl) meet a
secret's life (deleted, restored, recreated, external, imported): on the local store,
moto_server and OpenBao, with the secrets written by boto3, hvac and the `bao` CLI."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from credctl.backends.base import Backend, BackendContext
from credctl.backends.pool import open_backend
from credctl.model import EnvironmentConfig, Ref
from credctl.secret import Secret
from tests.support.contract import CANARY
from tests.support.fixtures import Store
from tests.support.projects import make_project, row
from tests.support.runner import credctl
from tests.support.servers import MotoServer, OpenBao

POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  Database Password: {secret: true, rotator: generate, self_contained: true, generator: {kind: password, length: 24}}
  Client Secret: {secret: true, max_age: 180d, rotator: manual}
  Client ID: {secret: true, rotator: manual}
"""
DB = {"username": "app", "password": CANARY, "port": 5432}
PASSWORD = "prod/postgres/database-password"


def other_program(project: Path, name: str) -> Backend:
    """The local store as another program on this machine writes it (no credctl metadata)."""
    environment = EnvironmentConfig.model_validate(
        {"name": "other", "backend": {"type": "local", "prefix": name.split("/")[0] + "/"}}
    )
    return open_backend(environment, BackendContext(project_dir=project))


def seed(store: Store, project: Path, name: str, document: dict[str, Any]) -> None:
    """A JSON secret (KV data with several fields on Vault) that another tool made."""
    if isinstance(store.server, MotoServer):
        store.server.client().create_secret(Name=name, SecretString=json.dumps(document))
    elif isinstance(store.server, OpenBao):
        store.server.client().secrets.kv.v2.create_or_update_secret(
            path=name, secret=document, mount_point="secret"
        )
    else:
        other_program(project, name).create(name, {}, Secret(json.dumps(document)))


def whole(store: Store, project: Path, name: str) -> dict[str, Any]:
    """The secret's whole current value, read as another tool reads it."""
    if isinstance(store.server, MotoServer):
        text = store.server.client().get_secret_value(SecretId=name)["SecretString"]
        document: dict[str, Any] = json.loads(text)
        return document
    if isinstance(store.server, OpenBao):
        answer = store.server.client().secrets.kv.v2.read_secret_version(
            path=name, mount_point="secret", raise_on_deleted_version=True
        )
        data: dict[str, Any] = answer["data"]["data"]
        return data
    ref = Ref("local", name)
    value = other_program(project, name).read_values([ref])[ref]
    assert isinstance(value, Secret)
    found: dict[str, Any] = json.loads(value.reveal())
    return found


def put_outside(store: Store, project: Path, name: str, password: str) -> None:
    """Another tool writes a new password into the secret, keeping its other fields."""
    if isinstance(store.server, MotoServer):
        document = {**whole(store, project, name), "password": password}
        store.server.client().put_secret_value(SecretId=name, SecretString=json.dumps(document))
    elif isinstance(store.server, OpenBao):
        store.server.bao("kv", "patch", "-mount=secret", name, f"password={password}")
    else:
        backend = other_program(project, name)
        token = f"other-program-{uuid.uuid4().hex}"
        backend.put_pending(name, Secret(password), token, "password")
        backend.promote(name, token)


def findings_of(project: Path, store: Store) -> dict[str, list[dict[str, Any]]]:
    """Each row's findings, by id, from `audit --format json`."""
    result = credctl(project, "audit", "--format", "json", "--fail-on", "never", env=store.env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    return {c["id"]: c["findings"] for c in report["credentials"]}


def external_secret(store: Store) -> tuple[str, str, str]:
    """A secret another system owns: (its name, the row's reference, the `external:` entry)."""
    tag = uuid.uuid4().hex[:8]
    if store.kind == "aws":
        name = f"rds!cluster-{tag}"  # the secret RDS keeps for a cluster
        return name, f"aws-sm://{name}#password", "rds!cluster-*"
    name = f"shared-{tag}/db"
    return name, f"{store.scheme_prefix()}{name}#password", f"shared-{tag}/"


@pytest.mark.integration
def test_an_external_field_changed_outside_is_reported_as_sync_leaves_it(
    tmp_path: Path, store: Store
) -> None:
    """sync records no change made outside credctl on an external secret (it is another
    system's): the finding must not send the user to a sync that never clears it."""
    name, reference, external = external_secret(store)
    prefix = f"sl-{uuid.uuid4().hex[:8]}/"
    project = make_project(
        tmp_path,
        [row("Postgres", "prod", "Database Password", reference, "30d")],
        environments={"prod": store.environment_yaml(prefix, external=f"['{external}']")},
        policies={"default.yaml": POLICY},
    )
    seed(store, project, name, DB)
    for _ in range(2):
        synced = credctl(project, "sync", env=store.env)
        assert synced.exit_code == 0, synced.output
    rotated = credctl(project, "rotate", PASSWORD, env=store.env)
    assert rotated.exit_code == 0, rotated.output
    value = whole(store, project, name)
    assert (value["username"], value["port"]) == ("app", 5432)  # only #password changed
    assert value["password"] != CANARY

    put_outside(store, project, name, "changed-by-the-owner")
    recorded = store.metadata_of(project, name)
    [finding] = findings_of(project, store)[PASSWORD]
    assert finding["code"] == "changed-outside"
    assert finding["message"].endswith(
        "aged from that date ('credctl sync' writes it to the table; on an external secret "
        "credctl records only its own rotations)"
    ), finding["message"]
    for _ in range(2):  # what the finding says sync does, and nothing on the secret
        synced = credctl(project, "sync", env=store.env)
        assert synced.exit_code == 0, synced.output
    assert store.metadata_of(project, name) == recorded
    assert credctl(project, "plan", "--detailed-exitcode", env=store.env).exit_code == 0
    assert whole(store, project, name)["password"] == "changed-by-the-owner"


@pytest.mark.integration
def test_import_reads_what_credctl_kept_for_each_field(tmp_path: Path, store: Store) -> None:
    """A secret whose rows on fields left the table (another branch, a lost edit): import
    takes each row's owner, service, type, schedule and last rotation from its field's keys
    (`credctl:field:<field>:…`), so the rows it writes agree with the store at once."""
    prefix = f"sl-{uuid.uuid4().hex[:8]}/"
    name = f"{prefix}db/main"
    reference = f"{store.scheme_prefix()}{name}"
    rows = [
        row("Postgres", "prod", "Database Password", f"{reference}#password", "30d"),
        row("Postgres", "prod", "Client Secret", f"{reference}#client_secret", "60d", "", "@iam"),
    ]
    project = make_project(
        tmp_path,
        rows,
        environments={"prod": store.environment_yaml(prefix)},
        policies={"default.yaml": POLICY},
    )
    seed(store, project, name, {**DB, "client_secret": CANARY})
    assert credctl(project, "sync", env=store.env).exit_code == 0
    assert credctl(project, "rotate", PASSWORD, env=store.env).exit_code == 0
    given = credctl(project, "set", "prod/postgres/client-secret", input="s-1", env=store.env)
    assert given.exit_code == 0, given.output
    table = project / "credentials.md"
    kept = [line for line in table.read_text().splitlines(True) if "| Postgres |" not in line]
    table.write_text("".join(kept))

    imported = credctl(project, "import", env=store.env)
    assert imported.exit_code == 0, imported.output
    assert sorted(line for line in imported.stdout.splitlines() if line.startswith("+")) == [
        f"+ prod/postgres/client-secret  {reference}#client_secret  (owner @iam; other fields: "
        "port, username)",
        f"+ {PASSWORD}  {reference}#password  (owner @payments; other fields: port, username)",
    ]
    assert "| Postgres | prod | Database Password |" in table.read_text()
    assert "| Postgres | prod | Client Secret |" in table.read_text()
    validated = credctl(project, "validate", env=store.env)
    assert validated.exit_code == 0, validated.output
    assert credctl(project, "plan", "--detailed-exitcode", env=store.env).exit_code == 0
    assert findings_of(project, store) == {PASSWORD: [], "prod/postgres/client-secret": []}


def delete_outside(store: Store, project: Path, name: str) -> None:
    """Deleted the way each store's own tools do it (recoverable)."""
    if isinstance(store.server, MotoServer):
        store.server.client().delete_secret(SecretId=name, RecoveryWindowInDays=7)
    elif isinstance(store.server, OpenBao):
        store.server.bao("kv", "delete", "-mount=secret", name)
    else:
        other_program(project, name).schedule_delete(name)


@pytest.mark.integration
def test_recreate_over_a_value_the_row_would_damage_says_what_it_did(
    tmp_path: Path, store: Store
) -> None:
    """A row without #field on a deleted JSON secret: the deleted state wins, and its way
    out works. --recreate must restore the secret to see its shape; when it then refuses
    the write, it says the secret is back, and its hint (not "sync again") leads out."""
    prefix = f"sl-{uuid.uuid4().hex[:8]}/"
    name = f"{prefix}db/main"
    reference = f"{store.scheme_prefix()}{name}"
    project = make_project(
        tmp_path,
        [row("Postgres", "prod", "Database Password", reference, "30d")],
        environments={"prod": store.environment_yaml(prefix)},
        policies={"default.yaml": POLICY},
    )
    seed(store, project, name, DB)
    assert credctl(project, "sync", env=store.env).exit_code == 0
    restored = "the deleted secret is restored with its old value"
    fix = f"reference the field this row holds, e.g. {reference}#password (one row per field)"

    delete_outside(store, project, name)
    refused = credctl(project, "sync", env=store.env)
    assert refused.exit_code == 3, refused.output
    assert "credctl sync --restore --env prod" in refused.stderr
    given = credctl(project, "set", PASSWORD, "--recreate", input="new-value", env=store.env)
    assert given.exit_code == 2, given.output
    assert f"{reference} holds " in given.stderr
    assert restored in given.stderr, given.stderr
    assert f"(hint: {fix})" in given.stderr
    assert whole(store, project, name) == DB
    assert findings_of(project, store)[PASSWORD][0]["code"] != "deleted"

    delete_outside(store, project, name)
    recreated = credctl(project, "sync", "--recreate", env=store.env)
    assert recreated.exit_code == 2, recreated.output
    assert restored in recreated.stderr, recreated.stderr
    assert f"(hint: {fix})" in recreated.stderr
    assert whole(store, project, name) == DB
    for output in (refused.output, given.output, recreated.output):
        assert CANARY not in output

    table = project / "credentials.md"  # the hint followed
    table.write_text(table.read_text().replace(f"| {reference} |", f"| {reference}#password |"))
    assert credctl(project, "sync", env=store.env).exit_code == 0
    rotated = credctl(project, "rotate", PASSWORD, env=store.env)
    assert rotated.exit_code == 0, rotated.output
    value = whole(store, project, name)
    assert (value["username"], value["port"]) == ("app", 5432)
    assert value["password"] != CANARY
    assert credctl(project, "plan", "--detailed-exitcode", env=store.env).exit_code == 0


MANY = {
    "api_key": "API Key",
    "client_secret": "Client Secret",
    "password": "Database Password",
    "access_token": "Access Token",
    "signing_secret": "Signing Secret",
    "private_key": "Private Key",
    "webhook_secret": "Webhook Secret",
    "refresh_token": "Refresh Token",
}
# rows on fields of one secret whose metadata each store holds beside credctl's two keys
ROOM = {"local": len(MANY), "aws": 5, "vault": 7}


@pytest.mark.integration
def test_import_adds_no_more_rows_on_fields_than_the_store_keeps_metadata_for(
    tmp_path: Path, store: Store
) -> None:
    """A JSON secret with many credential fields: import wrote a row for each, then plan and
    sync refused the whole environment (exit 2) until rows were removed by hand."""
    prefix = f"sl-{uuid.uuid4().hex[:8]}/"
    name = f"{prefix}app/config"
    types = "".join(f"  {kind}: {{secret: true, rotator: manual}}\n" for kind in MANY.values())
    project = make_project(
        tmp_path,
        [],
        environments={"prod": store.environment_yaml(prefix)},
        policies={"default.yaml": "credential_types:\n" + types},
    )
    seed(store, project, name, {**dict.fromkeys(MANY, CANARY), "region": "eu-west-1"})

    imported = credctl(project, "import", env=store.env)
    assert imported.exit_code == 0, imported.output
    added = [line for line in imported.stdout.splitlines() if line.startswith("+")]
    left = [line for line in imported.stdout.splitlines() if line.startswith("!")]
    assert (len(added), len(left)) == (ROOM[store.kind], len(MANY) - ROOM[store.kind])
    store_label = {"aws": "AWS Secrets Manager", "vault": "the Vault mount secret/"}
    for line in left:
        assert line.endswith(
            f"(the secret has room in {store_label[store.kind]} for the metadata of "
            f"{ROOM[store.kind]} rows on its fields: add this row by hand in place of "
            "another, or keep this credential in a secret of its own)"
        ), line
    table = project / "credentials.md"
    table.write_text(table.read_text().replace("| never |  |", "| never | @platform |"))
    assert credctl(project, "validate", env=store.env).exit_code == 0
    synced = credctl(project, "sync", env=store.env)
    assert synced.exit_code == 0, synced.output
    assert credctl(project, "plan", "--detailed-exitcode", env=store.env).exit_code == 0
    assert CANARY not in imported.output + synced.output


@pytest.mark.integration
def test_a_secret_restored_before_credctl_adopted_it_dates_later_outside_changes(
    tmp_path: Path, store: Store
) -> None:
    """Rows on fields of a secret another tool made and deleted before any sync: `sync
    --restore` adopts it as a sync of a secret that is there would (the version it holds is
    the one credctl knows), so a value another tool writes later is seen and dated."""
    prefix = f"sl-{uuid.uuid4().hex[:8]}/"
    name = f"{prefix}db/main"
    reference = f"{store.scheme_prefix()}{name}"
    rows = [
        row("Postgres", "prod", "Database Password", f"{reference}#password", "30d"),
        row("Postgres", "prod", "Client Secret", f"{reference}#client_secret", "60d", "", "@iam"),
    ]
    project = make_project(
        tmp_path,
        rows,
        environments={"prod": store.environment_yaml(prefix)},
        policies={"default.yaml": POLICY},
    )
    seed(store, project, name, {**DB, "client_secret": CANARY})
    delete_outside(store, project, name)
    restored = credctl(project, "sync", "--restore", env=store.env)
    assert restored.exit_code == 0, restored.output
    assert "version" in restored.stdout  # recorded as the adoption records it
    assert credctl(project, "plan", "--detailed-exitcode", env=store.env).exit_code == 0

    put_outside(store, project, name, "changed-by-another-tool")
    findings = findings_of(project, store)
    for credential_id in (PASSWORD, "prod/postgres/client-secret"):
        assert [f["code"] for f in findings[credential_id]] == ["changed-outside", "table-drift"]
    synced = credctl(project, "sync", env=store.env)
    assert synced.exit_code == 0, synced.output
    assert "changed outside" in synced.stdout
    assert credctl(project, "plan", "--detailed-exitcode", env=store.env).exit_code == 0


@pytest.mark.integration
def test_import_adds_a_field_credctl_kept_a_row_for_whatever_its_name(
    tmp_path: Path, store: Store
) -> None:
    """`#client_id` does not look like a credential, but the store holds credctl's keys for
    a row on it: import adds that row back instead of listing the field as a setting."""
    prefix = f"sl-{uuid.uuid4().hex[:8]}/"
    name = f"{prefix}google/oauth"
    reference = f"{store.scheme_prefix()}{name}"
    rows = [
        row("Google", "prod", "Client ID", f"{reference}#client_id", "90d", "", "@identity"),
        row("Google", "prod", "Client Secret", f"{reference}#client_secret", "90d", "", "@iam"),
    ]
    project = make_project(
        tmp_path,
        rows,
        environments={"prod": store.environment_yaml(prefix)},
        policies={"default.yaml": POLICY},
    )
    seed(store, project, name, {"client_id": "id-1", "client_secret": CANARY, "region": "eu"})
    assert credctl(project, "sync", env=store.env).exit_code == 0
    table = project / "credentials.md"
    kept = [line for line in table.read_text().splitlines(True) if "| Google |" not in line]
    table.write_text("".join(kept))

    imported = credctl(project, "import", env=store.env)
    assert imported.exit_code == 0, imported.output
    assert sorted(line for line in imported.stdout.splitlines() if line.startswith("+")) == [
        f"+ prod/google/client-id  {reference}#client_id  (owner @identity; other fields: region)",
        f"+ prod/google/client-secret  {reference}#client_secret  (owner @iam; other fields: "
        "region)",
    ]
    assert credctl(project, "validate", env=store.env).exit_code == 0
    assert credctl(project, "plan", "--detailed-exitcode", env=store.env).exit_code == 0
