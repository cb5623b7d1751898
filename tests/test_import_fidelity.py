"""`credctl import` of a store other tools filled (boto3, the `bao` CLI, another program on
the local store): every path segment kept, owners from the tags a team already uses,
#field rows for structured values, collisions and unknown types reported, and every row
written passes `validate` once its owner is filled in (local, moto_server, OpenBao)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from credctl.backends.base import BackendContext
from credctl.backends.pool import open_backend
from credctl.model import EnvironmentConfig
from credctl.secret import Secret
from tests.support.fixtures import Store
from tests.support.projects import make_project
from tests.support.runner import credctl
from tests.support.servers import MotoServer, OpenBao

POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  API Key: {secret: true, max_age: 90d, rotator: generate, generator: {kind: token, bytes: 16}}
  Database Password: {secret: true, max_age: 30d, rotator: generate, generator: {kind: password, length: 24}}
  Client Secret: {secret: true, max_age: 180d, rotator: manual}
"""
DB = {"username": "app", "password": "pw-Vq3Lm8", "host": "db.internal"}


def seed(
    store: Store,
    project: Path,
    prefix: str,
    name: str,
    value: str | dict[str, str],
    metadata: dict[str, str],
) -> None:
    """A secret written by another tool: boto3, the bao CLI, or straight into the local store."""
    full = prefix + name
    text = value if isinstance(value, str) else json.dumps(value)
    if isinstance(store.server, MotoServer):
        tags = [{"Key": key, "Value": text_} for key, text_ in metadata.items()]
        store.server.client().create_secret(Name=full, SecretString=text, Tags=tags)
    elif isinstance(store.server, OpenBao):
        fields = value.items() if isinstance(value, dict) else [("value", value)]
        store.server.bao("kv", "put", "-mount=secret", full, *(f"{k}={v}" for k, v in fields))
        if metadata:
            custom = [f"-custom-metadata={k}={v}" for k, v in metadata.items()]
            store.server.bao("kv", "metadata", "put", "-mount=secret", *custom, full)
    else:
        environment = EnvironmentConfig.model_validate(
            {"name": "seed", "backend": {"type": "local", "prefix": prefix}}
        )
        open_backend(environment, BackendContext(project_dir=project)).create(
            full, metadata, Secret(text)
        )


@pytest.mark.integration
def test_import_keeps_what_the_store_says(tmp_path: Path, store: Store) -> None:
    prefix = f"im-{uuid.uuid4().hex[:8]}/"
    project = make_project(
        tmp_path,
        [],
        environments={"prod": store.environment_yaml(prefix, owner_keys="[squad]")},
        policies={"default.yaml": POLICY},
    )
    deep = "teams/payments/eu/west/psp/adyen/api-key"
    seed(
        store,
        project,
        prefix,
        deep,
        "deep-value",
        {"Owner": "@payments", "credctl:schedule": "400d"},
    )
    seed(store, project, prefix, "postgres/main", DB, {"team": "@platform"})
    seed(
        store,
        project,
        prefix,
        "stripe/api-key",
        "stripe-1",
        {"credctl:owner": "@stripe", "Owner": "@other"},
    )
    seed(store, project, prefix, "stripe/api_key", "stripe-2", {})
    seed(store, project, prefix, "billing/api-key", "billing-value", {"squad": "@billing"})
    seed(store, project, prefix, "misc/blob", "blob-value", {})
    spaced = store.kind != "aws"  # AWS names cannot hold a space; Vault and local ones can
    if spaced:
        seed(store, project, prefix, "team x/api key", "spaced-value", {})
    scheme = store.scheme_prefix() + prefix

    dry = credctl(project, "import", "--dry-run", env=store.env)
    assert dry.exit_code == 0, dry.output
    imported = credctl(project, "import", env=store.env)
    assert imported.exit_code == 0, imported.output
    lines = imported.stdout.splitlines()
    expected = [
        f"+ prod/billing/api-key  {scheme}billing/api-key  (owner @billing)",
        f"+ prod/postgres-main/database-password  {scheme}postgres/main#password  "
        "(owner @platform; other fields: host, username)",
        f"+ prod/stripe/api-key  {scheme}stripe/api-key  (owner @stripe)",
    ]
    if spaced:
        expected.append(f"+ prod/team-x/api-key  {scheme}team%20x/api%20key  (no owner: set one)")
    expected.append(
        f"+ prod/teams-payments-eu-west-psp-adyen/api-key  {scheme}{deep}  (owner @payments)"
    )
    assert [line for line in lines if line.startswith("+")] == expected
    not_added = [line for line in lines if line.startswith("!")]
    assert not_added == [
        f"! not added: {scheme}misc/blob  (no credential type of policies/ matches 'blob': add "
        "one, or tag the secret credctl:type with its type, then import again)",
        f"! not added: {scheme}stripe/api_key  (its id prod/stripe/api-key would also be the id "
        f"of {scheme}stripe/api-key, which is added; add this one by hand with a Service that "
        "tells the two apart)",
    ]
    if spaced:
        assert "1 needs an owner (prod/team-x/api-key): fill in its Owner cell" in imported.stderr
    table = (project / "credentials.md").read_text()
    assert f"| Teams/Payments/Eu/West/Psp/Adyen | prod | API Key | {scheme}{deep} | 90d |" in table
    assert "| Postgres/Main | prod | Database Password |" in table
    for value in ("deep-value", "pw-Vq3Lm8", "stripe-1", "billing-value", "spaced-value"):
        assert value not in imported.output + dry.output + table

    # owners filled in, every row validates and reads back the very secret it came from
    filled = re.sub(r"\| never \|  \|$", "| never | @filled |", table, flags=re.MULTILINE)
    (project / "credentials.md").write_text(filled)
    validated = credctl(project, "validate", env=store.env)
    assert validated.exit_code == 0, validated.output
    reads = {
        "prod/teams-payments-eu-west-psp-adyen/api-key": "deep-value",
        "prod/postgres-main/database-password": DB["password"],
        "prod/stripe/api-key": "stripe-1",
    }
    if spaced:
        reads["prod/team-x/api-key"] = "spaced-value"
    for credential_id, value in reads.items():
        got = credctl(project, "get", credential_id, env=store.env)
        assert (got.exit_code, got.stdout) == (0, value), (credential_id, got.output)
    synced = credctl(project, "sync", env=store.env)
    assert synced.exit_code == 0, synced.output
    again = credctl(project, "import", "--dry-run", env=store.env)
    assert not [line for line in again.stdout.splitlines() if line.startswith("+")]
