"""Parity across the environments of one audit: `missing-in-environment` from the table, and,
with `--compare-values` only, `shared-value` from a keyed hash of the values (never shown)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from credctl.backends.local import LocalBackend
from credctl.findings import FINDINGS, FIXES, REMINDED
from credctl.render import FORMATS
from tests.support.projects import make_project, row
from tests.support.runner import credctl
from tests.support.seeding import CANARY

ENVIRONMENTS = {
    "staging": "backend: {type: local, prefix: staging/}\n",
    "prod": "backend: {type: local, prefix: prod/}\n",
    "dev": "backend: {type: local, prefix: dev/}\n",
}
HEADER = (
    "| Service | Environment | Credential Type | Value/Reference | Rotation Schedule "
    "| Last Rotated | Owner | Environments |\n|---|---|---|---|---|---|---|---|\n"
)


def synced(folder: Path, rows: list[str], **options: Any) -> Path:
    project = make_project(folder, rows, environments=ENVIRONMENTS, **options)
    result = credctl(project, "sync")
    assert result.exit_code == 0, result.output
    return project


def set_value(project: Path, credential_id: str, value: str) -> None:
    result = credctl(project, "set", credential_id, input=value)
    assert result.exit_code == 0, result.output


def audit(project: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = credctl(project, "audit", "--format", "json", *args)
    return result.exit_code, json.loads(result.stdout)


def coded(report: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [finding for finding in report["findings"] if finding["code"] == code]


# ------------------------------------------------------------ missing-in-environment


def test_a_credential_only_in_staging_is_missing_in_prod_and_dev(tmp_path: Path) -> None:
    project = synced(
        tmp_path,
        [
            row(environment="staging"),
            row(environment="prod"),
            row(environment="dev"),
            row(service="Twilio", environment="staging"),
        ],
    )
    code, report = audit(project)
    assert code == 0  # warnings
    missing = coded(report, "missing-in-environment")
    assert [(f["id"], f["severity"], f["file"], f["line"]) for f in missing] == [
        ("dev/twilio/api-key", "warning", "credentials.md", 8),
        ("prod/twilio/api-key", "warning", "credentials.md", 8),
    ]
    assert missing[1]["message"] == (
        "prod/twilio/api-key: Twilio API Key has a row in staging but none in prod (add its "
        "row, or list where it belongs in the Environments column)"
    )
    # a finding of no row: listed at the top, on no credential
    assert all(
        f["code"] != "missing-in-environment" for c in report["credentials"] for f in c["findings"]
    )


def test_only_the_environments_of_the_run_are_compared(tmp_path: Path) -> None:
    project = synced(tmp_path, [row(environment="staging"), row(environment="prod")])
    set_value(project, "staging/stripe/api-key", CANARY)
    set_value(project, "prod/stripe/api-key", CANARY)
    for one in ("staging", "dev"):
        code, report = audit(project, "--env", one, "--compare-values")
        assert code == 0
        assert report["findings"] == []
    # dev has no Stripe row: with dev in the run, it is missing there
    _, report = audit(project, "--env", "dev", "--env", "staging")
    assert [f["id"] for f in coded(report, "missing-in-environment")] == ["dev/stripe/api-key"]


def test_the_environments_column_narrows_where_a_credential_belongs(tmp_path: Path) -> None:
    table = "# Credentials\n\n" + HEADER
    table += "| Twilio | staging | API Key |  | 90d |  | @sms | staging, dev |\n"
    table += "| Twilio | dev | API Key |  | 90d |  | @sms |  |\n"
    table += "| Stripe | prod | API Key |  | 90d |  | @payments |  |\n"
    project = make_project(tmp_path, environments=ENVIRONMENTS, table_text=table)
    assert credctl(project, "sync").exit_code == 0
    _, report = audit(project)
    assert sorted(f["id"] for f in coded(report, "missing-in-environment")) == [
        "dev/stripe/api-key",
        "staging/stripe/api-key",
    ]


def test_the_environments_column_in_a_yaml_table(tmp_path: Path) -> None:
    project = make_project(tmp_path, environments=ENVIRONMENTS, table_text="")
    (project / "credentials.md").unlink()
    (project / "credentials.yaml").write_text(
        "credentials:\n"
        "  - service: Twilio\n"
        "    environment: staging\n"
        "    credential_type: API Key\n"
        "    value_reference: ''\n"
        "    rotation_schedule: 90d\n"
        "    last_rotated: ''\n"
        "    owner: '@sms'\n"
        "    environments: staging\n"
    )
    assert credctl(project, "sync").exit_code == 0
    _, report = audit(project)
    assert coded(report, "missing-in-environment") == []


def test_an_unknown_environment_in_the_column_is_a_usage_error(tmp_path: Path) -> None:
    table = "# Credentials\n\n" + HEADER
    table += "| Twilio | staging | API Key |  | 90d |  | @sms | staging, prdo |\n"
    project = make_project(tmp_path, environments=ENVIRONMENTS, table_text=table)
    result = credctl(project, "validate")
    assert result.exit_code == 2
    assert (
        "credentials.md:5: Environments names 'prdo', which is no environment "
        "(known: dev, prod, staging)" in result.stderr
    )
    assert credctl(project, "audit").exit_code == 2


@pytest.mark.parametrize("fmt", [name for name in FORMATS if name != "html"])
def test_every_report_format_shows_a_missing_row(tmp_path: Path, fmt: str) -> None:
    project = synced(tmp_path, [row(environment="staging")])
    result = credctl(project, "audit", "--env", "staging", "--env", "prod", "--format", fmt)
    assert "prod/stripe/api-key" in result.stdout, result.stdout


# ----------------------------------------------------------------------- shared-value


def test_staging_and_prod_holding_one_value_is_an_error_with_compare_values(
    tmp_path: Path,
) -> None:
    project = synced(tmp_path, [row(environment="staging"), row(environment="prod")])
    set_value(project, "staging/stripe/api-key", CANARY)
    set_value(project, "prod/stripe/api-key", CANARY)
    code, report = audit(project, "--env", "staging", "--env", "prod", "--compare-values")
    assert code == 1
    shared = coded(report, "shared-value")
    assert [(f["id"], f["severity"], f["line"]) for f in shared] == [
        ("staging/stripe/api-key", "error", 5),
        ("prod/stripe/api-key", "error", 6),
    ]
    assert shared[0]["message"] == (
        "staging/stripe/api-key holds the same value as prod/stripe/api-key (compared by keyed "
        "hash): a leak of one is a leak of all; give it a value of its own with "
        "'credctl rotate staging/stripe/api-key'"
    )
    # on each row, for its owner's reminder
    assert {c["id"]: [f["code"] for f in c["findings"]] for c in report["credentials"]} == {
        "staging/stripe/api-key": ["shared-value"],
        "prod/stripe/api-key": ["shared-value"],
    }
    assert report["evidence"]["compared_values"] is True


def test_a_plain_audit_reads_no_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = synced(tmp_path, [row(environment="staging"), row(environment="prod")])
    set_value(project, "staging/stripe/api-key", CANARY)
    set_value(project, "prod/stripe/api-key", CANARY)

    def refuse(*args: object) -> None:
        raise AssertionError("a plain audit read a value")

    monkeypatch.setattr(LocalBackend, "read_values", refuse)
    code, report = audit(project)
    assert code == 0, report
    assert coded(report, "shared-value") == []
    assert report["evidence"]["compared_values"] is False


def test_sharing_without_prod_is_a_warning_and_different_values_are_fine(tmp_path: Path) -> None:
    project = synced(
        tmp_path, [row(environment="staging"), row(environment="prod"), row(environment="dev")]
    )
    set_value(project, "staging/stripe/api-key", CANARY)
    set_value(project, "dev/stripe/api-key", CANARY)
    code, report = audit(project, "--compare-values")
    assert code == 0
    assert sorted((f["id"], f["severity"]) for f in coded(report, "shared-value")) == [
        ("dev/stripe/api-key", "warning"),
        ("staging/stripe/api-key", "warning"),
    ]
    # the fix: give one of them its own value
    set_value(project, "dev/stripe/api-key", CANARY + "-dev")
    _, report = audit(project, "--compare-values")
    assert coded(report, "shared-value") == []


def test_configuration_rows_share_values_freely(tmp_path: Path) -> None:
    rows = [
        row(service="Google", environment=name, credential_type="Client ID", reference="same-id")
        for name in ("staging", "prod")
    ]
    project = synced(tmp_path, rows)
    code, report = audit(project, "--env", "staging", "--env", "prod", "--compare-values")
    assert code == 0
    assert report["findings"] == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_report_shows_the_value(tmp_path: Path, fmt: str) -> None:
    project = synced(tmp_path, [row(environment="staging"), row(environment="prod")])
    set_value(project, "staging/stripe/api-key", CANARY)
    set_value(project, "prod/stripe/api-key", CANARY)
    out = tmp_path / f"report.{fmt}"
    result = credctl(project, "audit", "--compare-values", "--format", fmt, "-o", str(out), "-v")
    assert result.exit_code == 1, result.output
    written = out.read_text()
    assert "shared-value" in written or fmt == "html"
    assert CANARY not in written + result.output


def test_the_findings_are_described_with_their_fixes() -> None:
    for code in ("missing-in-environment", "shared-value"):
        assert code in FINDINGS
        assert code in FIXES
    assert "shared-value" in REMINDED
    assert "missing-in-environment" not in REMINDED  # no row, so no owner to remind
