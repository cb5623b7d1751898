"""credctl rotate end to end on the local store, moto_server and OpenBao."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from credctl.audit import Backends
from credctl.model import META_LAST_ROTATED
from credctl.project import Project, load_project
from credctl.settings import load_settings
from tests.projects import REPO, credctl, make_project, row
from tests.support.fixtures import Store
from tests.support.proxy import Proxy

POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  API Key: {secret: true, rotator: generate, generator: {kind: token, bytes: 32, prefix: sk_}}
  Webhook Secret: {secret: true, rotator: generate, generator: {kind: token, bytes: 16, encoding: hex}}
  Verified Key:
    secret: true
    rotator: generate
    generator: {kind: password, length: 20}
    verify: ["sh", "-c", "exit 1"]
  Applied Key:
    secret: true
    rotator: command
    generator: {kind: password, length: 20}
    command: ["sh", "-c", "cat > /dev/null; if [ -n \\"$CRASH_MARK\\" ] && [ ! -e \\"$CRASH_MARK\\" ]; then touch \\"$CRASH_MARK\\"; kill -9 $PPID; sleep 5; fi; sleep ${APPLY_SLEEP:-0}"]
  Client Secret: {secret: true, max_age: 180d, rotator: manual}
"""
TODAY = datetime.now(UTC).strftime("%Y-%m-%d")


def setup(tmp_path: Path, store: Store, kinds: list[str]) -> tuple[Path, str]:
    prefix = f"r-{uuid.uuid4().hex[:8]}/"
    rows = [row(service="Stripe", credential_type=kind, schedule="90d") for kind in kinds]
    project = make_project(
        tmp_path,
        rows,
        environments={"prod": store.environment_yaml(prefix)},
        policies={"default.yaml": POLICY},
    )
    synced = credctl(project, "sync", env=store.env)
    assert synced.exit_code == 0, synced.output
    if "Applied Key" in kinds:  # a command rotator's type gets no generated first value
        first = credctl(
            project, "set", "prod/stripe/applied-key", input="first-value", env=store.env
        )
        assert first.exit_code == 0, first.output
    return project, prefix


