"""The CI examples users copy: shown unchanged in docs/ci.md, valid against their CI's
schema, on actions that still run, and installing the release this repository makes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from credctl import __version__
from tests.support.runner import REPO

EXAMPLES = REPO / "docs" / "examples"
CI_DOC = REPO / "docs" / "ci.md"
GITHUB_WORKFLOWS = ("credentials-audit.yml", "deploy-with-credentials.yml")
GITLAB_JOBS = ("gitlab-ci.yml",)
PRE_COMMIT = "pre-commit-config.yaml"

# The first major of each action that runs on Node 24. Every major before it runs on
# Node 20 or older, which GitHub removes from its runners; an action missing here is
# one nobody checked yet.
FIRST_NODE24_MAJOR = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "aws-actions/configure-aws-credentials": 6,
    "actions/upload-artifact": 6,
    "github/codeql-action": 4,
}


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with a schema it ships (no download)."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_docs_ci_shows_every_example_whole_and_nothing_else() -> None:
    blocks = re.findall(r"^```yaml\n(.*?)^```$", CI_DOC.read_text(), re.MULTILINE | re.DOTALL)
    files = sorted(path.name for path in EXAMPLES.iterdir())
    assert files == sorted([*GITHUB_WORKFLOWS, *GITLAB_JOBS, PRE_COMMIT])
    assert sorted(blocks) == sorted((EXAMPLES / name).read_text() for name in files)
    for name in files:
        assert f"(examples/{name})" in CI_DOC.read_text()


@pytest.mark.parametrize("name", GITHUB_WORKFLOWS)
@pytest.mark.parametrize(
    "schema", ["vendor.github-workflows", "custom.github-workflows-require-timeout"]
)
def test_the_github_workflows_are_valid(name: str, schema: str) -> None:
    checked = check_jsonschema(schema, EXAMPLES / name)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("name", GITLAB_JOBS)
def test_the_gitlab_job_is_valid(name: str) -> None:
    checked = check_jsonschema("vendor.gitlab-ci", EXAMPLES / name)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_schema_check_does_fail_on_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    text = (EXAMPLES / GITHUB_WORKFLOWS[0]).read_text()
    broken.write_text(text.replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest"))
    assert check_jsonschema("vendor.github-workflows", broken).returncode == 1


def actions_used(document: Any) -> list[str]:
    """Every `uses:` of a workflow, however deep."""
    if isinstance(document, dict):
        found = [document["uses"]] if isinstance(document.get("uses"), str) else []
        return found + [used for value in document.values() for used in actions_used(value)]
    if isinstance(document, list):
        return [used for item in document for used in actions_used(item)]
    return []


@pytest.mark.parametrize("name", GITHUB_WORKFLOWS)
def test_no_action_is_on_a_deprecated_node_runtime(name: str) -> None:
    used = actions_used(yaml.safe_load((EXAMPLES / name).read_text()))
    assert used
    for action in used:
        match = re.fullmatch(r"([\w.-]+/[\w.-]+)(?:/[\w./-]+)?@v(\d+)", action)
        assert match, f"{action}: pin a major tag (owner/repo@vN)"
        repository, major = match.group(1), int(match.group(2))
        assert repository in FIRST_NODE24_MAJOR, f"{action}: which major runs on Node 24?"
        assert major >= FIRST_NODE24_MAJOR[repository], (
            f"{action} runs on Node 20 or older: use @v{FIRST_NODE24_MAJOR[repository]}"
        )


def test_every_install_pins_this_release() -> None:
    texts = {path.name: path.read_text() for path in EXAMPLES.iterdir()}
    texts |= {"README.md": (REPO / "README.md").read_text(), "ci.md": CI_DOC.read_text()}
    pins = []
    for name, text in texts.items():
        # no bare `pip install credctl`: no public index has it
        assert not re.search(r"pip install credctl(?!==)\b", text), name
        pins += [(name, found) for found in re.findall(r"credctl==([\w.]+)", text)]
        pins += [(name, found) for found in re.findall(r"credctl(?:\.git)?@v([\w.]+)", text)]
        pins += [(name, found) for found in re.findall(r"^\s*rev: v([\w.]+)", text, re.M)]
    assert {name for name, _ in pins} >= {*GITHUB_WORKFLOWS, *GITLAB_JOBS, PRE_COMMIT}
    assert {version for _, version in pins} == {__version__}, pins


def test_the_pre_commit_snippet_names_the_hook_the_repository_defines() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    config = yaml.safe_load((EXAMPLES / PRE_COMMIT).read_text())
    [repository] = config["repos"]
    assert repository["rev"] == f"v{__version__}"
    assert [hook["id"] for hook in repository["hooks"]] == [hook["id"] for hook in hooks]
    [hook] = hooks
    assert (hook["entry"], hook["language"], hook["pass_filenames"]) == (
        "credctl validate",
        "python",
        False,
    )
    for path in ("credentials.md", "credentials.yaml", "environments/prod.yaml"):
        assert re.search(hook["files"], path), path
    assert not re.search(hook["files"], "README.md")
