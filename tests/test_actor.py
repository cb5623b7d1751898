"""Who did it: --actor, else CREDCTL_ACTOR, else the CI's actor, else the OS user."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest

from tests.support.projects import make_project, row
from tests.support.runner import credctl

CI = {"GITHUB_ACTOR": "octocat", "GITLAB_USER_LOGIN": "tanuki"}


@pytest.mark.parametrize(
    ("flag", "environment", "expected"),
    [
        (["--actor", "alice"], {"CREDCTL_ACTOR": "bob", **CI}, "alice"),
        ([], {"CREDCTL_ACTOR": "bob", **CI}, "bob"),
        ([], {"GITHUB_ACTOR": "octocat"}, "octocat"),
        ([], {"GITLAB_USER_LOGIN": "tanuki"}, "tanuki"),
        ([], {}, getpass.getuser()),
    ],
)
def test_actor_is_recorded_in_the_store_and_the_log(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flag: list[str],
    environment: dict[str, str],
    expected: str,
) -> None:
    for variable in ("CREDCTL_ACTOR", *CI):
        monkeypatch.delenv(variable, raising=False)
    project = make_project(tmp_path, [row()])
    stored = credctl(project, "set", "prod/stripe/api-key", *flag, input="v-1", env=environment)
    assert stored.exit_code == 0, stored.output
    log = json.loads(credctl(project, "log", "--format", "json").stdout)["entries"]
    assert [entry["actor"] for entry in log] == [expected]
    audit = json.loads(credctl(project, "audit", "--format", "json", "--fail-on", "never").stdout)
    assert audit["credentials"][0]["rotated_by"] == expected


@pytest.mark.parametrize(
    ("flag", "environment", "source", "code"),
    [
        (
            ["--actor", "alice\n2001-01-01T00:00:00Z  mallory"],
            {},
            "--actor / CREDCTL_ACTOR",
            "000A",
        ),
        ([], {"CREDCTL_ACTOR": "bob\x1b[2K"}, "--actor / CREDCTL_ACTOR", "001B"),
        ([], {"GITHUB_ACTOR": "octo\rcat"}, "$GITHUB_ACTOR", "000D"),
        ([], {"CREDCTL_ACTOR": "eve\u202egnp.exe"}, "--actor / CREDCTL_ACTOR", "202E"),
    ],
)
def test_an_actor_with_a_control_character_is_refused_before_any_change(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flag: list[str],
    environment: dict[str, str],
    source: str,
    code: str,
) -> None:
    for variable in ("CREDCTL_ACTOR", *CI):
        monkeypatch.delenv(variable, raising=False)
    project = make_project(tmp_path, [row(), row(service="Twilio")])
    expected = (
        f"Error: the actor from {source} contains a control character (U+{code}); an actor is "
        "a name such as alice or ci-bot (hint: pass a plain name: --actor NAME)\n"
    )
    for args in (
        ("set", "prod/stripe/api-key"),
        ("sync",),
        ("rotate", "prod/twilio/api-key"),
    ):
        result = credctl(project, *args, *flag, input="v-1", env=environment)
        assert (result.exit_code, result.stderr) == (2, expected), args
    assert not (project / ".credctl" / "audit.jsonl").exists()
    assert credctl(project, "get", "prod/stripe/api-key").exit_code == 3  # nothing stored


def test_log_shows_control_characters_written_by_others_as_escapes(tmp_path: Path) -> None:
    project = make_project(tmp_path, [row()])
    (project / ".credctl").mkdir()
    forged = {"time": "t", "actor": "alice\nt  mallory", "environment": "prod", "id": "x"}
    (project / ".credctl" / "audit.jsonl").write_text(json.dumps(forged) + "\n")
    shown = credctl(project, "log").stdout.splitlines()
    assert len(shown) == 3  # header, rule, one entry
    assert "alice\\u000at  mallory" in shown[2]
