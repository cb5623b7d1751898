"""Every report format shows a credential's expiry and the due date it sets (the earlier of
its schedule's and its expiry); a report with no expiry keeps its columns as they were."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from junitparser import JUnitXml

from credctl.model import META_EXPIRES, META_LAST_ROTATED
from credctl.render.common import STATUS_HEADERS
from tests.support.dates import day, stamp
from tests.support.projects import make_project, row
from tests.support.runner import credctl
from tests.support.seeding import seed

CANARY = "canary-Xc4Rv8Mb2Tq6Yn1Hs"
SCHEMA = Path(__file__).parents[1] / "data" / "sarif-schema-2.1.0.json"
STRIPE = "prod/stripe/api-key"


def one_expiring(root: Path) -> Path:
    folder = make_project(root, [row(), row(service="Twilio", owner="@messaging")])
    # rotated 10 days ago (due in 80 by its schedule), but it expires in 5
    seed(
        folder,
        "prod/stripe/api-key",
        CANARY,
        **{META_LAST_ROTATED: stamp(10), META_EXPIRES: stamp(-5)},
    )
    seed(folder, "prod/twilio/api-key", CANARY + "-2", **{META_LAST_ROTATED: stamp(10)})
    return folder


pytestmark = pytest.mark.project(build=one_expiring)


def report(project: Path, *args: str) -> str:
    result = credctl(project, "audit", "--fail-on", "never", *args)
    assert result.exit_code == 0, result.output
    assert CANARY not in result.output
    return result.stdout


def test_the_table_has_an_expires_column(project: Path) -> None:
    lines = report(project).splitlines()
    assert lines[0].split() == [
        "CREDENTIAL",
        "OWNER",
        "LAST",
        "ROTATED",
        "AGE",
        "MAX",
        "EXPIRES",
        "DUE",
        "STATUS",
    ]
    stripe = next(line for line in lines if line.startswith(STRIPE))
    assert stripe.split()[4:] == ["90d", day(-5), day(-5), "due-soon"]
    twilio = next(line for line in lines if line.startswith("prod/twilio/api-key"))
    assert twilio.split()[4:] == ["90d", day(-80), "ok"]


def test_a_report_without_expiries_keeps_its_columns(tmp_path: Path) -> None:
    project = make_project(tmp_path, [row()])
    seed(project, STRIPE, CANARY, **{META_LAST_ROTATED: stamp(10)})
    header = credctl(project, "status").stdout.splitlines()[0]
    assert header.split() == [word for name in STATUS_HEADERS for word in name.split()]
    markdown = credctl(project, "status", "--format", "markdown").stdout
    assert "Expires" not in markdown


def test_json_and_markdown(project: Path) -> None:
    document = json.loads(report(project, "--format", "json"))
    stripe = next(c for c in document["credentials"] if c["id"] == STRIPE)
    assert (stripe["expires_on"], stripe["due_on"]) == (day(-5), day(-5))
    markdown = report(project, "--format", "markdown")
    assert "| Status | Age | Expires | Due |" in markdown
    assert f"| due-soon | 10d | {day(-5)} | {day(-5)} |" in markdown


def test_sarif_junit_and_github(project: Path, tmp_path: Path) -> None:
    document = json.loads(report(project, "--format", "sarif"))
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    [soon] = [r for r in document["runs"][0]["results"] if r["ruleId"] == "expires-soon"]
    assert soon["properties"] == {"due_on": day(-5), "expires_on": day(-5)}
    assert soon["level"] == "warning"
    out = tmp_path / "audit.xml"
    assert credctl(project, "audit", "--format", "junit", "-o", str(out)).exit_code == 0
    cases = {case.name: case for suite in JUnitXml.fromfile(str(out)) for case in suite}
    assert cases[STRIPE].system_out.startswith(
        f"due-soon; owner @payments; due {day(-5)}; expires {day(-5)}\n"
    )
    github = report(project, "--format", "github")
    assert (
        f"::warning file=credentials.md,line=5,title=credctl expires-soon::{STRIPE}: expires on "
        f"{day(-5)}, in 5 days ('credctl rotate {STRIPE}')"
    ) in github


def test_the_page_marks_each_expiry_on_its_bar(project: Path, tmp_path: Path) -> None:
    page = tmp_path / "status.html"
    assert credctl(project, "status", "--format", "html", "-o", str(page)).exit_code == 0
    html = page.read_text()
    assert html.count('class="expiry"') == 1
    assert f"<title>{STRIPE}: expires {day(-5)}</title>" in html
    assert "= the provider&#x27;s expiry" in html or "= the provider's expiry" in html
    assert "<th>Expires</th><th>Due</th>" in html
    assert f"<td>{day(-5)}</td><td>{day(-5)}</td>" in html
    assert CANARY not in html
