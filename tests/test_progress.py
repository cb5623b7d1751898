"""Progress on a terminal: one line per environment with its count on standard error for
every command that lists, reads or writes many secrets; nothing when piped, with -q, or on
standard output."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.projects import make_project, row
from tests.support.runner import credctl
from tests.support.seeding import seed_many
from tests.support.terminal import on_a_terminal

COUNT = 1000


def screen(raw: str) -> list[str]:
    """The lines a terminal shows: each line as its last carriage return left it."""
    lines = raw.replace("\r\n", "\n").split("\n")
    return [re.split(r"\r(?:\x1b\[K)?", line)[-1] for line in lines if line]


@pytest.fixture(scope="module")
def thousand(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose prod environment has 1,000 credentials, all in its store."""
    folder = make_project(
        tmp_path_factory.mktemp("thousand"),
        [row(service=f"Service {index:04d}") for index in range(COUNT)],
    )
    seed_many(folder, [(f"prod/service-{index:04d}/api-key", "v") for index in range(COUNT)])
    return folder


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """Two environments, each with a secret in its store."""
    folder = make_project(tmp_path, [row(), row(environment="dev")])
    seed_many(folder, [("prod/stripe/api-key", "v1"), ("dev/stripe/api-key", "v2")])
    return folder


def test_audit_of_a_thousand_secrets_shows_progress_on_a_terminal(thousand: Path) -> None:
    drawn = on_a_terminal(thousand, "audit", "--env", "prod", "--fail-on", "never", stdout=False)
    assert drawn.exit_code == 0
    # while it lists, then what it came to, on the one line of the environment
    assert "prod: listing secrets…" in drawn.stderr
    assert screen(drawn.stderr) == [f"prod: listed {COUNT} secrets"]
    assert "listing" not in drawn.stdout
    assert "listed" not in drawn.stdout
    assert f"{COUNT} credentials" in drawn.stdout
    # the same audit with standard error piped: no progress at all
    piped = credctl(thousand, "audit", "--env", "prod", "--fail-on", "never")
    assert piped.exit_code == 0
    assert piped.stderr == ""
    assert piped.stdout == drawn.stdout


def test_quiet_and_a_piped_stderr_show_none_even_with_stdout_on_a_terminal(
    thousand: Path,
) -> None:
    quiet = on_a_terminal(thousand, "audit", "--env", "prod", "--fail-on", "never", "-q")
    assert "listing" not in quiet.stdout
    assert quiet.stderr == ""
    piped = on_a_terminal(thousand, "env", "--env", "prod", "-o", "-", stderr=False)
    assert piped.exit_code == 0
    assert piped.stderr == ""
    assert "reading" not in piped.stdout


def test_log_lines_go_above_the_line_of_the_environment(thousand: Path) -> None:
    # -vv logs the store's read while the environment's line is up: the log line takes the
    # line, the environment's line is drawn again below it
    drawn = on_a_terminal(thousand, "audit", "--env", "prod", "--fail-on", "never", "-vv")
    lines = screen(drawn.stderr)
    read = next(index for index, line in enumerate(lines) if line.startswith("debug: prod: read"))
    assert lines[read:] == [
        lines[read],
        f"prod: listed {COUNT} secrets",
        f"info: prod: listed {COUNT} secrets in local store .credctl/store in "
        + lines[-1].rsplit(" in ", 1)[1],
    ]
    assert "prod: listing secrets…\r\x1b[Kdebug: prod: read" in drawn.stderr


@pytest.mark.parametrize(
    ("args", "doing", "outcome"),
    [
        (["audit", "--fail-on", "never"], "listing secrets", "listed 1 secret"),
        (["status"], "listing secrets", "listed 1 secret"),
        (["plan"], "listing secrets", "listed 1 secret"),
        (["sync", "--dry-run"], "listing secrets", "listed 1 secret"),
        (["import", "--dry-run"], "listing secrets", "listed 1 secret"),
        (["doctor"], "checking its store", "listed 1 secret"),
        (["rotate", "--due", "--dry-run"], "listing secrets", "listed 1 secret"),
        (["remind", "--dry-run"], "listing secrets", "listed 1 secret"),
    ],
)
def test_every_command_over_many_secrets_shows_a_line_per_environment(
    small: Path, args: list[str], doing: str, outcome: str
) -> None:
    drawn = on_a_terminal(small, *args, stdout=False)
    assert drawn.exit_code == 0, drawn.stderr
    assert f"dev: {doing}…" in drawn.stderr
    shown = [line for line in screen(drawn.stderr) if line.startswith(("dev:", "prod:"))]
    assert shown == [f"dev: {outcome}", f"prod: {outcome}"]
    assert credctl(small, *args).stderr.count(outcome) == 0


@pytest.mark.parametrize("command", ["env", "run"])
def test_env_and_run_say_how_many_values_they_read(small: Path, command: str) -> None:
    args = ["-o", "-"] if command == "env" else ["--", "true"]
    drawn = on_a_terminal(small, command, "--env", "prod", *args, stdout=False)
    assert drawn.exit_code == 0, drawn.stderr
    assert "prod: reading 1 value…" in drawn.stderr
    assert screen(drawn.stderr) == ["prod: read 1 value"]


def test_scan_says_how_many_values_it_read_per_environment(small: Path) -> None:
    drawn = on_a_terminal(small, "scan", "credentials.md", stdout=False)
    assert drawn.exit_code == 0, drawn.stderr
    assert "dev: reading 1 value…" in drawn.stderr
    shown = [line for line in screen(drawn.stderr) if line.startswith(("dev:", "prod:"))]
    assert [line.split(" ")[:2] for line in shown] == [["dev:", "read"], ["prod:", "read"]]


def test_a_failure_erases_the_line_and_the_error_stands_alone(tmp_path: Path) -> None:
    unreachable = "backend: {type: vault, url: 'http://127.0.0.1:9'}\nretry: {max_attempts: 1}\n"
    folder = make_project(tmp_path, [row()], environments={"prod": unreachable})
    drawn = on_a_terminal(folder, "audit", stdout=False, VAULT_TOKEN="t")
    assert drawn.exit_code == 3
    assert "prod: listing secrets…" in drawn.stderr
    [error] = screen(drawn.stderr)
    assert error.startswith("Error: ")


def test_sync_writes_with_a_bar_after_the_listing_lines(small: Path) -> None:
    seed_many(small, [("prod/old/api-key", "x")], **{"credctl:managed": "true"})
    drawn = on_a_terminal(
        small, "sync", "--prune", stdout=False, CREDCTL_ACTOR="tester", COLUMNS="100"
    )
    assert drawn.exit_code == 0, drawn.stderr
    lines = screen(drawn.stderr)
    assert lines[:2] == ["dev: listed 1 secret", "prod: listed 2 secrets"]
    assert "syncing" in drawn.stderr
