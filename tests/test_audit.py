"""audit on every store: a Last Rotated in the future is a finding, and the credential ages
from the store's own dates."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from credctl import clock
from credctl.backends.pool import Backends
from credctl.model import META_LAST_ROTATED
from credctl.project import load_project
from credctl.schedule import format_timestamp, parse_timestamp
from credctl.settings import load_settings
from tests.support.dates import moved
from tests.support.fixtures import Store
from tests.support.projects import make_project, row
from tests.support.runner import credctl

POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  API Key: {secret: true, rotator: generate, generator: {kind: token, bytes: 16}}
"""
FUTURE = "2099-01-01T00:00:00Z"


def synced_project(tmp_path: Path, store: Store, table_date: str = "") -> tuple[Path, str]:
    prefix = f"f-{uuid.uuid4().hex[:8]}/"
    project = make_project(
        tmp_path,
        [row(), row(service="Twilio")],
        environments={"prod": store.environment_yaml(prefix)},
        policies={"default.yaml": POLICY},
    )
    synced = credctl(project, "sync", env=store.env)
    assert synced.exit_code == 0, synced.output
    if table_date:
        table = project / "credentials.md"
        lines = table.read_text().splitlines(keepends=True)
        cells = lines[-1].split("|")  # Twilio's row
        cells[6] = f" {table_date} "
        lines[-1] = "|".join(cells)
        table.write_text("".join(lines))
    return project, prefix


def stamp(
    project: Path, store: Store, name: str, when: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in store.env.items():
        monkeypatch.setenv(key, value)
    loaded = load_project(load_settings(project))
    backends = Backends(loaded)
    try:
        backends.get(loaded.environment("prod")).set_metadata(name, {META_LAST_ROTATED: when})
    finally:
        backends.close()


def audit(project: Path, store: Store, ahead: float = 0) -> tuple[int, dict[str, Any]]:
    env = {**store.env, **moved(ahead)} if ahead else store.env
    result = credctl(project, "audit", "--format", "json", env=env)
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.integration
def test_a_future_last_rotated_in_the_store_is_an_error_and_ages_from_creation(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, prefix = synced_project(tmp_path, store)
    stamp(project, store, f"{prefix}stripe/api-key", FUTURE, monkeypatch)
    # 100 days on: created 100 days ago, against a 90-day schedule
    code, report = audit(project, store, ahead=100)
    assert code == 1
    credentials = {c["id"]: c for c in report["credentials"]}
    stripe = credentials["prod/stripe/api-key"]
    assert stripe["status"] == "overdue"
    assert stripe["due_on"] is not None
    assert not stripe["due_on"].startswith("2099")
    assert stripe["age_days"] == 100
    [future] = [f for f in stripe["findings"] if f["code"] == "future-date"]
    assert future["severity"] == "error"
    assert future["message"] == (
        "prod/stripe/api-key: the store's last-rotated 2099-01-01 is in the future; aged from "
        "the secret's creation instead (record a true date: 'credctl rotate prod/stripe/api-key')"
    )
    assert future["line"] == 5
    # the other credential keeps its own dates, and no finding
    twilio = credentials["prod/twilio/api-key"]
    assert "future-date" not in {f["code"] for f in twilio["findings"]}
    # following the hint records a true date
    rotated = credctl(project, "rotate", "prod/stripe/api-key", env=store.env)
    assert rotated.exit_code == 0, rotated.output
    code, report = audit(project, store)
    assert "future-date" not in {f["code"] for f in report["findings"]}


@pytest.mark.integration
def test_a_future_last_rotated_in_the_table_is_an_error(tmp_path: Path, store: Store) -> None:
    project, _ = synced_project(tmp_path, store, table_date="2099-01-01")
    code, report = audit(project, store)
    assert code == 1
    [future] = [f for f in report["findings"] if f["code"] == "future-date"]
    assert future["message"] == (
        "prod/twilio/api-key: the table's Last Rotated 2099-01-01 is in the future (write the "
        "store's date back with 'credctl sync')"
    )
    assert credctl(project, "sync", env=store.env).exit_code == 0
    _, report = audit(project, store)
    assert "future-date" not in {f["code"] for f in report["findings"]}


def test_a_date_within_the_clock_skew_allowance_is_no_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store("local")
    project, prefix = synced_project(tmp_path, store)
    soon = format_timestamp(clock.now() + timedelta(minutes=2))
    stamp(project, store, f"{prefix}stripe/api-key", soon, monkeypatch)
    code, report = audit(project, store)
    assert code == 0, report["findings"]
    stripe = next(c for c in report["credentials"] if c["id"] == "prod/stripe/api-key")
    assert stripe["status"] == "ok"
    assert parse_timestamp(stripe["last_rotated"]) == parse_timestamp(soon)
    later = format_timestamp(clock.now() + timedelta(minutes=30))
    stamp(project, store, f"{prefix}stripe/api-key", later, monkeypatch)
    code, report = audit(project, store)
    assert code == 1
    assert "future-date" in {f["code"] for f in report["findings"]}


def test_each_environment_s_rows_come_in_the_table_s_order(tmp_path: Path) -> None:
    """Rows are grouped by environment once for the run, in the table's order; a row added
    to the project after that is in its environment's rows."""
    project_dir = make_project(
        tmp_path,
        [row(service="B"), row(service="A", environment="dev"), row(service="A"), row()],
    )
    project = load_project(load_settings(project_dir))
    prod, dev = project.environment("prod"), project.environment("DEV")
    assert [c.service for c in project.credentials_in(prod)] == ["B", "A", "Stripe"]
    assert [c.service for c in project.credentials_in(dev)] == ["A"]
    project.credentials_in(prod).clear()  # a copy: the project's rows are untouched
    project.credentials.append(project.credentials[1])
    assert [c.service for c in project.credentials_in(dev)] == ["A", "A"]
