"""plan, sync and import end to end on the local store, moto_server and OpenBao."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.contract import CANARY
from tests.support.dates import day
from tests.support.fixtures import Store
from tests.support.projects import HEADER, make_project, row
from tests.support.proxy import Proxy
from tests.support.runner import credctl
from tests.support.servers import MotoServer

SERVICES = ["Stripe", "SendGrid", "Twilio", "Segment", "Google"]
TYPES = ["API Key", "Client Secret", "Webhook Secret", "Database Password", "Client ID"]
POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  API Key: {secret: true, rotator: generate, generator: {kind: token, bytes: 32}}
  Webhook Secret: {secret: true, rotator: generate, generator: {kind: token, bytes: 24, encoding: hex, prefix: whsec_}}
  Database Password: {secret: true, max_age: 30d, rotator: generate, generator: {kind: password, length: 24}}
  Client Secret: {secret: true, max_age: 180d, rotator: manual}
  Client ID: {secret: true, rotator: manual}
"""


def rows25() -> list[str]:
    return [
        row(service=service, credential_type=kind, schedule="30d", last_rotated=day(333))
        for service in SERVICES
        for kind in TYPES
    ]


def project_on(
    tmp_path: Path, store: Store, rows: list[str], **options: object
) -> tuple[Path, str]:
    prefix = f"s-{uuid.uuid4().hex[:8]}/"
    project = make_project(
        tmp_path,
        rows,
        environments={"prod": store.environment_yaml(prefix, **options)},
        policies={"default.yaml": POLICY},
    )
    return project, prefix


def plan_json(project: Path, store: Store) -> list[dict[str, object]]:
    result = credctl(project, "plan", "--format", "json", env=store.env)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema_version"] == 1
    changes: list[dict[str, object]] = document["changes"]
    return changes


@pytest.mark.integration
def test_25_creates_then_sync_then_nothing(tmp_path: Path, store: Store) -> None:
    project, prefix = project_on(tmp_path, store, rows25())
    changes = plan_json(project, store)
    assert [c["action"] for c in changes] == ["create"] * 25
    assert credctl(project, "plan", "--detailed-exitcode", env=store.env).exit_code == 2
    synced = credctl(project, "sync", env=store.env)
    assert synced.exit_code == 0, synced.output
    assert "Applied 25 of 25 changes" in synced.stderr
    again = credctl(project, "plan", "--detailed-exitcode", env=store.env)
    assert again.exit_code == 0, again.output
    assert "No changes" in again.stdout
    audit = json.loads(
        credctl(project, "audit", "--format", "json", "--fail-on", "never", env=store.env).stdout
    )
    statuses = {c["id"]: c["status"] for c in audit["credentials"]}
    assert statuses["prod/stripe/api-key"] == "ok"
    codes = {f["code"] for f in audit["findings"] if f["id"] == "prod/stripe/client-secret"}
    assert "no-value" in codes  # manual types are created without a value
    value = credctl(project, "get", "prod/stripe/webhook-secret", env=store.env).stdout
    assert re.fullmatch(r"whsec_[0-9a-f]{48}", value)
    table = (project / "credentials.md").read_text()
    assert f"{store.scheme_prefix()}{prefix}stripe/api-key" in table
    log = (project / ".credctl" / "audit.jsonl").read_text()
    assert log.count('"action": "sync-create"') == 25
    for text in (synced.output, again.output, log, json.dumps(audit)):
        assert value not in text


@pytest.mark.integration
def test_out_of_band_secrets_are_unmanaged_then_imported(tmp_path: Path, store: Store) -> None:
    project, prefix = project_on(tmp_path, store, [row(service="Stripe")])
    assert credctl(project, "sync", env=store.env).exit_code == 0
    store.put_unmanaged(str(project), f"{prefix}legacy/api-key", CANARY)
    changes = plan_json(project, store)
    assert [(c["action"], c["id"]) for c in changes] == [
        ("unmanaged", f"{store.scheme_prefix()}{prefix}legacy/api-key")
    ]
    dry = credctl(project, "import", "--dry-run", env=store.env)
    assert dry.exit_code == 0, dry.output
    assert "prod/legacy/api-key" in dry.stdout
    before = (project / "credentials.md").read_text()
    assert credctl(project, "import", env=store.env).exit_code == 0
    after = (project / "credentials.md").read_text()
    assert after.startswith(before)
    added = after[len(before) :]
    assert (
        added
        == f"| Legacy | prod | API Key | {store.scheme_prefix()}{prefix}legacy/api-key | 90d | never |  |\n"
    )
    validate = credctl(project, "validate", env=store.env)
    assert validate.exit_code == 2  # the imported row has no owner yet: validate says so
    assert "owner" in validate.stderr
    assert CANARY not in dry.output + after + validate.output


