"""credctl env: formats, selection, --check, file safety, git warning, speed."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from credctl import envfile
from tests.support.projects import make_project, row, stripe_google_and_twilio
from tests.support.runner import credctl
from tests.support.seeding import CANARY, seed


def stripe_and_google(root: Path) -> Path:
    folder = make_project(
        root,
        [
            row(),
            row(service="Google", credential_type="Client Secret", schedule="180d"),
            row(
                service="Google",
                credential_type="Redirect URI",
                reference="https://app.example.com/cb",
                schedule="never",
            ),
        ],
    )
    seed(folder, "prod/stripe/api-key", CANARY)
    seed(folder, "prod/google/client-secret", "g-secret")
    return folder


pytestmark = pytest.mark.project(build=stripe_and_google)


def test_check_lists_stale_names_never_values(project: Path) -> None:
    out = project / ".env.prod"
    assert credctl(project, "env", "--env", "prod", "-o", str(out)).exit_code == 0
    fresh = credctl(project, "env", "--env", "prod", "-o", str(out), "--check")
    assert fresh.exit_code == 0, fresh.output
    assert "up to date (3 variables)" in fresh.stderr
    seed(project, "prod/stripe/api-key-unused", "x")
    assert (
        credctl(project, "set", "prod/google/client-secret", input=CANARY + "-new").exit_code == 0
    )
    out.write_text(out.read_text() + "LEFTOVER='x'\n")
    stale = credctl(project, "env", "--env", "prod", "-o", str(out), "--check")
    assert stale.exit_code == 1
    assert stale.stderr == (
        "Error: .env.prod is stale: GOOGLE_CLIENT_SECRET; 1 entry credctl would not write "
        "(hint: regenerate it with 'credctl env --env prod -o .env.prod')\n"
    )
    assert CANARY not in stale.output
    missing = credctl(project, "env", "--env", "prod", "-o", str(project / "nope.env"), "--check")
    assert missing.exit_code == 1


# An RSA-key-like value: base64 lines ending in `=`, header lines with `:` and `,`, and a
# line that is a well-formed assignment of a valid name (no rule based on the shape of a
# line can tell it from a variable).
KEY_LINES = [
    "-----BEGIN RSA PRIVATE KEY-----",
    "Proc-Type: 4,ENCRYPTED",
    "DEK-Info: AES-128-CBC,3F17F5316E2BAC89Qz",
    "MIIEowIBAAKCAQEAq7BFUpkGp3+LQmlQYxKRq0n8jD4vG9Wb2aLk5nXoZt6Rc1yH",
    "tc8Hf0W3pkYvNmA2xGjL4pQ9sRbK7uE1VzXiW5yTd3Ne=",
    "KEYLINE_Wq3Zr8Tn=Jd5Hs2Vm7Xk4Lp9",
    "a=b",
    "-----END RSA PRIVATE KEY-----",
]
KEY = "\n".join(KEY_LINES)
# every piece of the key a parser could cut out and call a name
KEY_FRAGMENTS = {
    piece
    for line in KEY_LINES
    for piece in re.split(r"[=\s:,]+", line.strip("-"))
    if len(piece) >= 4 and piece not in ("BEGIN", "PRIVATE", "END")
}


def _naive_docker(entries: list[tuple[str, str]]) -> str:
    """A docker env file as a tool without quoting writes one: the value's lines as they are."""
    return "".join(f"{name}={value}\n" for name, value in entries)


