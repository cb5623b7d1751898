"""set, get, env, audit, status end to end on the local store, with a canary value."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from credctl.backends.base import BackendContext
from credctl.backends.pool import open_backend
from credctl.model import EnvironmentConfig
from tests.support.dates import day, stamp, today
from tests.support.projects import make_project, row
from tests.support.runner import credctl
from tests.support.seeding import CANARY, seed


def four_rows(root: Path) -> Path:
    return make_project(
        root,
        [
            row(last_rotated=day(333)),
            row(service="Google", credential_type="Client Secret", schedule="180d"),
            row(
                service="Google",
                credential_type="Redirect URI",
                reference="https://app.example.com/cb",
                schedule="never",
            ),
            row(service="Twilio", environment="dev", owner=""),
        ],
    )


pytestmark = pytest.mark.project(build=four_rows)


def test_set_then_get_is_byte_identical(project: Path) -> None:
    value = f"{CANARY} with spaces\nand a newline and ünïcode 🔑\n"
    # one trailing line break is dropped from stdin: a value ending in one is given two
    stored = credctl(project, "set", "prod/stripe/api-key", input=value + "\n")
    assert stored.exit_code == 0, stored.output
    assert stored.stderr == "stored a new value for prod/stripe/api-key (version 1)\n"
    got = credctl(project, "get", "prod/stripe/api-key")
    assert got.exit_code == 0
    assert got.stdout == value
    # the table learnt the reference and the rotation date, nothing else changed
    table = (project / "credentials.md").read_text()
    assert f"| local://prod/stripe/api-key | 90d | {today()} | @payments |" in table
    log = (project / ".credctl" / "audit.jsonl").read_text()
    assert json.loads(log)["action"] == "set"
    assert CANARY not in log


def test_set_accepts_the_human_id_form(project: Path) -> None:
    assert credctl(project, "set", "prod/Google/Client Secret", input="s3cret").exit_code == 0
    assert credctl(project, "get", "prod/google/client-secret").stdout == "s3cret"


def test_set_refuses_empty_input_and_unknown_ids(project: Path) -> None:
    empty = credctl(project, "set", "prod/stripe/api-key", input="")
    assert (empty.exit_code, empty.stderr) == (
        2,
        "Error: the value given for prod/stripe/api-key is empty; nothing was stored\n",
    )
    unknown = credctl(project, "set", "prod/stripe/nope", input="x")
    assert unknown.exit_code == 2
    assert unknown.stderr == "Error: no credential 'prod/stripe/nope' in credentials.md\n"


def test_get_of_a_missing_value_is_a_backend_error(project: Path) -> None:
    result = credctl(project, "get", "prod/stripe/api-key")
    assert result.exit_code == 3
    assert result.stderr == (
        "Error: prod/stripe/api-key does not exist in local store .credctl/store\n"
    )


def test_get_of_config_prints_the_literal(project: Path) -> None:
    assert (
        credctl(project, "get", "prod/google/redirect-uri").stdout == "https://app.example.com/cb"
    )


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


def test_env_writes_dotenv_0600_and_json(project: Path) -> None:
    seed(project, "prod/stripe/api-key", CANARY)
    seed(project, "prod/google/client-secret", "g-secret")
    out = project / ".env.prod"
    out.write_text("old")
    out.chmod(0o644)
    result = credctl(project, "env", "--env", "prod", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    from dotenv import dotenv_values

    assert dotenv_values(out) == {
        "STRIPE_API_KEY": CANARY,
        "GOOGLE_CLIENT_SECRET": "g-secret",
        "GOOGLE_REDIRECT_URI": "https://app.example.com/cb",
    }
    assert CANARY not in result.output
    as_json = credctl(project, "env", "--env", "prod", "--format", "json", "-o", "-")
    assert json.loads(as_json.stdout)["STRIPE_API_KEY"] == CANARY


def test_env_with_a_missing_value_writes_nothing(project: Path) -> None:
    seed(project, "prod/stripe/api-key", CANARY)
    out = project / ".env.prod"
    result = credctl(project, "env", "--env", "prod", "-o", str(out))
    assert result.exit_code == 3
    assert not out.exists()
    assert "prod/google/client-secret" in result.stderr
    assert CANARY not in result.output


def test_canary_never_appears_in_reports_or_errors(project: Path) -> None:
    seed(project, "prod/stripe/api-key", CANARY, **{"credctl:last-rotated": stamp(333)})
    seed(project, "prod/google/client-secret", CANARY + "-2")
    seed(project, "prod/orphan/key", CANARY + "-3")
    runs = [
        ("validate",),
        ("validate", "--format", "json"),
        *[("audit", "--env", "prod", "--format", f) for f in ("table", "json", "markdown")],
        *[("status", "--env", "prod", "--format", f) for f in ("table", "json", "markdown")],
        ("get", "prod/stripe/nope"),
        ("env", "--env", "prod", "--check", "-o", "missing-file"),
    ]
    for args in runs:
        result = credctl(project, *args)
        assert CANARY not in result.output, args
    store = (project / ".credctl" / "store" / "store.json").read_text()
    assert CANARY not in store
