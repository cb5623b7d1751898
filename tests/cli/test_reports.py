"""credctl audit and status on the local store: findings, exit codes, the table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from credctl.backends.base import BackendContext
from credctl.backends.pool import open_backend
from credctl.model import EnvironmentConfig
from tests.support.dates import day, stamp
from tests.support.projects import make_project, row, stripe_google_and_twilio
from tests.support.runner import credctl
from tests.support.seeding import CANARY, seed

pytestmark = pytest.mark.project(build=stripe_google_and_twilio)


def test_audit_reports_status_and_findings(project: Path) -> None:
    rotated = stamp(333)
    seed(project, "prod/stripe/api-key", CANARY, **{"credctl:last-rotated": rotated})
    result = credctl(project, "audit", "--env", "prod", "--format", "json")
    assert result.exit_code == 1  # an overdue credential is an error
    document = json.loads(result.stdout)
    assert document["schema_version"] == 1
    by_id = {c["id"]: c for c in document["credentials"]}
    stripe = by_id["prod/stripe/api-key"]
    assert stripe["status"] == "overdue"
    assert stripe["max_age_days"] == 90
    assert stripe["due_on"] == day(333 - 90)
    assert stripe["last_rotated"] == rotated
    assert [f["code"] for f in stripe["findings"]] == ["overdue", "table-drift"]
    assert by_id["prod/google/client-secret"]["status"] == "missing"
    assert by_id["prod/google/redirect-uri"]["status"] == "ok"
    codes = {f["code"] for f in document["findings"]}
    assert {"overdue", "missing-in-backend"} <= codes
    assert document["summary"]["error"] >= 2
    for finding in document["findings"]:
        if finding["id"]:
            assert finding["file"] == "credentials.md"
            assert isinstance(finding["line"], int)


def test_audit_fail_on(project: Path) -> None:
    assert credctl(project, "audit", "--env", "prod", "--fail-on", "never").exit_code == 0
    assert credctl(project, "audit", "--env", "prod").exit_code == 1


def test_audit_finds_never_rotated_no_value_and_missing_owner(project: Path) -> None:
    environment = EnvironmentConfig.model_validate({"name": "dev", "backend": {"type": "local"}})
    backend = open_backend(environment, BackendContext(project_dir=project))
    backend.create("dev/twilio/api-key", {"credctl:managed": "true"}, None)
    result = credctl(project, "audit", "--env", "dev", "--format", "json")
    [twilio] = json.loads(result.stdout)["credentials"]
    codes = [f["code"] for f in twilio["findings"]]
    assert "no-value" in codes
    assert "never-rotated" in codes
    assert twilio["status"] == "never-rotated"


def test_audit_reports_a_missing_owner_as_a_finding(tmp_path: Path) -> None:
    project = make_project(tmp_path, [row(owner="")])
    result = credctl(project, "audit", "--format", "json", "--env", "prod")
    codes = [f["code"] for f in json.loads(result.stdout)["findings"]]
    assert "missing-owner" in codes


def test_audit_schedule_exceeding_policy_is_a_finding(tmp_path: Path) -> None:
    project = make_project(tmp_path, [row(schedule="400d")])
    result = credctl(project, "audit", "--format", "json", "--env", "prod")
    codes = [f["code"] for f in json.loads(result.stdout)["findings"]]
    assert "schedule-exceeds-policy" in codes


def test_status_table_is_readable(project: Path) -> None:
    seed(project, "prod/stripe/api-key", CANARY, **{"credctl:last-rotated": stamp(333)})
    result = credctl(project, "status", "--env", "prod")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "CREDENTIAL",
        "OWNER",
        "LAST",
        "ROTATED",
        "AGE",
        "MAX",
        "DUE",
        "STATUS",
    ]
    assert lines[2].split()[:3] == ["prod/stripe/api-key", "@payments", day(333)]
    assert lines[2].split()[-1] == "overdue"
    assert "3 credentials" in result.stdout