def test_sync_changes_only_the_owned_cells(tmp_path: Path) -> None:
    store = Store("local")
    prose = "# Credentials\n\nSome prose | with a pipe.\n\n"
    rows = [
        f"| Stripe  |  prod | API Key |  | 90d |  {day(700)} | @payments | keep me |\n",
        "| Google | prod | Client Secret |   | 180d | never | @identity | \\| escaped |\n",
    ]
    header = HEADER.replace("| Owner |\n", "| Owner | Notes |\n").replace(
        "|---|\n", "|---|---|\n", 1
    )
    table_text = prose + header + "".join(rows) + "\nTrailing text.\n"
    project = make_project(
        tmp_path,
        table_text=table_text,
        environments={"prod": store.environment_yaml("prod/")},
        policies={"default.yaml": POLICY},
    )
    assert credctl(project, "sync").exit_code == 0
    after = (project / "credentials.md").read_text()

    def masked(text: str) -> list[str]:
        lines = []
        for line in text.splitlines():
            cells = re.split(r"(?<!\\)\|", line)
            if len(cells) > 7 and cells[1].strip() in ("Stripe", "Google"):
                cells[4] = cells[6] = "*"  # Value/Reference, Last Rotated
            lines.append("|".join(cells))
        return lines

    assert masked(after) == masked(table_text)
    assert after != table_text
    assert "| local://prod/stripe/api-key |" in after


def test_prune_schedules_recoverable_deletion(tmp_path: Path) -> None:
    store = Store("local")
    project = make_project(
        tmp_path,
        [row(), row(service="Old")],
        environments={"prod": store.environment_yaml("prod/")},
        policies={"default.yaml": POLICY},
    )
    assert credctl(project, "sync").exit_code == 0
    table = project / "credentials.md"
    table.write_text(
        "\n".join(line for line in table.read_text().splitlines() if "| Old |" not in line) + "\n"
    )
    plan = credctl(project, "plan")
    assert "! orphan      local://prod/old/api-key" in plan.stdout
    kept = credctl(project, "sync")
    assert kept.exit_code == 0
    assert "orphan" in kept.stdout
    assert "! orphan" in credctl(project, "plan").stdout  # reported, never touched
    pruned = credctl(project, "sync", "--prune")
    assert pruned.exit_code == 0, pruned.output
    assert "- prune" in pruned.stdout
    assert "marked deleted" in pruned.stderr
    assert "! orphan" not in credctl(project, "plan").stdout