@pytest.mark.parametrize("file_format", envfile.FORMATS)
def test_check_never_prints_a_fragment_of_a_multiline_value(
    project: Path, file_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every check format against a file in every format: only wanted names, and counts."""
    from credctl.cli import main

    assert credctl(project, "set", "prod/stripe/api-key", input=KEY).exit_code == 0
    entries = [
        ("GOOGLE_CLIENT_SECRET", "g-secret"),
        ("GOOGLE_REDIRECT_URI", "https://app.example.com/cb"),
        ("STRIPE_API_KEY", KEY),
    ]
    out = project / "checked.env"
    if file_format == "docker":  # docker cannot carry a line break: a hand-made file
        out.write_text(_naive_docker(entries))
    else:
        out.write_text(envfile.render(entries, file_format))
    for check_format in envfile.FORMATS:
        arguments = ["--project-dir", str(project), "env", "--env", "prod"]
        code: object = 0
        try:
            main([*arguments, "--format", check_format, "-o", str(out), "--check"])
        except SystemExit as exited:
            code = exited.code
        printed = capsys.readouterr()
        shown = printed.out + printed.err
        assert code in (0, 1), (check_format, shown)
        leaked = sorted(piece for piece in KEY_FRAGMENTS if piece in shown)
        assert not leaked, (file_format, check_format, shown)
        if code == 1:
            names = shown.split(" is stale: ", 1)[1].split(" (hint: ", 1)[0]
            listed, _, counted = names.partition("; ")
            assert set(listed.split(", ")) - {""} <= {name for name, _ in entries}, shown
            assert re.fullmatch(r"(\d+ entr(y|ies) credctl would not write)?", counted), shown
        if check_format == file_format != "docker":
            assert code == 0, shown


def test_check_after_the_environment_changed_format_names_no_value(project: Path) -> None:
    """The issue's case: a dotenv file checked as docker after env_file.format changed."""
    environment = project / "environments" / "prod.yaml"
    environment.write_text("backend: {type: local}\nenv_file: {path: .env.prod}\n")
    assert credctl(project, "set", "prod/stripe/api-key", input=KEY).exit_code == 0
    assert credctl(project, "env", "--env", "prod").exit_code == 0
    environment.write_text("backend: {type: local}\nenv_file: {path: .env.prod, format: docker}\n")
    checked = credctl(project, "env", "--env", "prod", "--check")
    assert checked.exit_code == 1, checked.output
    assert not [piece for piece in KEY_FRAGMENTS if piece in checked.output]
    assert checked.stderr.startswith("Error: .env.prod is stale: ")
    as_github = credctl(project, "env", "--env", "prod", "--format", "github", "--check")
    assert not [piece for piece in KEY_FRAGMENTS if piece in as_github.output], as_github.output
    assert "hint: regenerate it with 'credctl env --env prod --format github')" in as_github.stderr


@pytest.mark.parametrize("fmt", envfile.FORMATS)
def test_every_format_checks_fresh_after_writing(project: Path, fmt: str) -> None:
    out = project / f"out.{fmt}"
    written = credctl(project, "env", "--env", "prod", "--format", fmt, "-o", str(out))
    assert written.exit_code == 0, written.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    checked = credctl(project, "env", "--env", "prod", "--format", fmt, "-o", str(out), "--check")
    assert checked.exit_code == 0, checked.output


@pytest.mark.parametrize("shell", ["bash", "dash", "zsh"])
def test_shell_format_is_safe_to_eval(project: Path, tmp_path: Path, shell: str) -> None:
    executable = shutil.which(shell)
    if executable is None:
        pytest.skip(f"{shell} is not installed (make shells installs it)")
    marker = tmp_path / "pwned"
    value = f'it\'s $(touch {marker}) `touch {marker}` "q" *\nline two \\ !x %s'
    assert credctl(project, "set", "prod/stripe/api-key", input=value).exit_code == 0
    shell_text = credctl(project, "env", "--env", "prod", "--format", "shell", "-o", "-").stdout
    for how in ('eval "$SCRIPT"', ". ./script.sh"):
        (tmp_path / "script.sh").write_text(shell_text)
        completed = subprocess.run(
            [executable, "-c", how + '; printf %s "$STRIPE_API_KEY"'],
            env={"SCRIPT": shell_text},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        )
        assert completed.stdout == value, how
    assert not marker.exists()


GITHUB_HEREDOC = re.compile(r"^STRIPE_API_KEY<<(ghadelimiter_[0-9a-f]{32})\n(.*)\n\1\n", re.S)


def test_github_multiline_delimiter_is_random_per_run(project: Path) -> None:
    value = "line one\nline two"
    assert credctl(project, "set", "prod/stripe/api-key", input=value).exit_code == 0
    runs = [
        credctl(project, "env", "--env", "prod", "--format", "github", "-o", "-").stdout
        for _ in range(2)
    ]
    matches = [GITHUB_HEREDOC.search(text) for text in runs]
    assert all(matches), runs
    first, second = (match.group(1) for match in matches if match)
    assert first != second
    assert all(match.group(2) == value for match in matches if match)


def test_github_value_containing_the_delimiter_cannot_break_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    draws = iter(["a" * 32, "b" * 32])
    monkeypatch.setattr(secrets, "token_hex", lambda _: next(draws))
    value = f"x\nghadelimiter_{'a' * 32}\nEVIL=injected"
    text = envfile.render([("KEY", value)], "github")
    assert text == f"KEY<<ghadelimiter_{'b' * 32}\n{value}\nghadelimiter_{'b' * 32}\n"
    assert envfile.parse(text, "github") == {"KEY": value}


def test_a_value_dotenv_cannot_carry_is_refused_by_name(project: Path) -> None:
    assert credctl(project, "set", "prod/stripe/api-key", input=CANARY + "\\\\x").exit_code == 0
    out = project / ".env.prod"
    refused = credctl(project, "env", "--env", "prod", "-o", str(out))
    assert refused.exit_code == 2
    assert refused.stderr.startswith(
        "Error: the value of STRIPE_API_KEY cannot be written as dotenv"
    )
    assert CANARY not in refused.output
    assert not out.exists()
    assert (
        credctl(project, "env", "--env", "prod", "-o", str(out), "--format", "json").exit_code == 0
    )


def test_selection_and_duplicate_names(project: Path) -> None:
    only = credctl(
        project,
        "env",
        "--env",
        "prod",
        "-o",
        "-",
        "--format",
        "json",
        "--service",
        "google",
        "--no-include-config",
    )
    assert json.loads(only.stdout) == {"GOOGLE_CLIENT_SECRET": "g-secret"}
    picked = credctl(
        project, "env", "--env", "prod", "-o", "-", "--format", "json", "--only", "STRIPE_API_KEY"
    )
    assert json.loads(picked.stdout) == {"STRIPE_API_KEY": CANARY}
    by_type = credctl(
        project, "env", "--env", "prod", "-o", "-", "--format", "json", "--type", "Redirect URI"
    )
    assert json.loads(by_type.stdout) == {"GOOGLE_REDIRECT_URI": "https://app.example.com/cb"}
    unknown = credctl(project, "env", "--env", "prod", "-o", "-", "--only", "NOPE")
    assert unknown.exit_code == 2
    table = project / "credentials.md"
    header, divider, *rows = table.read_text().splitlines()[2:]
    table.write_text(
        "# Credentials\n\n"
        + header.replace("| Owner |", "| Owner | Env Var |")
        + "\n"
        + divider
        + "---|\n"
        + "\n".join(r + " SAME |" for r in rows)
        + "\n"
    )
    clash = credctl(project, "env", "--env", "prod", "-o", "-")
    assert clash.exit_code == 2
    assert "both map to the variable SAME" in clash.stderr


def test_names_from_the_environment_mapping_and_the_env_var_column(tmp_path: Path) -> None:
    mapping = (
        "backend: {type: local}\n"
        "env_vars:\n"
        "  stripe/api-key: PAYMENTS_KEY\n"  # service/credential slug
        "  prod/google/client-secret: GOOGLE_OAUTH_SECRET\n"  # the credential's id
        "  Twilio/Auth Token: SMS_TOKEN\n"  # compared as slugs
    )
    rows = [
        row(),
        row(service="Google", credential_type="Client Secret", schedule="180d"),
        row(service="Twilio", credential_type="API Key"),
    ]
    project = make_project(tmp_path, rows, environments={"prod": mapping})
    table = project / "credentials.md"
    header, divider, *lines = table.read_text().splitlines()[2:]
    for service, value in (("stripe", "s"), ("google", "g"), ("twilio", "t")):
        slug = "client-secret" if service == "google" else "api-key"
        seed(project, f"prod/{service}/{slug}", value)

    def names() -> dict[str, str]:
        written = credctl(project, "env", "--env", "prod", "--format", "json", "-o", "-")
        assert written.exit_code == 0, written.output
        result: dict[str, str] = json.loads(written.stdout)
        return result

    # the mapping names two rows; the third has no entry and takes the default rule
    assert names() == {"PAYMENTS_KEY": "s", "GOOGLE_OAUTH_SECRET": "g", "TWILIO_API_KEY": "t"}
    env_var = {"Stripe": "STRIPE_FROM_COLUMN", "Google": "", "Twilio": ""}
    table.write_text(
        "# Credentials\n\n"
        + header.replace("| Owner |", "| Owner | Env Var |")
        + "\n"
        + divider
        + "---|\n"
        + "".join(f"{line} {env_var[line.split('|')[1].strip()]} |\n" for line in lines)
    )
    # the column wins over the mapping; an empty cell falls back to the mapping
    assert names() == {"STRIPE_FROM_COLUMN": "s", "GOOGLE_OAUTH_SECRET": "g", "TWILIO_API_KEY": "t"}


def test_wrong_key_writes_no_file(project: Path) -> None:
    out = project / ".env.prod"
    key = "A" * 43 + "="
    failed = credctl(
        project, "env", "--env", "prod", "-o", str(out), env={"CREDCTL_LOCAL_KEY": key}
    )
    assert failed.exit_code == 3, failed.output
    assert not out.exists()
    assert len(failed.stderr.splitlines()) == 1


def test_backend_failure_mid_read_leaves_the_existing_file_byte_identical(project: Path) -> None:
    out = project / ".env.prod"
    assert credctl(project, "env", "--env", "prod", "-o", str(out)).exit_code == 0
    out.write_bytes(out.read_bytes() + b"# kept as it was\n")
    before = out.read_bytes()
    names_before = sorted(path.name for path in project.iterdir())
    store = project / ".credctl" / "store" / "store.json"
    document = json.loads(store.read_text())
    stripe, google = (
        document["secrets"][f"prod/{n}"] for n in ("stripe/api-key", "google/client-secret")
    )
    # Stripe's ciphertext in Google's slot: Stripe reads, Google fails to decrypt
    google["versions"][google["current"]]["data"] = stripe["versions"][stripe["current"]]["data"]
    store.write_text(json.dumps(document))
    failed = credctl(project, "env", "--env", "prod", "-o", str(out))
    assert failed.exit_code == 3, failed.output
    assert failed.stderr.startswith(
        "Error: cannot read 1 credential(s) of prod, no file written: prod/google/client-secret"
    )
    assert len(failed.stderr.splitlines()) == 1
    assert CANARY not in failed.output
    assert out.read_bytes() == before
    assert sorted(path.name for path in project.iterdir()) == names_before  # no temporary left


def test_warns_when_git_would_track_the_file(project: Path) -> None:
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    tracked = credctl(project, "env", "--env", "prod", "-o", str(project / "app.env"))
    assert "warning: git would track app.env" in tracked.stderr
    (project / ".gitignore").write_text("*.env\n")
    ignored = credctl(project, "env", "--env", "prod", "-o", str(project / "other.env"))
    assert "warning" not in ignored.stderr


@pytest.mark.project(build=stripe_google_and_twilio)
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


@pytest.mark.project(build=stripe_google_and_twilio)
def test_env_with_a_missing_value_writes_nothing(project: Path) -> None:
    seed(project, "prod/stripe/api-key", CANARY)
    out = project / ".env.prod"
    result = credctl(project, "env", "--env", "prod", "-o", str(out))
    assert result.exit_code == 3
    assert not out.exists()
    assert "prod/google/client-secret" in result.stderr
    assert CANARY not in result.output
