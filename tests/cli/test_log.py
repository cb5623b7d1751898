"""credctl log: the local audit log, without values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.projects import prod_and_ownerless_dev
from tests.support.runner import credctl

CANARY = "canary-Hx4Tb9Qe2Mv7Yc1Nw6Pd"

pytestmark = pytest.mark.project(build=prod_and_ownerless_dev)


def test_log_lists_changes_without_values(project: Path) -> None:
    assert credctl(project, "set", "prod/stripe/api-key", input=CANARY).exit_code == 0
    assert (
        credctl(
            project, "set", "dev/stripe/api-key", input=CANARY, env={"CREDCTL_ACTOR": "ci-bot"}
        ).exit_code
        == 0
    )
    result = credctl(project, "log", "--format", "json")
    entries = json.loads(result.stdout)["entries"]
    assert [(e["id"], e["action"], e["version"]) for e in entries] == [
        ("prod/stripe/api-key", "set", "1"),
        ("dev/stripe/api-key", "set", "1"),
    ]
    assert entries[1]["actor"] == "ci-bot"
    only_dev = credctl(project, "log", "--env", "dev")
    assert "dev/stripe/api-key" in only_dev.stdout
    assert "prod/stripe/api-key" not in only_dev.stdout
    assert CANARY not in result.output + only_dev.output
    assert CANARY not in (project / ".credctl" / "audit.jsonl").read_text()


def test_a_damaged_log_line_is_named(project: Path) -> None:
    (project / ".credctl").mkdir()
    (project / ".credctl" / "audit.jsonl").write_text('{"id": "x"}\nnot json\n')
    result = credctl(project, "log")
    assert result.exit_code == 3
    assert result.stderr == (
        "Error: .credctl/audit.jsonl:2: not a JSON line (credctl writes one JSON object a line) "
        "(hint: repair or remove that line: sed -i 2d .credctl/audit.jsonl)\n"
    )