def open_project(
    project: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> tuple[Project, Backends]:
    for key, value in store.env.items():
        monkeypatch.setenv(key, value)
    loaded = load_project(load_settings(project))
    return loaded, Backends(loaded)


def backend_of(project: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> object:
    loaded, backends = open_project(project, store, monkeypatch)
    return backends.get(loaded.environment("prod"))


def value(project: Path, store: Store, credential_id: str) -> str:
    result = credctl(project, "get", credential_id, env=store.env)
    assert result.exit_code == 0, result.output
    return result.stdout


def info(backend: object, name: str) -> object:
    return next(i for i in backend.list_secrets() if i.name == name)  # type: ignore[attr-defined]


@pytest.mark.integration
def test_overdue_rotates_and_fresh_is_untouched(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, prefix = setup(tmp_path, store, ["API Key", "Webhook Secret"])
    backend = backend_of(project, store, monkeypatch)
    name = f"{prefix}stripe/api-key"
    backend.set_metadata(name, {META_LAST_ROTATED: "2025-01-01T00:00:00Z"})  # type: ignore[attr-defined]
    old = value(project, store, "prod/stripe/api-key")
    fresh = value(project, store, "prod/stripe/webhook-secret")
    previous_version = info(backend, name).current_version  # type: ignore[attr-defined]
    dry = credctl(project, "rotate", "--due", "--dry-run", env=store.env)
    assert "prod/stripe/api-key" in dry.stdout
    assert "overdue" in dry.stdout
    assert "webhook" not in dry.stdout
    rotated = credctl(
        project, "rotate", "--due", "--format", "json", "--actor", "alice", env=store.env
    )
    assert rotated.exit_code == 0, rotated.output
    results = json.loads(rotated.stdout)["results"]
    assert [(r["id"], r["outcome"]) for r in results] == [("prod/stripe/api-key", "rotated")]
    new = value(project, store, "prod/stripe/api-key")
    assert new != old
    assert re.fullmatch(r"sk_[A-Za-z0-9_-]{43}", new)
    assert value(project, store, "prod/stripe/webhook-secret") == fresh
    assert backend.read_version(name, previous_version).reveal() == old  # type: ignore[attr-defined]
    audit = json.loads(
        credctl(project, "audit", "--format", "json", "--fail-on", "never", env=store.env).stdout
    )
    status = next(c for c in audit["credentials"] if c["id"] == "prod/stripe/api-key")
    assert status["status"] == "ok"
    assert status["rotated_by"] == "alice"
    table = (project / "credentials.md").read_text()
    assert f"| {TODAY} |" in next(line for line in table.splitlines() if "| API Key |" in line)
    log = (project / ".credctl" / "audit.jsonl").read_text()
    for text in (dry.output, rotated.output, log, json.dumps(audit)):
        assert old not in text
        assert new not in text


@pytest.mark.integration
def test_verify_failure_rolls_back(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, prefix = setup(tmp_path, store, ["Verified Key"])
    old = value(project, store, "prod/stripe/verified-key")
    result = credctl(project, "rotate", "prod/stripe/verified-key", env=store.env)
    assert result.exit_code == 4, result.output
    assert "verify command exited 1" in result.stdout
    assert "rolled back" in result.stdout
    assert value(project, store, "prod/stripe/verified-key") == old
    backend = backend_of(project, store, monkeypatch)
    assert info(backend, f"{prefix}stripe/verified-key").pending is None  # type: ignore[attr-defined]
    entries = [
        json.loads(line) for line in (project / ".credctl" / "audit.jsonl").read_text().splitlines()
    ]
    assert entries[-1]["action"] == "rotate"
    assert entries[-1]["outcome"] == "failed"
    assert old not in result.output


@pytest.mark.integration
def test_killed_after_pending_then_resumed(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, prefix = setup(tmp_path, store, ["Applied Key"])
    name = f"{prefix}stripe/applied-key"
    old = value(project, store, "prod/stripe/applied-key")
    mark = tmp_path / "crashed-once"
    env = {**store.env, "CRASH_MARK": str(mark)}
    killed = credctl(project, "rotate", "prod/stripe/applied-key", env=env)
    assert killed.exit_code == -9, killed.output  # SIGKILL between the pending write and promotion
    assert value(project, store, "prod/stripe/applied-key") == old
    backend = backend_of(project, store, monkeypatch)
    staged = info(backend, name)
    assert staged.pending is not None  # type: ignore[attr-defined]
    pending_value = backend.read_pending(name, staged.pending.token)  # type: ignore[attr-defined]
    resumed = credctl(project, "rotate", "prod/stripe/applied-key", "--format", "json", env=env)
    assert resumed.exit_code == 0, resumed.output
    [result] = json.loads(resumed.stdout)["results"]
    assert result["outcome"] == "resumed"
    assert value(project, store, "prod/stripe/applied-key") == pending_value.reveal()
    assert backend.read_version(name, staged.current_version).reveal() == old  # type: ignore[attr-defined]
    assert info(backend, name).pending is None  # type: ignore[attr-defined]


@pytest.mark.integration
def test_abort_discards_an_interrupted_rotation(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, prefix = setup(tmp_path, store, ["Applied Key"])
    old = value(project, store, "prod/stripe/applied-key")
    env = {**store.env, "CRASH_MARK": str(tmp_path / "mark")}
    assert credctl(project, "rotate", "prod/stripe/applied-key", env=env).exit_code == -9
    aborted = credctl(project, "rotate", "prod/stripe/applied-key", "--abort", env=env)
    assert aborted.exit_code == 0, aborted.output
    assert "rolled-back" in aborted.stdout
    backend = backend_of(project, store, monkeypatch)
    assert info(backend, f"{prefix}stripe/applied-key").pending is None  # type: ignore[attr-defined]
    assert value(project, store, "prod/stripe/applied-key") == old


@pytest.mark.integration
def test_concurrent_rotations_one_wins(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, prefix = setup(tmp_path, store, ["Applied Key"])
    backend = backend_of(project, store, monkeypatch)
    name = f"{prefix}stripe/applied-key"
    before = info(backend, name).current_version  # type: ignore[attr-defined]
    env = {
        **store.env,
        "APPLY_SLEEP": "2",
        "PYTHONPATH": f"{REPO}/tests/support/guard:{REPO}",
        "NO_COLOR": "1",
    }
    command = [sys.executable, "-m", "credctl", "rotate", "prod/stripe/applied-key"]
    import os

    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("CREDCTL_")}, **env}
    first = subprocess.Popen(
        command,
        cwd=project,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    second = subprocess.Popen(
        command,
        cwd=project,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    outputs = [p.communicate(timeout=60) for p in (first, second)]
    codes = sorted(p.returncode for p in (first, second))
    assert codes == [0, 1], outputs
    loser = outputs[[first.returncode, second.returncode].index(1)]
    assert "rotation is already in progress" in loser[0] + loser[1]
    after = info(backend, name)
    assert after.pending is None  # type: ignore[attr-defined]
    assert after.current_version != before  # type: ignore[attr-defined]
    assert backend.read_version(name, before).reveal()  # type: ignore[attr-defined]


def test_manual_rotation_from_stdin_and_needs_person(tmp_path: Path) -> None:
    store = Store("local")
    project, _ = setup(tmp_path, store, ["Client Secret", "API Key"])
    needs = credctl(project, "rotate", "prod/stripe/client-secret")
    assert needs.exit_code == 0
    assert "needs-person" in needs.stdout
    done = credctl(
        project,
        "rotate",
        "prod/stripe/client-secret",
        "--value-from-stdin",
        input="from-the-provider\n",
    )
    assert done.exit_code == 0, done.output
    assert value(project, store, "prod/stripe/client-secret") == "from-the-provider"
    assert "from-the-provider" not in done.output
    both = credctl(
        project,
        "rotate",
        "prod/stripe/client-secret",
        "prod/stripe/api-key",
        "--value-from-stdin",
        input="x",
    )
    assert both.exit_code == 2
    assert "exactly one" in both.stderr


def test_rotate_needs_ids_or_due(tmp_path: Path) -> None:
    project, _ = setup(tmp_path, Store("local"), ["API Key"])
    result = credctl(project, "rotate")
    assert result.exit_code == 2
    assert (
        result.stderr == "Error: name the credentials to rotate (ENV/SERVICE/TYPE) or pass --due\n"
    )


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["aws", "vault"])
def test_connection_cut_on_promote_then_resume(
    tmp_path: Path,
    kind: str,
    request: pytest.FixtureRequest,
    proxy: Callable[..., Proxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = request.getfixturevalue("moto_server" if kind == "aws" else "openbao")
    store = Store(kind, server)
    project, prefix = setup(tmp_path, store, ["API Key"])
    name = f"{prefix}stripe/api-key"
    old = value(project, store, "prod/stripe/api-key")
    through = proxy(server.url)
    if kind == "aws":
        through.fail_when(lambda head: b"secretsmanager.UpdateSecretVersionStage" in head)
    else:
        target = f"POST /v1/secret/data/{name} ".encode()
        through.fail_when(lambda head: head.startswith(target))
    environments = project / "environments" / "prod.yaml"
    environments.write_text(
        environments.read_text().replace(server.url, through.url)
        + "retry: {max_attempts: 2, base_delay: 1ms, max_delay: 2ms}\n"
    )
    cut = credctl(project, "rotate", "prod/stripe/api-key", env=store.env)
    assert cut.exit_code == 3, cut.output
    assert value(project, store, "prod/stripe/api-key") == old
    through.clear_faults()
    resumed = credctl(project, "rotate", "prod/stripe/api-key", "--format", "json", env=store.env)
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["results"][0]["outcome"] == "resumed"
    new = value(project, store, "prod/stripe/api-key")
    assert new != old
    assert old not in cut.output + resumed.output
