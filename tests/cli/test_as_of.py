"""--as-of: audit, status and rotate --due --dry-run evaluated at another moment."""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml

from credctl.schedule import format_timestamp
from tests.support.dates import day, days_ago, stamp
from tests.support.projects import make_project, row
from tests.support.runner import credctl
from tests.support.seeding import seed

CANARY = "canary-As0fPz4Qk8Lw2Vn6Tb"


def due_in_twenty_days(root: Path) -> Path:
    """Stripe is due in 20 days (rotated 70 of 90 days ago); SendGrid was rotated today."""
    folder = make_project(
        root,
        [
            row(last_rotated=day(70)),
            row(service="SendGrid", last_rotated=day(0)),
        ],
    )
    seed(folder, "prod/stripe/api-key", CANARY, **{"credctl:last-rotated": stamp(70)})
    seed(folder, "prod/sendgrid/api-key", CANARY + "-2", **{"credctl:last-rotated": stamp(0)})
    return folder


pytestmark = pytest.mark.project(build=due_in_twenty_days)


def ahead(days: int) -> str:
    """A date `days` from now, as a user types it."""
    return days_ago(-days).strftime("%Y-%m-%d")


def statuses(document: dict[str, object]) -> dict[str, str]:
    credentials = document["credentials"]
    assert isinstance(credentials, list)
    return {c["id"]: c["status"] for c in credentials}


def test_thirty_days_ahead_a_credential_due_in_twenty_is_overdue(project: Path) -> None:
    today = json.loads(credctl(project, "audit", "--format", "json").stdout)
    assert statuses(today)["prod/stripe/api-key"] == "ok"
    assert today["as_of"] == today["generated_at"]
    result = credctl(project, "audit", "--format", "json", "--as-of", ahead(30))
    assert result.exit_code == 1, result.output  # an overdue credential is an error
    document = json.loads(result.stdout)
    assert statuses(document) == {"prod/stripe/api-key": "overdue", "prod/sendgrid/api-key": "ok"}
    assert document["as_of"] == f"{ahead(30)}T23:59:59Z"
    assert document["generated_at"] != document["as_of"]
    stripe = next(c for c in document["credentials"] if c["id"] == "prod/stripe/api-key")
    assert stripe["age_days"] == 100
    assert "overdue" in {f["code"] for f in stripe["findings"]}


@pytest.mark.parametrize("fmt", ["table", "markdown", "github", "sarif", "junit", "html"])
def test_every_format_shows_the_overdue_credential_and_the_moment(
    project: Path, tmp_path: Path, fmt: str
) -> None:
    moment = f"{ahead(30)}T23:59:59Z"
    out = tmp_path / f"report.{fmt}"
    result = credctl(
        project,
        "audit",
        "--format",
        fmt,
        "--as-of",
        ahead(30),
        "--fail-on",
        "never",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert CANARY not in text + result.output
    if fmt == "junit":
        cases = {case.name: case for suite in JUnitXml.fromfile(str(out)) for case in suite}
        assert any(isinstance(r, Failure) for r in cases["prod/stripe/api-key"].result)
        assert moment.removesuffix("Z") in text  # the suite's timestamp
        return
    if fmt == "sarif":
        run = json.loads(text)["runs"][0]
        assert run["properties"]["as_of"] == moment
        assert "overdue" in {r["ruleId"] for r in run["results"]}
        return
    assert "overdue" in text
    assert f"as of {moment}" in text


def test_status_as_of_and_a_bad_moment(project: Path) -> None:
    status = credctl(project, "status", "--as-of", ahead(30))
    assert status.exit_code == 0, status.output
    stripe = next(line for line in status.stdout.splitlines() if "prod/stripe" in line)
    assert stripe.split()[-1] == "overdue"
    bad = credctl(project, "status", "--as-of", "next tuesday")
    assert bad.exit_code == 2
    assert "'next tuesday' is not an ISO date or date-time" in bad.stderr


def test_rotate_due_previews_as_of_and_refuses_to_act_on_it(project: Path) -> None:
    store_before = (project / ".credctl" / "store" / "store.json").read_bytes()
    table_before = (project / "credentials.md").read_bytes()
    now = credctl(project, "rotate", "--due", "--dry-run")
    assert now.exit_code == 0
    assert "prod/stripe/api-key" not in now.stdout
    preview = credctl(project, "rotate", "--due", "--dry-run", "--as-of", ahead(30))
    assert preview.exit_code == 0, preview.output
    assert "prod/stripe/api-key" in preview.stdout
    assert "prod/sendgrid/api-key" not in preview.stdout
    for args in (("--due",), ("prod/stripe/api-key", "--dry-run"), ("prod/stripe/api-key",)):
        refused = credctl(project, "rotate", *args, "--as-of", ahead(30))
        assert refused.exit_code == 2, (args, refused.output)
        assert "--as-of only previews: use it with --due --dry-run" in refused.stderr
    assert (project / ".credctl" / "store" / "store.json").read_bytes() == store_before
    assert (project / "credentials.md").read_bytes() == table_before


def test_an_as_of_date_time_is_taken_as_given(project: Path) -> None:
    moment = days_ago(-30).replace(microsecond=0)
    given = moment.astimezone(timezone(timedelta(hours=2))).isoformat()  # ...T16:00:00+02:00
    document = json.loads(credctl(project, "status", "--format", "json", "--as-of", given).stdout)
    assert document["as_of"] == format_timestamp(moment)
