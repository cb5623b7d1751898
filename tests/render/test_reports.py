"""audit and status reports: every format, grouping, files, canary, speed, and a real browser."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
from junitparser import Failure, JUnitXml

from credctl.render.html_page import COLOURS
from tests.support.dates import stamp
from tests.support.fixtures import Store
from tests.support.projects import make_project, row
from tests.support.runner import credctl
from tests.support.seeding import seed

CANARY = "canary-Hs2Kq9Vx4Lm7Bd1Wz6Tp"
SCHEMA = Path(__file__).parents[1] / "data" / "sarif-schema-2.1.0.json"


def one_of_each_status(root: Path) -> Path:
    folder = make_project(
        root,
        [
            row(),  # overdue
            row(service="SendGrid", owner="@messaging"),  # ok
            row(service="Twilio", owner="@messaging"),  # due soon
            row(
                service="Google", credential_type="Client Secret", schedule="180d", owner=""
            ),  # no owner
            row(service="Segment", owner="@growth"),  # missing in the store
            row(
                service="Google",
                credential_type="Redirect URI",
                reference="https://app.example.com/cb",
                schedule="never",
                owner="@identity",
            ),
        ],
    )
    seed(folder, "prod/stripe/api-key", CANARY, **{"credctl:last-rotated": stamp(400)})
    seed(
        folder,
        "prod/sendgrid/api-key",
        CANARY + "-2",
        **{"credctl:last-rotated": stamp(10)},
    )
    seed(
        folder,
        "prod/twilio/api-key",
        CANARY + "-3",
        **{"credctl:last-rotated": stamp(80)},
    )
    seed(folder, "prod/google/client-secret", CANARY + "-4")
    seed(folder, "prod/old/api-key", CANARY + "-5")  # orphan
    return folder


pytestmark = pytest.mark.project(build=one_of_each_status)


def audit(project: Path, *args: str) -> str:
    result = credctl(project, "audit", "--fail-on", "never", *args)
    assert result.exit_code == 0, result.output
    assert CANARY not in result.output
    return result.stdout


def test_junit_parses_with_one_case_per_credential(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.xml"
    result = credctl(project, "audit", "--format", "junit", "-o", str(out))
    assert result.exit_code == 1  # errors found: the CI job fails
    xml = JUnitXml.fromfile(str(out))
    cases = {case.name: case for suite in xml for case in suite}
    assert {"prod/stripe/api-key", "prod/sendgrid/api-key", "prod/segment/api-key"} <= set(cases)
    failed = {
        name for name, case in cases.items() if any(isinstance(r, Failure) for r in case.result)
    }
    assert "prod/stripe/api-key" in failed
    assert "prod/segment/api-key" in failed  # missing in the store
    assert "prod/sendgrid/api-key" not in failed
    assert CANARY not in out.read_text()


def test_sarif_validates_and_points_at_table_lines(project: Path) -> None:
    document = json.loads(audit(project, "--format", "sarif"))
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    results = document["runs"][0]["results"]
    overdue = next(r for r in results if r["ruleId"] == "overdue")
    location = overdue["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "credentials.md"
    table_lines = (project / "credentials.md").read_text().splitlines()
    assert "| Stripe |" in table_lines[location["region"]["startLine"] - 1]
    assert {r["ruleId"] for r in results} >= {
        "overdue",
        "missing-in-backend",
        "missing-owner",
        "orphan",
    }


def test_github_annotations(project: Path) -> None:
    lines = audit(project, "--format", "github").splitlines()
    overdue = next(line for line in lines if "credctl overdue" in line)
    assert overdue.startswith(
        "::error file=credentials.md,line=5,title=credctl overdue::prod/stripe/api-key: last rotated"
    )
    assert lines[-1].startswith("::notice title=credctl audit::6 credentials")


def test_markdown_and_table_grouped_by_owner(project: Path) -> None:
    markdown = audit(project, "--format", "markdown", "--by", "owner")
    assert "### owner @messaging: 2 credentials (1 due-soon)" in markdown
    assert "| Service | Environment | Credential Type | Value/Reference |" in markdown
    table = credctl(project, "status", "--by", "environment").stdout
    assert table.startswith("environment prod: 6 credentials")
    assert "OWNER" in table


def test_fail_on_levels(project: Path) -> None:
    assert credctl(project, "audit").exit_code == 1
    assert credctl(project, "audit", "--fail-on", "never").exit_code == 0
    assert credctl(project, "audit", "--env", "dev", "--fail-on", "warning").exit_code == 0


def test_every_format_to_a_file_and_no_canary(project: Path, tmp_path: Path) -> None:
    for fmt in ("table", "json", "markdown", "junit", "sarif", "github", "html"):
        for command in ("audit", "status"):
            out = tmp_path / f"{command}.{fmt}"
            result = credctl(project, command, "--format", fmt, "-o", str(out), "--by", "owner")
            assert result.exit_code in (0, 1), result.output
            assert out.exists()
            text = out.read_text()
            assert text
            assert CANARY not in text + result.output
            assert "\x1b[" not in text  # no colour codes in files


def test_html_is_self_contained(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert credctl(project, "status", "--format", "html", "-o", str(out)).exit_code == 0
    page = out.read_text()
    for external in ("<script", "<link", "@import", "url(", "src="):
        assert external not in page
    assert page.count('class="bar"') == 5
    assert 'id="by-owner"' in page
    assert 'id="by-environment"' in page


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return name
    pytest.skip("no Chromium found (make test installs Debian's chromium package)")


def test_html_renders_in_headless_chromium(project: Path, tmp_path: Path) -> None:
    browser = chromium()
    out = tmp_path / "report.html"
    assert credctl(project, "status", "--format", "html", "-o", str(out)).exit_code == 0
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", out.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert dom.count('class="bar"') == 5
    assert dom.count("<tr data-status=") == 6
    assert 'id="age-chart"' in dom
    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, *flags, "--window-size=1280,1400", f"--screenshot={shot}", out.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG")
    # What was drawn, not only what was parsed: the chart's status colours are on screen.
    from PIL import Image

    with Image.open(shot) as image:
        drawn = {colour for _, colour in image.convert("RGB").getcolors(maxcolors=1 << 20) or []}
    for status in ("overdue", "due-soon", "ok"):
        colour = COLOURS[status].lstrip("#")
        assert tuple(int(colour[i : i + 2], 16) for i in (0, 2, 4)) in drawn, status


def test_fail_on_warning_fails_on_a_due_soon_credential_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDCTL_LOCAL_KEY", raising=False)
    project = make_project(tmp_path, [row(service="Twilio", owner="@messaging")])
    seed(project, "prod/twilio/api-key", CANARY, **{"credctl:last-rotated": stamp(80)})
    audit = ("audit", "--env", "prod")  # dev has no row: there it would be missing
    document = json.loads(credctl(project, *audit, "--format", "json", "--fail-on", "never").stdout)
    assert document["summary"]["error"] == 0
    assert {f["code"] for f in document["findings"]} == {"due-soon", "table-drift"}
    assert credctl(project, *audit).exit_code == 0  # default: --fail-on error
    assert credctl(project, *audit, "--fail-on", "warning").exit_code == 1


CREDENTIAL_KEYS = {
    "id",
    "environment",
    "service",
    "credential_type",
    "owner",
    "reference",
    "last_rotated",
    "rotated_by",
    "age_days",
    "max_age_days",
    "due_on",
    "status",
    "findings",
}
FINDING_KEYS = {"code", "severity", "message", "id", "file", "line"}
STATUSES = {"ok", "due-soon", "overdue", "never-rotated", "missing", "unknown"}


def test_json_documents_keep_the_design_contract(project: Path) -> None:
    """CI jobs parse these: every key of docs/json.md is there, with its type."""
    document = json.loads(audit(project, "--format", "json"))
    assert set(document) == {
        "schema_version",
        "generated_at",
        "as_of",
        "credentials",
        "findings",
        "summary",
        "evidence",
    }
    assert document["schema_version"] == 1
    assert set(document["summary"]) == {"error", "warning", "info"}
    for credential in document["credentials"]:
        assert set(credential) >= CREDENTIAL_KEYS
        extras = {"env_var", "file", "line", "expires_on"}  # documented extras
        assert set(credential) - CREDENTIAL_KEYS <= extras
        assert credential["status"] in STATUSES
        for finding in credential["findings"]:
            assert set(finding) == FINDING_KEYS
            assert finding["id"] == credential["id"]
    for finding in document["findings"]:
        assert set(finding) == FINDING_KEYS
        assert finding["severity"] in {"error", "warning", "info"}
    status = json.loads(credctl(project, "status", "--format", "json").stdout)
    assert status["schema_version"] == 1
    assert [c["id"] for c in status["credentials"]] == [c["id"] for c in document["credentials"]]


def test_ci_annotations_point_into_the_repository_not_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project in a sub-folder of a monorepo: code scanning resolves from the repo root."""
    monkeypatch.delenv("CREDCTL_LOCAL_KEY", raising=False)
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    project = make_project(tmp_path / "repo" / "services" / "pay", [row()])
    sarif = json.loads(audit(project, "--format", "sarif"))
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in sarif["runs"][0]["results"]
    }
    assert uris == {"services/pay/credentials.md"}
    annotations = audit(project, "--format", "github").splitlines()
    assert annotations[0].startswith("::error file=services/pay/credentials.md,line=5,")
    document = json.loads(audit(project, "--format", "json"))
    assert {f["file"] for f in document["findings"]} == {"credentials.md"}  # project-relative


