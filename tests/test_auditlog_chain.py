"""The audit log is tamper-evident: each entry carries the hash of the one before it."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from credctl.auditlog import LOG_PATH, Entry, append, entry_hash, verify_log
from tests.support.projects import make_project, row
from tests.support.runner import credctl


def write(root: Path, count: int) -> Path:
    for index in range(count):
        append(root, Entry("alice", "prod", f"prod/svc{index}/api-key", "rotate", str(index)))
    return root / LOG_PATH


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_an_untouched_log_verifies(tmp_path: Path) -> None:
    write(tmp_path, 5)
    result = verify_log(tmp_path)
    assert (result.entries, result.problem, result.exit_code()) == (5, None, 0)
    first, second = (json.loads(line) for line in lines(tmp_path / LOG_PATH)[:2])
    assert first["prev"] == ""
    assert second["prev"] == first["hash"] == entry_hash(first)


def test_one_character_edited_names_its_entry(tmp_path: Path) -> None:
    path = write(tmp_path, 5)
    content = lines(path)
    content[2] = content[2].replace('"alice"', '"alicf"')
    path.write_text("\n".join(content) + "\n")
    result = verify_log(tmp_path)
    assert result.exit_code() == 1
    assert result.problem == "entry 3 (line 3) was edited after it was written"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda content: content[:1] + content[2:], "entry 2 (line 2)"),  # the 2nd removed
        (lambda content: [content[0], content[2], content[1], *content[3:]], "entry 2 (line 2)"),
        (lambda content: [*content[:3], content[1], *content[3:]], "entry 4 (line 4)"),  # copied
    ],
    ids=["removed", "reordered", "duplicated"],
)
def test_an_entry_removed_moved_or_copied_is_named(
    tmp_path: Path, change: object, named: str
) -> None:
    path = write(tmp_path, 5)
    path.write_text("\n".join(change(lines(path))) + "\n")  # type: ignore[operator]
    result = verify_log(tmp_path)
    assert result.exit_code() == 1
    assert result.problem is not None
    assert result.problem.startswith(named)


def test_entries_written_before_the_chain_are_counted_not_refused(tmp_path: Path) -> None:
    (tmp_path / ".credctl").mkdir()
    legacy = {"time": "2019-01-01T00:00:00Z", "actor": "bob", "id": "prod/a/b", "action": "set"}
    (tmp_path / LOG_PATH).write_text(json.dumps(legacy) + "\n")
    write(tmp_path, 2)
    result = verify_log(tmp_path)
    assert (result.entries, result.before_chain, result.problem) == (3, 1, None)
    # an unchained line after the chain began was added by hand
    with (tmp_path / LOG_PATH).open("a") as stream:
        stream.write(json.dumps(legacy) + "\n")
    assert (
        verify_log(tmp_path).problem == "entry 4 (line 4) has no hash: added or rewritten by hand"
    )


def _append_many(root: str) -> None:
    for index in range(20):
        append(Path(root), Entry("worker", "prod", f"prod/x{index}/key", "set"))


def test_concurrent_writers_keep_one_chain(tmp_path: Path) -> None:
    processes = [
        multiprocessing.Process(target=_append_many, args=(str(tmp_path),)) for _ in range(6)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    result = verify_log(tmp_path)
    assert (result.entries, result.problem) == (120, None)


def test_log_verify_on_the_command_line(tmp_path: Path) -> None:
    project = make_project(tmp_path, [row()])
    assert credctl(project, "set", "prod/stripe/api-key", input="v1").exit_code == 0
    assert credctl(project, "set", "prod/stripe/api-key", input="v2").exit_code == 0
    ok = credctl(project, "log", "--verify")
    assert (ok.exit_code, ok.stderr) == (0, ".credctl/audit.jsonl: 2 entries, chain intact\n")
    path = project / LOG_PATH
    path.write_text(path.read_text().replace('"set"', '"sat"', 1))
    broken = credctl(project, "log", "--verify", "--format", "json")
    assert broken.exit_code == 1
    assert (
        json.loads(broken.stdout)["problem"] == "entry 1 (line 1) was edited after it was written"
    )
