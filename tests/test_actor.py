"""Who did it: --actor, else CREDCTL_ACTOR, else the CI's actor, else the OS user."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest

from tests.projects import credctl, make_project, row

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
