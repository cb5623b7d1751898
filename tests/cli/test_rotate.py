"""credctl rotate end to end on the local store, moto_server and OpenBao."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from credctl.backends.pool import Backends
from credctl.model import META_LAST_ROTATED
from credctl.project import Project, load_project
from credctl.settings import load_settings
from tests.support.dates import stamp, today
from tests.support.fixtures import Store
from tests.support.projects import make_project, row
from tests.support.proxy import Proxy
from tests.support.runner import (
    credctl,
    credctl_process,
    process_environment,
)
from tests.support.servers import MotoServer

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
  Slow Key:
    secret: true
    rotator: command
    generator: {kind: password, length: 20}
    timeout: 1s
    command: ["sh", "-c", "cat > \\"$APPLIED\\"; sleep ${APPLY_SLEEP:-0} & echo $! > \\"$APPLIED.pid\\"; wait; echo done"]
  Slow Verified Key:
    secret: true
    rotator: command
    generator: {kind: password, length: 20}
    timeout: 1s
    command: ["sh", "-c", "cat > \\"$APPLIED\\""]
    verify: ["sh", "-c", "cat > /dev/null; sleep 30"]
  Issued Key:
    secret: true
    rotator: command
    command: ["sh", "-c", "cat > /dev/null; echo canary-new-Hq2Wd8Lm4Xv6Rt0Pz"]
    verify: ["sh", "-c", "cat; echo canary-new-Hq2Wd8Lm4Xv6Rt0Pz >&2; exit 1"]
"""
ISSUED_CANARY = "canary-new-Hq2Wd8Lm4Xv6Rt0Pz"


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
    backend.set_metadata(name, {META_LAST_ROTATED: stamp(700)})  # type: ignore[attr-defined]
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
    assert f"| {today()} |" in next(line for line in table.splitlines() if "| API Key |" in line)
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
    killed = credctl_process(project, "rotate", "prod/stripe/applied-key", env=env)
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
    # superseded once more, the resumed value is still readable as the previous version
    again = credctl(project, "rotate", "prod/stripe/applied-key", "--format", "json", env=env)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["results"][0]["outcome"] == "rotated"
    assert backend.read_version(name, result["version"]).reveal() == pending_value.reveal()  # type: ignore[attr-defined]
    for text in (killed.output, resumed.output, again.output):
        assert old not in text
        assert pending_value.reveal() not in text


