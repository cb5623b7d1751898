"""Rows whose secret lives outside their environment's prefix (declared in `external:`):
read with one metadata read each, never created, never tagged as credctl's, rotated
when their type allows it (local, moto_server, OpenBao; secrets written by boto3, hvac)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from credctl.backends.base import BackendContext
from credctl.backends.pool import open_backend
from credctl.model import EnvironmentConfig
from credctl.secret import Secret
from tests.support.contract import CANARY
from tests.support.fixtures import Store
from tests.support.projects import make_project, row
from tests.support.runner import credctl
from tests.support.servers import MotoServer, OpenBao

POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  Database Password: {secret: true, max_age: 30d, rotator: generate, generator: {kind: password, length: 24}}
"""


def external_secret(store: Store, project: Path) -> tuple[str, str, str]:
    """A JSON secret another system keeps (RDS's own, or a shared path): (name, the row's
    reference, the `external:` entry)."""
    tag = uuid.uuid4().hex[:8]
    document = json.dumps({"username": "app", "password": CANARY, "port": 5432})
    if isinstance(store.server, MotoServer):
        name = f"rds!cluster-{tag}"  # what AWS names the secret RDS manages for a cluster
        store.server.client().create_secret(
            Name=name,
            SecretString=document,
            Tags=[{"Key": "aws:rds:primaryDBClusterArn", "Value": f"arn:aws:rds:::cluster:{tag}"}],
        )
        return name, f"aws-sm://{name}#password", "rds!cluster-*"
    name = f"shared-{tag}/db"
    if isinstance(store.server, OpenBao):
        store.server.client().secrets.kv.v2.create_or_update_secret(
            path=name, secret=json.loads(document), mount_point="secret"
        )
        return name, f"vault://secret/{name}#password", f"shared-{tag}/"
    environment = EnvironmentConfig.model_validate(
        {"name": "other", "backend": {"type": "local", "prefix": f"shared-{tag}/"}}
    )
    open_backend(environment, BackendContext(project_dir=project)).create(
        name, {}, Secret(document)
    )
    return name, f"local://{name}#password", f"shared-{tag}/"


def project_with(tmp_path: Path, store: Store, reference: str, external: str) -> Path:
    prefix = f"x-{uuid.uuid4().hex[:8]}/"
    return make_project(
        tmp_path,
        [row("Postgres", "prod", "Database Password", reference, schedule="30d")],
        environments={"prod": store.environment_yaml(prefix, external=f"['{external}']")},
        policies={"default.yaml": POLICY},
    )


def audit_json(project: Path, store: Store, *args: str) -> tuple[dict[str, Any], str]:
    result = credctl(
        project, "audit", "--format", "json", "--fail-on", "never", *args, env=store.env
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


@pytest.mark.integration
def test_an_external_secret_is_read_never_created_and_rotated_when_asked(
    tmp_path: Path, store: Store
) -> None:
    # the project first: the local store's key lives in it
    project = project_with(tmp_path, store, "local://placeholder", "placeholder/")
    name, reference, external = external_secret(store, project)
    project = project_with(tmp_path, store, reference, external)
    assert credctl(project, "validate", env=store.env).exit_code == 0

    audit, debug = audit_json(project, store, "-vv")
    [credential] = audit["credentials"]
    assert credential["status"] == "never-rotated", credential
    assert credential["age_days"] == 0  # aged from the store's record of it, not "missing"
    assert [f["code"] for f in credential["findings"]] == ["never-rotated"]
    described = [line for line in debug.splitlines() if name in line and "debug:" in line]
    if store.kind == "aws":
        assert [line.split(":")[2].strip() for line in described] == [f"AWS DescribeSecret {name}"]
    elif store.kind == "vault":
        assert [line.split(": ")[2] for line in described] == [f"Vault read secret/metadata/{name}"]

    for _ in range(2):  # nothing to create, nothing of credctl's to put on it
        synced = credctl(project, "sync", env=store.env)
        assert synced.exit_code == 0, synced.output
    assert credctl(project, "plan", "--detailed-exitcode", env=store.env).exit_code == 0
    assert not any(key.startswith("credctl:") for key in store.metadata_of(project, name))

    rotated = credctl(project, "rotate", "prod/postgres/database-password", env=store.env)
    assert rotated.exit_code == 0, rotated.output
    value = credctl(project, "get", "prod/postgres/database-password", env=store.env).stdout
    assert value not in ("", CANARY)
    if isinstance(store.server, MotoServer):
        whole = json.loads(store.server.client().get_secret_value(SecretId=name)["SecretString"])
        assert (whole["username"], whole["port"]) == ("app", 5432)  # only #password changed
    # only the record of the rotation goes on another system's secret: the row's own
    # (#password's) date, actor and owner at the time (a later owner is a team change),
    # and the version it made current (a later one is the owner system's own rotation)
    keys = {k for k in store.metadata_of(project, name) if k.startswith("credctl:")}
    keys.discard("credctl:last-token")  # Vault's promote marks the version it wrote
    assert keys == {
        "credctl:field:password:last-rotated",
        "credctl:field:password:rotated-by",
        "credctl:field:password:owner-at-rotation",
        "credctl:version",
    }
    audit, _ = audit_json(project, store)
    assert audit["credentials"][0]["status"] == "ok"
    assert credctl(project, "plan", "--detailed-exitcode", env=store.env).exit_code == 0
    for text in (rotated.output, json.dumps(audit)):
        assert CANARY not in text
        assert value not in text


@pytest.mark.integration
def test_a_missing_external_secret_is_named_never_created(tmp_path: Path, store: Store) -> None:
    project = project_with(tmp_path, store, "local://placeholder", "placeholder/")
    name, reference, external = external_secret(store, project)
    gone = reference.replace(name, name + "-gone")
    project = project_with(tmp_path, store, gone, external)
    what = "it is outside prod's prefix (external), so credctl never creates it"
    audit, _ = audit_json(project, store)
    [finding] = audit["credentials"][0]["findings"]
    assert finding["code"] == "missing-in-backend"
    assert what in finding["message"]
    for command in (
        ["sync"],
        ["rotate", "prod/postgres/database-password"],
        ["get", "prod/postgres/database-password"],
    ):
        refused = credctl(project, *command, env=store.env)
        assert refused.exit_code == 3, (command, refused.output)
        assert what in refused.output, (command, refused.output)
    assert "! missing" in credctl(project, "plan", env=store.env).stdout
    described = credctl(project, "audit", env=store.env)
    assert name + "-gone" in described.stdout + described.stderr
