"""credctl's own files under .credctl/ damaged by hand or another tool, and --debug's exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.projects import make_project, row
from tests.support.runner import Result, credctl

CANARY = "canary-Rt5Wq8Lz3Nc6Vb1Xm4Kd"
STORE = Path(".credctl") / "store" / "store.json"


def stripe_set(root: Path) -> Path:
    folder = make_project(root, [row(), row(service="Twilio")])
    assert credctl(folder, "set", "prod/stripe/api-key", input=CANARY).exit_code == 0
    return folder


pytestmark = pytest.mark.project(build=stripe_set)


def _damage(document: dict[str, object], how: str) -> object:
    secrets = document["secrets"]
    assert isinstance(secrets, dict)
    entry = secrets["prod/stripe/api-key"]
    if how == "a list":
        return []
    if how == "a string":
        return "store"
    if how == "secrets a list":
        return {**document, "secrets": []}
    if how == "entry a number":
        secrets["prod/stripe/api-key"] = 5
    elif how == "metadata values not strings":
        entry["metadata"] = {"credctl:managed": True}
    elif how == "metadata a list":
        entry["metadata"] = ["credctl:managed"]
    elif how == "version a string":
        entry["versions"] = {"1": "ciphertext"}
    elif how == "version id not a number":
        entry["versions"] = {"one": entry["versions"]["1"]}
        entry["current"] = "one"
    elif how == "current names nothing":
        entry["current"] = "7"
    elif how == "created not a date":
        entry["created"] = "yesterday"
    elif how == "pending a string":
        entry["pending"] = "staged"
    elif how == "key_check a number":
        document["key_check"] = 5
    return document


SHAPES = [
    "a list",
    "a string",
    "secrets a list",
    "entry a number",
    "metadata values not strings",
    "metadata a list",
    "version a string",
    "version id not a number",
    "current names nothing",
    "created not a date",
    "pending a string",
    "key_check a number",
]


@pytest.mark.parametrize("how", SHAPES)
def test_a_store_file_of_the_wrong_shape_is_exit_3_naming_it(project: Path, how: str) -> None:
    path = project / STORE
    path.write_text(json.dumps(_damage(json.loads(path.read_text()), how)))
    before = path.read_bytes()
    for args in (
        ("audit", "--env", "prod"),
        ("get", "prod/stripe/api-key"),
        ("set", "prod/twilio/api-key"),
        ("sync", "--env", "prod"),
        ("env", "--env", "prod", "-o", "-"),
    ):
        result: Result = credctl(project, *args, input=b"new-value")
        assert result.exit_code == 3, (args, result.output)
        [line] = result.stderr.splitlines()
        assert line.startswith(f"Error: {STORE} is corrupt ("), (args, line)
        assert "restore .credctl/store/store.json from a backup" in line
        assert CANARY not in result.output
    assert path.read_bytes() == before


@pytest.mark.parametrize("line", ["[1, 2]", '"text"', "5", "null"])
def test_an_audit_log_line_that_is_not_an_object_is_exit_3_naming_it(
    project: Path, line: str
) -> None:
    log = project / ".credctl" / "audit.jsonl"
    log.write_text(log.read_text() + line + "\n")
    result = credctl(project, "log")
    assert (result.exit_code, result.stderr) == (
        3,
        "Error: .credctl/audit.jsonl:2: not a JSON object (credctl writes one JSON object a "
        "line) (hint: repair or remove that line: sed -i 2d .credctl/audit.jsonl)\n",
    )


def test_an_audit_log_line_that_is_not_json_is_the_same_error(project: Path) -> None:
    log = project / ".credctl" / "audit.jsonl"
    log.write_text(log.read_text() + "not json\n")
    result = credctl(project, "log", "--id", "prod/stripe/api-key")
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: .credctl/audit.jsonl:2: not a JSON line")


@pytest.mark.parametrize(
    ("args", "env", "code"),
    [
        (("get", "prod/stripe/api-key"), {"CREDCTL_LOCAL_KEY": "A" * 43 + "="}, 3),
        (("get", "prod/nope/api-key"), {}, 2),
        (("env", "--env", "prod", "-o", "-"), {}, 3),  # Twilio has no value
    ],
)
def test_debug_prints_the_traceback_and_keeps_the_exit_code(
    project: Path, args: tuple[str, ...], env: dict[str, str], code: int
) -> None:
    plain = credctl(project, *args, env=env)
    debugged = credctl(project, *args, "--debug", env=env)
    assert plain.exit_code == debugged.exit_code == code, debugged.output
    assert "Traceback (most recent call last)" in debugged.stderr
    assert debugged.stderr.splitlines()[-1] == plain.stderr.splitlines()[-1]
    assert CANARY not in debugged.output


def test_a_deleted_key_is_not_silently_replaced_while_the_store_holds_values(
    project: Path,
) -> None:
    key = project / ".credctl" / "key"
    saved = key.read_bytes()
    key.unlink()
    for args in (("audit",), ("get", "prod/stripe/api-key"), ("set", "prod/twilio/api-key")):
        result = credctl(project, *args, input="new-value")
        assert (result.exit_code, result.stderr) == (
            3,
            "Error: .credctl/key is missing, but the local store .credctl/store holds values "
            "encrypted with a key: credctl will not make a new key that cannot open them "
            "(hint: restore .credctl/key from a backup, or set CREDCTL_LOCAL_KEY to the "
            "store's key)\n",
        ), args
        assert not key.exists()
    # following the hint works
    key.write_bytes(saved)
    key.chmod(0o600)
    assert credctl(project, "get", "prod/stripe/api-key").stdout == CANARY
    # a project whose store was never written still gets its key made
    (project / ".credctl" / "store" / "store.json").unlink()
    key.unlink()
    assert credctl(project, "set", "prod/twilio/api-key", input="first").exit_code == 0
    assert key.exists()


def test_an_audit_log_line_that_is_not_utf8_is_named(project: Path) -> None:
    log = project / ".credctl" / "audit.jsonl"
    log.write_bytes(log.read_bytes() + b'{"id": "\xff\xfe"}\n')
    result = credctl(project, "log")
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: .credctl/audit.jsonl:2: not UTF-8 text")


def test_a_bad_clock_offset_is_a_usage_error(project: Path) -> None:
    result = credctl(project, "audit", env={"CREDCTL_CLOCK_OFFSET": "banana"})
    assert (result.exit_code, result.stderr) == (
        2,
        "Error: CREDCTL_CLOCK_OFFSET: invalid duration 'banana' (use e.g. 90d, 12w, monthly, "
        "quarterly, P90D)\n",
    )