@pytest.mark.integration
def test_abort_discards_an_interrupted_rotation(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, prefix = setup(tmp_path, store, ["Applied Key"])
    old = value(project, store, "prod/stripe/applied-key")
    env = {**store.env, "CRASH_MARK": str(tmp_path / "mark")}
    assert credctl_process(project, "rotate", "prod/stripe/applied-key", env=env).exit_code == -9
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
    env = {**store.env, "APPLY_SLEEP": "2"}
    command = [sys.executable, "-m", "credctl", "rotate", "prod/stripe/applied-key"]

    full_env = process_environment(env)
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


def make_overdue(backend: object, name: str) -> None:
    """Date the secret's last rotation long ago in the store (the store wins over the table)."""
    backend.set_metadata(name, {META_LAST_ROTATED: stamp(700)})  # type: ignore[attr-defined]


@pytest.mark.integration
def test_many_at_once_one_failure_stops_nothing(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    kinds = ["API Key", "Webhook Secret", "Verified Key"]
    project, prefix = setup(tmp_path, store, kinds)
    backend = backend_of(project, store, monkeypatch)
    slugs = ["api-key", "webhook-secret", "verified-key"]
    before = {}
    for slug in slugs:
        make_overdue(backend, f"{prefix}stripe/{slug}")
        before[slug] = value(project, store, f"prod/stripe/{slug}")
    table_before = (project / "credentials.md").read_text().splitlines()
    result = credctl(project, "rotate", "--due", "--format", "json", env=store.env)
    assert result.exit_code == 4, result.output
    outcomes = {r["id"]: r["outcome"] for r in json.loads(result.stdout)["results"]}
    assert outcomes == {
        "prod/stripe/api-key": "rotated",
        "prod/stripe/webhook-secret": "rotated",
        "prod/stripe/verified-key": "failed",
    }
    assert result.stderr == "1 of 3 rotations did not complete cleanly.\n"
    assert value(project, store, "prod/stripe/verified-key") == before["verified-key"]
    for slug in ("api-key", "webhook-secret"):
        assert value(project, store, f"prod/stripe/{slug}") != before[slug]
    assert all(info(backend, f"{prefix}stripe/{s}").pending is None for s in slugs)  # type: ignore[attr-defined]
    table = (project / "credentials.md").read_text().splitlines()
    assert f"| {today()} |" in next(line for line in table if "| Webhook Secret |" in line)
    assert [line for line in table if "| Verified Key |" in line] == [
        line for line in table_before if "| Verified Key |" in line
    ]


@pytest.mark.integration
def test_two_machines_on_one_store_one_wins(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two project checkouts (no shared lock file) rotate one credential at once."""
    first_dir, prefix = setup(tmp_path / "a", store, ["Applied Key"])
    if store.kind == "local":  # both checkouts open the same local store and key
        environment = first_dir / "environments" / "prod.yaml"
        environment.write_text(
            f"backend: {{type: local, prefix: '{prefix}', path: '{first_dir}/.credctl/store'}}\n"
        )
    second_dir = tmp_path / "b"
    table = (first_dir / "credentials.md").read_text()
    shutil.copytree(first_dir, second_dir, ignore=shutil.ignore_patterns("locks", "audit.jsonl"))
    backend = backend_of(first_dir, store, monkeypatch)
    name = f"{prefix}stripe/applied-key"
    before = info(backend, name).current_version  # type: ignore[attr-defined]
    old = value(first_dir, store, "prod/stripe/applied-key")
    env = process_environment({**store.env, "APPLY_SLEEP": "2"})
    command = [sys.executable, "-m", "credctl", "rotate", "prod/stripe/applied-key"]
    processes = [
        subprocess.Popen(
            command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for folder in (first_dir, second_dir)
    ]
    outputs = [p.communicate(timeout=60) for p in processes]
    codes = [p.returncode for p in processes]
    assert sorted(codes) == [0, 1], outputs
    loser = outputs[codes.index(1)]
    assert "in progress" in loser[0] + loser[1]
    after = info(backend, name)
    assert after.pending is None  # type: ignore[attr-defined]
    assert after.current_version != before  # type: ignore[attr-defined]
    assert backend.read_version(name, before).reveal() == old  # type: ignore[attr-defined]
    loser_dir = (first_dir, second_dir)[codes.index(1)]
    assert (loser_dir / "credentials.md").read_text() == table


@pytest.mark.integration
def test_interrupted_rotation_is_flagged_and_found_by_due(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, prefix = setup(tmp_path, store, ["Applied Key"])
    env = {**store.env, "CRASH_MARK": str(tmp_path / "mark")}
    assert credctl_process(project, "rotate", "prod/stripe/applied-key", env=env).exit_code == -9
    environment = project / "environments" / "prod.yaml"
    environment.write_text(environment.read_text() + "lock_timeout: 1s\n")
    time.sleep(1.2)
    audit = json.loads(
        credctl(project, "audit", "--format", "json", "--fail-on", "never", env=env).stdout
    )
    assert "rotation-in-progress" in {f["code"] for f in audit["findings"]}
    dry = credctl(project, "rotate", "--due", "--dry-run", env=env)
    assert "interrupted rotation" in dry.stdout, dry.output
    resumed = credctl(project, "rotate", "--due", "--format", "json", env=env)
    assert resumed.exit_code == 0, resumed.output
    assert [r["outcome"] for r in json.loads(resumed.stdout)["results"]] == ["resumed"]
    backend = backend_of(project, store, monkeypatch)
    assert info(backend, f"{prefix}stripe/applied-key").pending is None  # type: ignore[attr-defined]


@pytest.mark.integration
def test_canary_no_value_in_any_output(tmp_path: Path, store: Store) -> None:
    project, _ = setup(tmp_path, store, ["Client Secret", "Issued Key", "API Key"])
    old_issued = "canary-old-Jf5Ks9Qa1Vb3Nc7Ye"
    manual = "canary-manual-Tu4Gh8Xr2Ze6Wp0Lm"
    seen: list[str] = []

    def run(*args: str, input: str | None = None) -> int:
        result = credctl(project, *args, input=input, env=store.env)
        seen.append(result.output)
        return result.exit_code

    assert run("set", "prod/stripe/issued-key", input=old_issued) == 0
    api_old = value(project, store, "prod/stripe/api-key")
    assert run("rotate", "prod/stripe/client-secret", "--value-from-stdin", "-v", input=manual) == 0
    # the provider issues a new value, the verify command echoes it and fails
    assert run("rotate", "prod/stripe/issued-key", "-v") == 4
    assert run("rotate", "prod/stripe/issued-key", "--format", "json") == 4
    assert run("rotate", "prod/stripe/api-key", "-v", "--format", "json") == 0
    assert run("rotate", "--due", "--include-due-soon", "--dry-run") == 0
    assert run("rotate", "prod/stripe/api-key", "--abort") == 0
    api_new = value(project, store, "prod/stripe/api-key")
    assert value(project, store, "prod/stripe/client-secret") == manual
    assert value(project, store, "prod/stripe/issued-key") == old_issued
    assert run("log") == 0
    assert run("audit", "--format", "json", "--fail-on", "never") == 0
    seen.append((project / ".credctl" / "audit.jsonl").read_text())
    seen.append((project / "credentials.md").read_text())
    for text in seen:
        for secret in (old_issued, ISSUED_CANARY, manual, api_old, api_new):
            assert secret not in text


def test_selection_filters_and_dry_run_reasons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store("local")
    project, prefix = setup(tmp_path, store, ["API Key", "Webhook Secret", "Client Secret"])
    backend = backend_of(project, store, monkeypatch)
    for slug in ("api-key", "webhook-secret", "client-secret"):
        make_overdue(backend, f"{prefix}stripe/{slug}")
    dry = credctl(project, "rotate", "--due", "--dry-run", "--format", "json")
    assert dry.exit_code == 0, dry.output
    assert [(r["id"], r["outcome"], r["message"]) for r in json.loads(dry.stdout)["results"]] == [
        ("prod/stripe/api-key", "skipped", "dry run: would rotate (overdue) with generate"),
        ("prod/stripe/webhook-secret", "skipped", "dry run: would rotate (overdue) with generate"),
        ("prod/stripe/client-secret", "skipped", "dry run: would rotate (overdue) with manual"),
    ]
    by_type = credctl(project, "rotate", "--due", "--dry-run", "--type", "webhook secret")
    assert "webhook-secret" in by_type.stdout
    assert "api-key" not in by_type.stdout
    other = credctl(project, "rotate", "--due", "--dry-run", "--service", "Twilio")
    assert other.stderr == "Nothing to rotate.\n"
    # without a terminal, the manual one is listed for a person and nothing fails
    done = credctl(project, "rotate", "--due", "--format", "json")
    assert done.exit_code == 0, done.output
    outcomes = {r["id"]: r["outcome"] for r in json.loads(done.stdout)["results"]}
    assert outcomes["prod/stripe/client-secret"] == "needs-person"
    assert outcomes["prod/stripe/api-key"] == "rotated"
    refused = credctl(project, "rotate", "prod/stripe/api-key", "--value-from-stdin", input="x")
    assert refused.exit_code == 2
    assert refused.stderr == (
        "Error: --value-from-stdin is for the manual rotator; prod/stripe/api-key rotates "
        "with 'generate' (to store a value of your choice, use 'credctl set prod/stripe/api-key')\n"
    )


@pytest.mark.integration
def test_pending_version_of_another_tool_is_not_taken_over(
    tmp_path: Path, moto_server: MotoServer
) -> None:
    store = Store("aws", moto_server)
    project, prefix = setup(tmp_path, store, ["API Key"])
    name = f"{prefix}stripe/api-key"
    old = value(project, store, "prod/stripe/api-key")
    # what an AWS rotation function leaves while it runs: an AWSPENDING version, no credctl tag
    moto_server.client().put_secret_value(
        SecretId=name, SecretString="from-a-function", VersionStages=["AWSPENDING"]
    )
    refused = credctl(project, "rotate", "prod/stripe/api-key", env=store.env)
    assert refused.exit_code == 1, refused.output
    assert "a pending version that credctl did not stage" in refused.stdout
    assert value(project, store, "prod/stripe/api-key") == old
    # --abort discards credctl's own pending values only; another tool's needs --force
    kept = credctl(project, "rotate", "prod/stripe/api-key", "--abort", env=store.env)
    assert kept.exit_code == 1, kept.output
    assert "--abort --force" in kept.stdout
    aborted = credctl(project, "rotate", "prod/stripe/api-key", "--abort", "--force", env=store.env)
    assert aborted.exit_code == 0, aborted.output
    again = credctl(project, "rotate", "prod/stripe/api-key", env=store.env)
    assert again.exit_code == 0, again.output
    assert value(project, store, "prod/stripe/api-key") not in (old, "from-a-function")


LAMBDA_POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  DB Password:
    secret: true
    rotator: aws-lambda
    lambda_arn: "%s"
    timeout: 5s
"""


def test_aws_lambda_rotator_calls_rotate_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process moto with its docker-free Lambda: RotateSecret runs and credctl records it."""
    from moto import mock_aws
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.secretsmanager.models import secretsmanager_backends

    from credctl.cli import main

    def rotation_function(
        self: object, name: str, qualifier: object, body: str, **_: object
    ) -> bytes:
        """What a rotation function does at its last step: move AWSCURRENT to its version."""
        event = json.loads(body)
        if event["Step"] == "finishSecret":
            secrets = secretsmanager_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
            versions = secrets.secrets[event["SecretId"]].versions
            current = next(v for v, d in versions.items() if "AWSCURRENT" in d["version_stages"])
            secrets.update_secret_version_stage(
                event["SecretId"], "AWSCURRENT", current, event["ClientRequestToken"]
            )
        return b"null"

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", rotation_function)
    with mock_aws(config={"lambda": {"use_docker": False}}):
        iam = boto3.client("iam", region_name="us-east-1")
        role = iam.create_role(RoleName="rotator", AssumeRolePolicyDocument="{}", Path="/")["Role"][
            "Arn"
        ]
        function = boto3.client("lambda", region_name="us-east-1").create_function(
            FunctionName="rotate-db",
            Runtime="python3.12",
            Role=role,
            Handler="index.handler",
            Code={"ZipFile": _zip_bytes()},
        )["FunctionArn"]
        project = make_project(
            tmp_path,
            [row(service="Orders", credential_type="DB Password")],
            environments={"prod": "backend: {type: aws, region: us-east-1, prefix: prod/}\n"},
            policies={"default.yaml": LAMBDA_POLICY % function},
        )
        client = boto3.client("secretsmanager", region_name="us-east-1")
        client.create_secret(Name="prod/orders/db-password", SecretString="first")
        before = client.describe_secret(SecretId="prod/orders/db-password")
        monkeypatch.chdir(project)
        main(["rotate", "prod/orders/db-password", "--actor", "ci", "--format", "json"])
        [result] = json.loads(capsys.readouterr().out)["results"]
        after = client.describe_secret(SecretId="prod/orders/db-password")
    assert result["outcome"] == "rotated"
    assert "AWSCURRENT" in after["VersionIdsToStages"][result["version"]]
    assert result["version"] not in before["VersionIdsToStages"]
    tags = {t["Key"]: t["Value"] for t in after["Tags"]}
    assert tags["credctl:rotated-by"] == "ci"
    assert f"| {today()} |" in (project / "credentials.md").read_text()
    [entry] = [json.loads(line) for line in (project / ".credctl" / "audit.jsonl").open()]
    assert (entry["action"], entry["outcome"]) == ("rotate", "ok")


def test_aws_lambda_rotator_needs_an_aws_environment(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        [row(service="Orders", credential_type="DB Password")],
        policies={"default.yaml": LAMBDA_POLICY % "arn:aws:lambda:us-east-1:1:function:x"},
    )
    result = credctl(project, "rotate", "prod/orders/db-password")
    assert result.exit_code == 2, result.output
    # refused before anything is staged, as validate refuses it
    assert result.stderr == (
        "Error: credentials.md:5: prod/orders/db-password: DB Password rotates with "
        "'aws-lambda', which needs an aws environment, but prod uses the local backend; give "
        "the row a type with another rotator\n"
    )


def process_alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie waiting to be reaped does not count)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


def test_apply_timeout_keeps_the_new_value_pending_then_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider may have taken the value before the command was stopped: never drop it."""
    store = Store("local")
    project, prefix = setup(tmp_path, store, ["Slow Key"])
    first = credctl(project, "set", "prod/stripe/slow-key", input="first-value", env=store.env)
    assert first.exit_code == 0, first.output
    applied = tmp_path / "applied-value"
    # The script's own child (sleep) outlives the shell unless the whole group is stopped;
    # credctl waiting for it would run into the helper's 60 s limit instead of returning.
    hung = credctl(
        project,
        "rotate",
        "prod/stripe/slow-key",
        env={**store.env, "APPLIED": str(applied), "APPLY_SLEEP": "600"},
    )
    assert not process_alive(int(Path(f"{applied}.pid").read_text()))  # the group was stopped
    assert hung.exit_code == 3, hung.output
    assert "apply command timed out after 1 s" in hung.stdout
    assert "kept as pending" in hung.stdout
    assert value(project, store, "prod/stripe/slow-key") == "first-value"
    backend = backend_of(project, store, monkeypatch)
    staged = info(backend, f"{prefix}stripe/slow-key")
    assert staged.pending is not None  # type: ignore[attr-defined]
    handed_over = applied.read_text()
    assert (
        backend.read_pending(  # type: ignore[attr-defined]
            f"{prefix}stripe/slow-key",
            staged.pending.token,  # type: ignore[attr-defined]
        ).reveal()
        == handed_over
    )

    resumed = credctl(
        project,
        "rotate",
        "prod/stripe/slow-key",
        "--format",
        "json",
        env={**store.env, "APPLIED": str(applied)},
    )
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["results"][0]["outcome"] == "resumed"
    assert value(project, store, "prod/stripe/slow-key") == handed_over  # what the provider got
    for text in (hung.output, resumed.output):
        assert handed_over not in text
        assert "first-value" not in text


@pytest.mark.integration
def test_a_listing_outdated_by_another_run_never_rotates_twice(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two overlapping `rotate --due` runs: the one that lists first but locks last stops."""
    from credctl.rotation.driver import Candidate, exit_code, rotate_all

    project, _ = setup(tmp_path, store, ["API Key"])
    loaded, backends = open_project(project, store, monkeypatch)
    backend = backends.get(loaded.environment("prod"))
    stale = backend.list_secrets()  # the slow run lists...
    other = credctl(project, "rotate", "prod/stripe/api-key", env=store.env)  # ...another rotates
    assert other.exit_code == 0, other.output
    rotated_value = value(project, store, "prod/stripe/api-key")
    monkeypatch.setattr(backend, "list_secrets", lambda: stale)
    [result] = rotate_all(
        loaded, [Candidate(loaded.find("prod/stripe/api-key"), "overdue")], backends, "ci"
    )
    assert result.outcome == "skipped", result.message
    assert "rotated by another run" in result.message
    assert exit_code([result]) == 1
    assert value(project, store, "prod/stripe/api-key") == rotated_value
    backends.close()


def test_verify_timeout_after_apply_keeps_the_applied_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider has the new value once apply succeeded: a slow verify must not drop it."""
    store = Store("local")
    project, prefix = setup(tmp_path, store, ["Slow Verified Key"])
    first = credctl(
        project, "set", "prod/stripe/slow-verified-key", input="first-value", env=store.env
    )
    assert first.exit_code == 0, first.output
    applied = tmp_path / "applied-value"
    hung = credctl(
        project,
        "rotate",
        "prod/stripe/slow-verified-key",
        env={**store.env, "APPLIED": str(applied)},
    )
    assert hung.exit_code == 3, hung.output
    assert "verify command timed out after 1 s" in hung.stdout
    assert "kept as pending" in hung.stdout
    backend = backend_of(project, store, monkeypatch)
    staged = info(backend, f"{prefix}stripe/slow-verified-key")
    assert staged.pending is not None  # type: ignore[attr-defined]
    assert (
        backend.read_pending(  # type: ignore[attr-defined]
            f"{prefix}stripe/slow-verified-key",
            staged.pending.token,  # type: ignore[attr-defined]
        ).reveal()
        == applied.read_text()
    )
    assert value(project, store, "prod/stripe/slow-verified-key") == "first-value"
