"""credctl scan: the managed values themselves, found in files and in git history, and
never printed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.support.projects import make_project, row
from tests.support.runner import credctl

SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
VALUES = {
    "prod/stripe/api-key": "sk_live_stripe-current-Xq83nB2wLp",
    "prod/twilio/api-key": "twilio-current-Hz71Lm4QpW",
    "prod/segment/api-key": "segment-current-Bv52Tr8KyD",
}
PREVIOUS = "sendgrid-previous-Gd93Kw1QnZ"
NEWER = "sendgrid-current-Jn46Pz7ReX"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("CREDCTL_LOCAL_KEY", raising=False)
    folder = make_project(
        tmp_path,
        [
            row(),
            row(service="Twilio"),
            row(service="Segment"),
            row(service="SendGrid"),
            row(service="Tiny"),
        ],
    )
    for credential_id, value in VALUES.items():
        assert credctl(folder, "set", credential_id, input=value).exit_code == 0
    assert credctl(folder, "set", "prod/sendgrid/api-key", input=PREVIOUS).exit_code == 0
    assert credctl(folder, "set", "prod/sendgrid/api-key", input=NEWER).exit_code == 0
    assert credctl(folder, "set", "prod/tiny/api-key", input="short").exit_code == 0
    src = folder / "src"
    src.mkdir()
    for index in range(50):
        (src / f"module{index}.py").write_text(f"# nothing here {index}\n" * 20)
    (src / "config.py").write_text(f"A = 1\nSTRIPE = '{VALUES['prod/stripe/api-key']}'\n")
    (src / "notes.md").write_text(f"line\nline\nline\ntwilio: {VALUES['prod/twilio/api-key']}\n")
    (src / "old.env").write_text(f"SENDGRID={PREVIOUS}\n")
    (src / "blob.bin").write_bytes(b"\0\1\2" + VALUES["prod/segment/api-key"].encode() + b"\0")
    return folder


def scan(project: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    result = credctl(project, "scan", "--format", "json", *args)
    for value in [*VALUES.values(), PREVIOUS, NEWER]:
        assert value not in result.output
    return result.exit_code, json.loads(result.stdout), result.stderr


def test_current_and_previous_values_found_with_their_place(project: Path) -> None:
    code, document, stderr = scan(project, "src")
    assert code == 1  # a current value is out: rotate it
    hits = {(h["file"], h["line"], h["id"], h["value"]) for h in document["hits"]}
    assert hits == {
        ("src/config.py", 2, "prod/stripe/api-key", "current"),
        ("src/notes.md", 4, "prod/twilio/api-key", "current"),
        ("src/blob.bin", None, "prod/segment/api-key", "current"),
        ("src/old.env", 1, "prod/sendgrid/api-key", "previous"),
    }
    assert document["not_scannable"] == ["prod/tiny/api-key"]
    # four current values and one previous (the others have none yet; one is too short)
    assert document["scanned"] == {"values": 5, "files": 54, "blobs": 0}
    assert "rotate what leaked: credctl rotate prod/segment/api-key prod/stripe/api-key " in stderr


def test_only_a_previous_value_is_no_failure(project: Path) -> None:
    (project / "src" / "config.py").unlink()
    (project / "src" / "notes.md").unlink()
    (project / "src" / "blob.bin").unlink()
    code, document, _ = scan(project, "src")
    assert code == 0
    assert [h["value"] for h in document["hits"]] == ["previous"]


def test_files_git_ignores_are_left_unless_asked(project: Path) -> None:
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / ".gitignore").write_text("*.env\n")
    _, document, _ = scan(project, "src")
    assert "src/old.env" not in {h["file"] for h in document["hits"]}
    _, everything, _ = scan(project, "src", "--include-ignored")
    assert "src/old.env" in {h["file"] for h in everything["hits"]}


def test_a_value_committed_then_removed_is_found_in_history(project: Path) -> None:
    git = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / "deploy.sh").write_text(f"export KEY={VALUES['prod/stripe/api-key']}\n")
    subprocess.run([*git, "add", "deploy.sh"], check=True)
    subprocess.run([*git, "commit", "-qm", "oops"], check=True)
    (project / "deploy.sh").write_text("export KEY=$(credctl get prod/stripe/api-key)\n")
    subprocess.run([*git, "commit", "-qam", "fix"], check=True)
    oops = subprocess.run(
        [*git, "log", "--format=%H", "-1", "HEAD~1"], capture_output=True, text=True, check=True
    ).stdout.strip()
    now, _, _ = scan(project, "deploy.sh")
    assert now == 0
    code, document, _ = scan(project, str(project), "--git-history")
    assert code == 1
    [hit] = [h for h in document["hits"] if h["commit"]]
    assert (hit["file"], hit["line"], hit["id"], hit["commit"]) == (
        "deploy.sh",
        1,
        "prod/stripe/api-key",
        oops,
    )


def test_sarif_and_github_formats(project: Path) -> None:
    sarif = credctl(project, "scan", "src", "--format", "sarif")
    document = json.loads(sarif.stdout)
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    assert {r["ruleId"] for r in document["runs"][0]["results"]} == {
        "current-value",
        "previous-value",
    }
    github = credctl(project, "scan", "src", "--format", "github").stdout
    assert "::error file=src/config.py,line=2,title=credctl current value::" in github
    for value in VALUES.values():
        assert value not in sarif.output + github