@pytest.mark.integration
def test_interrupted_sync_exits_3_and_the_next_one_finishes(
    tmp_path: Path, moto_server: MotoServer, proxy: Callable[..., Proxy]
) -> None:
    through = proxy(moto_server.url)
    seen = {"creates": 0}

    def cut_after_half(head: bytes) -> bool:
        if b"secretsmanager.CreateSecret" in head:
            seen["creates"] += 1
            return seen["creates"] > 12
        return False

    through.fail_when(cut_after_half)
    store = Store("aws", moto_server)
    prefix = f"f-{uuid.uuid4().hex[:8]}/"
    environment = (
        store.environment_yaml(prefix).replace(moto_server.url, through.url)
        + "retry: {max_attempts: 2, base_delay: 1ms, max_delay: 2ms}\nconcurrency: 4\n"
    )
    project = make_project(
        tmp_path, rows25(), environments={"prod": environment}, policies={"default.yaml": POLICY}
    )
    before = (project / "credentials.md").read_bytes()
    failed = credctl(project, "sync", env=store.env)
    assert failed.exit_code == 3, failed.output
    errors = [line for line in failed.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert "sync stopped:" in errors[0]
    assert "cannot reach AWS Secrets Manager" in errors[0]
    assert credctl(project, "validate", env=store.env).exit_code == 0  # the table is intact
    assert (project / "credentials.md").read_bytes() != before  # the finished rows were recorded
    through.clear_faults()
    finished = credctl(project, "sync", env=store.env)
    assert finished.exit_code == 0, finished.output
    assert credctl(project, "plan", "--detailed-exitcode", env=store.env).exit_code == 0
    client = moto_server.client()
    names = [
        s["Name"]
        for page in client.get_paginator("list_secrets").paginate(
            Filters=[{"Key": "name", "Values": [prefix]}]
        )
        for s in page["SecretList"]
    ]
    assert len(names) == len(set(names)) == 25
    for name in names:
        versions = client.list_secret_version_ids(SecretId=name)["Versions"]
        assert len(versions) <= 1  # no value written twice


def test_a_first_value_staged_by_a_dead_process_is_finished_by_sync(tmp_path: Path) -> None:
    """sync never stages over a running one's pending value; a dead one's it finishes."""
    from credctl.backends.base import BackendContext
    from credctl.backends.pool import open_backend
    from credctl.model import EnvironmentConfig
    from credctl.secret import Secret
    from credctl.staging import host_label

    store = Store("local")
    project = make_project(
        tmp_path,
        [row(service="Stripe"), row(service="Twilio")],
        environments={"prod": store.environment_yaml("prod/")},
        policies={"default.yaml": POLICY},
    )
    environment = EnvironmentConfig.model_validate(
        {"name": "prod", "backend": {"type": "local", "prefix": "prod/"}}
    )
    backend = open_backend(environment, BackendContext(project_dir=project))
    backend.create("prod/stripe/api-key", {"credctl:managed": "true"}, None)
    running = f"r-{uuid.uuid4().hex[:16]}-{os.getpid()}-{host_label()}"  # this test: alive
    backend.put_pending("prod/stripe/api-key", Secret(CANARY), running, None)

    stuck = credctl(project, "sync")
    assert stuck.exit_code == 1, stuck.output
    errors = [line for line in stuck.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert "prod/stripe/api-key: a rotation is already in progress" in errors[0]
    assert "local://prod/twilio/api-key" in (project / "credentials.md").read_text()

    backend.discard_pending("prod/stripe/api-key", running)
    dead = f"r-{uuid.uuid4().hex[:16]}-999999-{host_label()}"  # no such process
    backend.put_pending("prod/stripe/api-key", Secret(CANARY), dead, None)
    finished = credctl(project, "sync")
    assert finished.exit_code == 0, finished.output
    assert credctl(project, "get", "prod/stripe/api-key").stdout == CANARY
    [info] = [i for i in backend.list_secrets() if i.name == "prod/stripe/api-key"]
    assert info.pending is None
    assert info.current_version == "1"
    assert credctl(project, "plan", "--detailed-exitcode").exit_code == 0
    assert CANARY not in stuck.output + finished.output


def test_detailed_exitcode_keeps_2_for_changes_only(tmp_path: Path) -> None:
    project = make_project(tmp_path, [row(), row()], policies={"default.yaml": POLICY})
    broken = credctl(project, "plan", "--detailed-exitcode")
    assert broken.exit_code == 1  # a duplicate row: an error, not "changes pending"
    assert "duplicate credential" in broken.stderr
    assert credctl(project, "plan").exit_code == 2  # without the flag: a config error


def test_sync_json_reports_orphans_it_leaves_alone(tmp_path: Path) -> None:
    store = Store("local")
    project = make_project(
        tmp_path,
        [row(), row(service="Old")],
        environments={"prod": store.environment_yaml("prod/")},
        policies={"default.yaml": POLICY},
    )
    assert credctl(project, "sync").exit_code == 0
    table = project / "credentials.md"
    table.write_text("".join(x for x in table.read_text().splitlines(True) if "| Old |" not in x))
    with table.open("a") as handle:
        handle.write(row(service="Twilio"))
    synced = credctl(project, "sync", "--format", "json")
    assert synced.exit_code == 0, synced.output
    changes = {(c["action"], c["id"]) for c in json.loads(synced.stdout)["changes"]}
    assert changes == {("create", "prod/twilio/api-key"), ("orphan", "local://prod/old/api-key")}


def test_a_value_set_after_planning_is_never_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sync fills a missing first value only if the store still has none when it writes."""
    from credctl.backends.pool import Backends
    from credctl.project import load_project
    from credctl.settings import load_settings
    from credctl.sync import apply_plan, make_plan

    store = Store("local")
    project = make_project(
        tmp_path,
        [row()],
        environments={"prod": store.environment_yaml("prod/")},
        policies={"default.yaml": POLICY},
    )
    monkeypatch.chdir(project)
    loaded = load_project(load_settings(project))
    backends = Backends(loaded)
    backend = backends.get(loaded.environment("prod"))
    backend.create("prod/stripe/api-key", {"credctl:managed": "true"}, None)  # no value yet
    plan = make_plan(loaded, [loaded.environment("prod")], backends)
    [fill] = [c for c in plan.actionable if c.generate_value]
    assert fill.action == "update"
    assert credctl(project, "set", "prod/stripe/api-key", input=CANARY).exit_code == 0
    result = apply_plan(loaded, plan, backends, "ci")  # a person set it in between
    backends.close()
    assert not result.failed
    assert credctl(project, "get", "prod/stripe/api-key").stdout == CANARY


def test_detailed_exitcode_usage_errors_are_not_changes(tmp_path: Path) -> None:
    project = make_project(tmp_path, [row()], policies={"default.yaml": POLICY})
    result = credctl(project, "plan", "--detailed-exitcode", "--no-such-flag")
    assert result.exit_code == 1
    assert "No such option" in result.stderr