def test_the_report_carries_evidence_an_auditor_can_check(project: Path, tmp_path: Path) -> None:
    """Tool, moment, inputs' digests, a population that reconciles, and the report's own
    digest beside it (the project has an orphan and a missing row)."""
    import hashlib
    import subprocess

    Store("local").put_unmanaged(str(project), "prod/legacy/api-key", CANARY + "-6")
    out = tmp_path / "report.json"
    result = credctl(project, "audit", "--format", "json", "-o", str(out), "--fail-on", "never")
    assert result.exit_code == 0, result.output
    evidence = json.loads(out.read_text())["evidence"]
    assert evidence["tool"] == "credctl"
    assert set(evidence["inputs"]) == {
        "credentials.md",
        "environments/dev.yaml",
        "environments/prod.yaml",
        "policies/default.yaml",
    }
    table_digest = hashlib.sha256((project / "credentials.md").read_bytes()).hexdigest()
    assert evidence["inputs"]["credentials.md"] == table_digest
    prod = next(share for share in evidence["population"] if share["environment"] == "prod")
    assert prod["listed"] == 6  # four rows' secrets, an orphan, a secret another tool made
    assert (prod["matched"], prod["orphans"], prod["unmanaged"], prod["deleted"]) == (4, 1, 1, 0)
    assert (prod["rows"], prod["rows_in_store"], prod["rows_missing"], prod["rows_config"]) == (
        6,
        4,
        1,
        1,
    )
    assert prod["reconciles"] is True
    seal = tmp_path / "report.json.sha256"
    assert seal.read_text() == f"{hashlib.sha256(out.read_bytes()).hexdigest()}  report.json\n"
    checked = subprocess.run(
        ["sha256sum", "-c", seal.name], cwd=tmp_path, capture_output=True, check=False
    )
    assert checked.returncode == 0
    assert CANARY not in out.read_text() + seal.read_text()
