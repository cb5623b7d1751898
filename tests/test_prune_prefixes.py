"""Environments sharing one store: overlapping prefixes are refused, and `sync --prune`
never touches a secret under another environment's prefix (local, moto_server, OpenBao)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.support.contract import CANARY
from tests.support.fixtures import Store
from tests.support.projects import make_project, row
from tests.support.runner import credctl

POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  API Key: {secret: true, rotator: generate, generator: {kind: token, bytes: 16}}
"""


def changes(project: Path, store: Store, *args: str) -> list[tuple[str, str]]:
    result = credctl(project, "plan", "--format", "json", *args, env=store.env)
    assert result.exit_code == 0, result.output
    return [(c["action"], c["id"]) for c in json.loads(result.stdout)["changes"]]


@pytest.mark.integration
def test_overlapping_prefixes_on_one_store_name_both_files(tmp_path: Path, store: Store) -> None:
    base = f"ov-{uuid.uuid4().hex[:8]}/"
    project = make_project(
        tmp_path,
        [row()],
        environments={
            "prod": store.environment_yaml(base + "prod/"),
            "all": store.environment_yaml(base),
        },
        policies={"default.yaml": POLICY},
    )
    refused = credctl(project, "validate", env=store.env)
    assert refused.exit_code == 2, refused.output
    assert "environments/prod.yaml" in refused.stderr
    assert "(environments/all.yaml)" in refused.stderr
    for command in (["sync", "--prune"], ["plan", "--prune"], ["audit"]):
        assert credctl(project, *command, env=store.env).exit_code == 2


@pytest.mark.integration
def test_prune_never_touches_another_environments_secrets(tmp_path: Path, store: Store) -> None:
    base = f"pp-{uuid.uuid4().hex[:8]}/"
    # prod/ and prod-eu/ share a string prefix but not a path: each its own environment
    environments = {"prod": base + "prod/", "prod-eu": base + "prod-eu/"}
    rows = [
        row(service=service, environment=environment)
        for environment in environments
        for service in ("Stripe", "Old")
    ]
    project = make_project(
        tmp_path,
        rows,
        environments={env: store.environment_yaml(prefix) for env, prefix in environments.items()},
        policies={"default.yaml": POLICY},
    )
    assert credctl(project, "sync", env=store.env).exit_code == 0
    table = project / "credentials.md"
    kept = [line for line in table.read_text().splitlines(True) if "| Old |" not in line]
    table.write_text("".join(kept))
    store.put_unmanaged(str(project), f"{base}prod/legacy/api-key", CANARY)
    prod_old = f"{store.scheme_prefix()}{base}prod/old/api-key"
    eu_old = f"{store.scheme_prefix()}{base}prod-eu/old/api-key"
    legacy = f"{store.scheme_prefix()}{base}prod/legacy/api-key"

    planned = changes(project, store, "--prune", "--env", "prod")
    assert sorted(planned) == sorted([("prune", prod_old), ("unmanaged", legacy)])
    pruned = credctl(project, "sync", "--prune", "--env", "prod", env=store.env)
    assert pruned.exit_code == 0, pruned.output
    # prod-eu's orphan is untouched: still there, still an orphan of prod-eu only
    assert changes(project, store, "--env", "prod-eu") == [("orphan", eu_old)]
    assert changes(project, store, "--env", "prod") == [("unmanaged", legacy)]  # never pruned
    assert credctl(project, "sync", "--prune", env=store.env).exit_code == 0
    assert changes(project, store) == [("unmanaged", legacy)]
