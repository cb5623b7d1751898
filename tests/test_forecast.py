"""status --forecast: what falls due in the next 30, 60 and 90 days, per owner, as of now
or `--as-of`, in the table, Markdown, HTML and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from credctl.model import META_EXPIRES, META_LAST_ROTATED
from tests.support.dates import day, stamp
from tests.support.projects import make_project, row
from tests.support.runner import credctl
from tests.support.seeding import seed

CANARY = "canary-Fc3Wd7Ks1Pn9Bx4Lt"


def due_at_every_distance(root: Path) -> Path:
    folder = make_project(
        root,
        [
            row(),  # 90d, rotated 95 days ago: overdue
            row(service="Adyen"),  # due in 10 days
            row(service="Twilio", owner="@messaging"),  # due in 45 days
            row(service="SendGrid", owner="@messaging"),  # due in 80 days
            row(service="Segment", owner="@messaging"),  # expires in 20 days
            row(
                service="Google",
                environment="dev",
                credential_type="Client Secret",
                schedule="180d",
            ),
            row(service="Mailgun", owner=""),  # due in 25 days, no owner
        ],
    )
    rotated = {
        "stripe": 95,
        "adyen": 80,
        "twilio": 45,
        "sendgrid": 10,
        "mailgun": 65,
    }
    for service, days in rotated.items():
        seed(folder, f"prod/{service}/api-key", CANARY, **{META_LAST_ROTATED: stamp(days)})
    seed(
        folder,
        "prod/segment/api-key",
        CANARY,
        **{META_LAST_ROTATED: stamp(1), META_EXPIRES: stamp(-20)},
    )
    seed(folder, "dev/google/client-secret", CANARY, **{META_LAST_ROTATED: stamp(10)})
    return folder


pytestmark = pytest.mark.project(build=due_at_every_distance)


def status(project: Path, *args: str) -> str:
    result = credctl(project, "status", "--forecast", *args)
    assert result.exit_code == 0, result.output
    assert CANARY not in result.output
    return result.stdout


def test_the_table_counts_each_window_per_owner(project: Path) -> None:
    text = status(project)
    forecast = text[text.index("Forecast from") :]
    assert forecast.splitlines()[:6] == [
        f"Forecast from {day(0)}: due within 30, 60 and 90 days (each window includes the "
        "shorter ones)",
        "OWNER       OVERDUE  30 DAYS  60 DAYS  90 DAYS",
        "----------  -------  -------  -------  -------",
        "(no owner)  0        1        1        1",
        "@messaging  0        1        2        3",
        "@payments   1        1        1        1",
    ]
    assert "all         1        3        4        5" in forecast
    lines = forecast.splitlines()
    items = lines[lines.index("") + 3 :]
    assert [line.split()[:5] for line in items] == [
        ["(no", "owner)", "prod/mailgun/api-key", day(-25), "25"],
        ["@messaging", "prod/segment/api-key", day(-20), "20", "days"],
        ["@messaging", "prod/twilio/api-key", day(-45), "45", "days"],
        ["@messaging", "prod/sendgrid/api-key", day(-80), "80", "days"],
        ["@payments", "prod/stripe/api-key", day(5), "overdue", "schedule"],
        ["@payments", "prod/adyen/api-key", day(-10), "10", "days"],
    ]
    assert items[1].endswith("expiry")
    assert "dev/google/client-secret" not in forecast  # due in 170 days


def test_as_of_moves_the_windows(project: Path) -> None:
    text = status(project, "--as-of", day(-30))
    forecast = text[text.index("Forecast from") :]
    assert forecast.startswith(f"Forecast from {day(-30)}:")
    assert "@messaging  1        1        2        2" in forecast  # Segment's expiry has passed
    assert "@payments   2        0        0        0" in forecast


def test_json_markdown_and_html_carry_it(project: Path, tmp_path: Path) -> None:
    document = json.loads(status(project, "--env", "prod", "--format", "json"))
    forecast = document["forecast"]
    assert forecast["windows"] == [30, 60, 90]
    messaging = next(o for o in forecast["owners"] if o["owner"] == "@messaging")
    assert (messaging["overdue"], messaging["within"]) == (0, {"30": 1, "60": 2, "90": 3})
    assert messaging["credentials"][0] == {
        "id": "prod/segment/api-key",
        "due_on": day(-20),
        "days": 20,
        "overdue": False,
        "reason": "expiry",
    }
    markdown = status(project, "--env", "prod", "--format", "markdown")
    assert "## Forecast" in markdown
    assert "| @messaging | 0 | 1 | 2 | 3 |" in markdown
    assert f"| @payments | prod/stripe/api-key | {day(5)} | overdue | schedule |" in markdown
    page = tmp_path / "status.html"
    assert (
        credctl(project, "status", "--forecast", "--format", "html", "-o", str(page)).exit_code == 0
    )
    html = page.read_text()
    assert '<table id="forecast">' in html
    assert "<td>@messaging</td><td class=num>0</td><td class=num>1</td>" in html
    assert CANARY not in html


def test_without_the_option_status_shows_no_forecast(project: Path) -> None:
    plain = credctl(project, "status", "--env", "prod")
    assert "Forecast" not in plain.stdout
    document = json.loads(credctl(project, "status", "--format", "json").stdout)
    assert "forecast" not in document


def test_a_format_without_a_forecast_is_a_usage_error(project: Path) -> None:
    result = credctl(project, "status", "--forecast", "--format", "junit")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --forecast is shown in the table, json, markdown, html formats, not junit\n"
    )


def test_nothing_due_says_so(tmp_path: Path) -> None:
    project = make_project(tmp_path, [row()])
    seed(project, "prod/stripe/api-key", CANARY, **{META_LAST_ROTATED: stamp(0)})
    text = credctl(project, "status", "--forecast", "--as-of", day(60)).stdout
    assert f"Forecast from {day(60)}: due within 30, 60 and 90 days" in text
    assert text.endswith("nothing falls due.\n")
