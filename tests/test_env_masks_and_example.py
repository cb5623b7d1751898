"""`env --format github` announces every secret value to the runner (`::add-mask::`, a
line each); `env --example` writes names and comments, never a value, opening no store."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from dotenv import dotenv_values

from credctl.envfile.github import mask
from credctl.envfile.github import parse as parse_github
from tests.support.projects import make_project, row
from tests.support.runner import credctl
from tests.support.seeding import seed
from tests.support.terminal import on_a_terminal

CANARY = "canary-Mq4Tz8Wn2Lx6Pd0Rk5Hs"
PEM = f"-----BEGIN KEY-----\n{CANARY}-line-two\n\nMII%0Aend\r\n-----END KEY-----"
ROWS = [
    row(),
    row(service="Google", credential_type="Client Secret", schedule="180d"),
    row(
        service="Google",
        credential_type="Redirect URI",
        reference="https://app.example.com/cb",
        schedule="never",
        owner="@identity",
    ),
    row(service="Twilio", credential_type="Client Secret", schedule="180d", owner=""),
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("CREDCTL_LOCAL_KEY", raising=False)
    folder = make_project(tmp_path, ROWS)
    seed(folder, "prod/stripe/api-key", CANARY)
    seed(folder, "prod/google/client-secret", PEM)
    seed(folder, "prod/twilio/client-secret", CANARY)  # the same value twice: masked once
    return folder


def test_github_format_masks_each_line_of_each_secret_value_on_stdout(project: Path) -> None:
    written = credctl(project, "env", "--env", "prod", "--format", "github", "-o", "gh.env")
    assert written.exit_code == 0, written.output
    assert written.stdout == (
        f"::add-mask::{CANARY}\n"
        "::add-mask::-----BEGIN KEY-----\n"
        f"::add-mask::{CANARY}-line-two\n"
        "::add-mask::MII%250Aend\n"  # the runner unescapes %25 to %: the value as it is
        "::add-mask::-----END KEY-----\n"
    )
    assert written.stderr == "wrote 4 variables to gh.env (mode 0600)\n"
    # the file holds the variables, the redirect URI (not a secret) unmasked
    assert parse_github((project / "gh.env").read_bytes().decode()) == {
        "STRIPE_API_KEY": CANARY,
        "GOOGLE_CLIENT_SECRET": PEM,
        "GOOGLE_REDIRECT_URI": "https://app.example.com/cb",
        "TWILIO_CLIENT_SECRET": CANARY,
    }
    assert "app.example.com" not in written.stdout


def test_every_secret_line_has_its_mask() -> None:
    values = [CANARY, PEM, "a\rb", "  padded  ", "%25"]
    masked = {line.removeprefix("::add-mask::") for line in mask(values).splitlines()}
    assert all(line.startswith("::add-mask::") for line in mask(values).splitlines())
    unescaped = {
        line.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%") for line in masked
    }
    for value in values:
        for line in value.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            assert not line.strip() or line in unescaped, line
    assert mask([]) == ""
    assert mask(["\n \n"]) == ""


def test_github_to_stdout_or_to_a_terminal_prints_no_mask_lines(project: Path) -> None:
    to_stdout = credctl(project, "env", "--env", "prod", "--format", "github", "-o", "-")
    assert to_stdout.exit_code == 0
    assert "::add-mask::" not in to_stdout.stdout
    assert parse_github(to_stdout.stdout)["STRIPE_API_KEY"] == CANARY
    assert to_stdout.stderr == (
        "warning: no ::add-mask:: lines, as the file itself goes to standard output; "
        'write it with -o "$GITHUB_ENV" so that the runner masks the values\n'
    )
    drawn = on_a_terminal(
        project, "env", "--env", "prod", "--format", "github", "-o", "gh.env", stderr=False
    )
    assert drawn.exit_code == 0
    assert drawn.stdout == ""
    assert CANARY not in drawn.stderr
    assert drawn.stderr == (
        "wrote 4 variables to gh.env (mode 0600)\n"
        "the ::add-mask:: lines hold the values, so they are not printed to a terminal "
        "(a GitHub Actions runner gets them)\n"
    )
    # other formats have nothing to announce
    dotenv = credctl(project, "env", "--env", "prod", "--format", "shell", "-o", "x.sh")
    assert (dotenv.exit_code, dotenv.stdout) == (0, "")


def test_example_holds_names_and_comments_and_never_a_value(project: Path) -> None:
    written = credctl(project, "env", "--env", "prod", "--example")
    assert written.exit_code == 0, written.output
    assert written.stderr == "wrote 4 variable names to .env.example (no values)\n"
    assert written.stdout == ""
    example = project / ".env.example"
    assert stat.S_IMODE(example.stat().st_mode) == 0o644  # made to be committed
    text = example.read_text()
    assert CANARY not in text
    assert "app.example.com" not in text  # not even a configuration value
    assert text == (
        "# Variables of the prod environment, written by credctl from credentials.md.\n"
        "# Names only: fill in the values, or write the real file with "
        "'credctl env --env prod'.\n"
        "\n"
        "# Stripe API Key · @payments · local://prod/stripe/api-key\n"
        "STRIPE_API_KEY=\n"
        "\n"
        "# Google Client Secret · @payments · local://prod/google/client-secret\n"
        "GOOGLE_CLIENT_SECRET=\n"
        "\n"
        "# Google Redirect URI · @identity · a configuration value: see credentials.md\n"
        "GOOGLE_REDIRECT_URI=\n"
        "\n"
        "# Twilio Client Secret · no owner · local://prod/twilio/client-secret\n"
        "TWILIO_CLIENT_SECRET=\n"
    )
    assert dotenv_values(example) == dict.fromkeys(
        ["STRIPE_API_KEY", "GOOGLE_CLIENT_SECRET", "GOOGLE_REDIRECT_URI", "TWILIO_CLIENT_SECRET"],
        "",
    )
    selected = credctl(
        project, "env", "--env", "prod", "--example", "--service", "google", "-o", "-"
    )
    assert selected.exit_code == 0
    assert [line for line in selected.stdout.splitlines() if "=" in line] == [
        "GOOGLE_CLIENT_SECRET=",
        "GOOGLE_REDIRECT_URI=",
    ]


def test_example_opens_no_store(tmp_path: Path) -> None:
    # a store nobody can reach: anything that opened it would fail (exit 3)
    unreachable = "backend: {type: vault, url: 'http://127.0.0.1:9'}\n"
    folder = make_project(tmp_path, [row()], environments={"prod": unreachable})
    assert credctl(folder, "env", "--env", "prod", "-o", "-").exit_code == 3
    example = credctl(folder, "env", "--env", "prod", "--example", "-o", "-")
    assert example.exit_code == 0, example.output
    assert "STRIPE_API_KEY=\n" in example.stdout
    assert "vault://secret/prod/stripe/api-key" in example.stdout


def test_example_check_says_what_is_stale_without_a_value(project: Path) -> None:
    assert credctl(project, "env", "--env", "prod", "--example").exit_code == 0
    fresh = credctl(project, "env", "--env", "prod", "--example", "--check")
    assert (fresh.exit_code, fresh.stderr) == (0, ".env.example is up to date (4 variable names)\n")
    example = project / ".env.example"
    example.write_text(example.read_text().replace("STRIPE_API_KEY=", f"STRIPE_API_KEY={CANARY}"))
    filled = credctl(project, "env", "--env", "prod", "--example", "--check")
    assert (filled.exit_code, filled.stderr) == (
        1,
        "Error: .env.example is stale: STRIPE_API_KEY "
        "(hint: regenerate it with 'credctl env --env prod --example')\n",
    )
    example.write_text(example.read_text().replace("@identity", "@someone"))
    assert (
        "is stale: STRIPE_API_KEY"
        in credctl(project, "env", "--env", "prod", "--example", "--check").stderr
    )
    assert credctl(project, "env", "--env", "prod", "--example").exit_code == 0
    example.write_text(example.read_text().replace("@identity", "@someone"))
    comments = credctl(project, "env", "--env", "prod", "--example", "--check")
    assert comments.exit_code == 1
    assert comments.stderr.startswith("Error: .env.example is stale: its comments differ (hint:")


def test_example_is_dotenv_only(project: Path) -> None:
    refused = credctl(project, "env", "--env", "prod", "--example", "--format", "json")
    assert (refused.exit_code, refused.stderr) == (
        2,
        "Error: --example writes a dotenv file: leave out --format json\n",
    )


def test_the_format_setting_never_turns_an_env_file_into_a_report(project: Path) -> None:
    # `format = "json"` is for reports; env's output is the file (it printed {"schema_version": 1})
    (project / "credctl.toml").write_text('format = "json"\n')
    written = credctl(project, "env", "--env", "prod", "--only", "STRIPE_API_KEY", "-o", "-")
    assert (written.exit_code, written.stdout) == (0, f"STRIPE_API_KEY='{CANARY}'\n")
    example = credctl(project, "env", "--env", "prod", "--example", "-o", "-")
    assert example.stdout.startswith("# Variables of the prod environment")
    masks = credctl(project, "env", "--env", "prod", "--format", "github", "-o", "gh.env")
    assert masks.stdout.startswith("::add-mask::")
