"""-vv: debug lines that say what credctl asked each store, and never a value."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.support.fixtures import Store
from tests.support.projects import make_project, row
from tests.support.runner import credctl

CANARY = "canary-Dq8Wm3Zt6Lx1Vb4Nk9Hs"
POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  API Key: {secret: true, rotator: generate, generator: {kind: token, bytes: 16}}
"""
# one line a store call, as each backend says it
CALLS = {
    "local": ("debug: prod: read .credctl/store/store.json (",),
    "aws": ("debug: prod: AWS ",),
    # an audit on OpenBao lists with one SCAN, reads and writes name their path
    "vault": ("debug: prod: Vault read secret/", "debug: prod: Vault scan secret/"),
}


@pytest.mark.integration
def test_vv_logs_each_store_call_without_values(tmp_path: Path, store: Store) -> None:
    prefix = f"d-{uuid.uuid4().hex[:8]}/"
    project = make_project(
        tmp_path,
        [row()],
        environments={"prod": store.environment_yaml(prefix)},
        policies={"default.yaml": POLICY},
    )
    assert credctl(project, "sync", env=store.env).exit_code == 0
    stored = credctl(project, "set", "prod/stripe/api-key", "-vv", input=CANARY, env=store.env)
    assert stored.exit_code == 0, stored.output
    got = credctl(project, "get", "prod/stripe/api-key", "-vv", env=store.env)
    audited = credctl(project, "audit", "-vv", "--fail-on", "never", env=store.env)
    for result in (stored, got, audited):
        debug = [line for line in result.stderr.splitlines() if line.startswith("debug: ")]
        assert debug, result.stderr
        assert debug[0].startswith("debug: project "), debug[0]
        assert any(line.startswith(CALLS[store.kind]) for line in debug), debug
        assert CANARY not in result.stderr
    assert got.stdout == CANARY
    quiet = credctl(project, "audit", "-v", "--fail-on", "never", env=store.env)
    assert "debug: " not in quiet.stderr
