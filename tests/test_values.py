"""Values a person gives to `set` and `rotate --value-from-stdin`: one rule for both."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from credctl.backends.pool import Backends
from credctl.project import load_project
from credctl.settings import load_settings
from credctl.values import get_value
from tests.support.fixtures import Store
from tests.support.projects import make_project, row
from tests.support.runner import REPO, credctl, credctl_process, inherited_environment

POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  API Key: {secret: true, rotator: generate, generator: {kind: token, bytes: 16}}
  Client Secret: {secret: true, max_age: 180d, rotator: manual}
"""
SET_ID = "prod/stripe/api-key"
ROTATE_ID = "prod/stripe/client-secret"


def project_on(tmp_path: Path, store: Store) -> Path:
    prefix = f"g-{uuid.uuid4().hex[:8]}/"
    project = make_project(
        tmp_path,
        [row(), row(credential_type="Client Secret", schedule="180d")],
        environments={"prod": store.environment_yaml(prefix)},
        policies={"default.yaml": POLICY},
    )
    synced = credctl(project, "sync", env=store.env)
    assert synced.exit_code == 0, synced.output
    first = credctl(project, "set", ROTATE_ID, input="first-value", env=store.env)
    assert first.exit_code == 0, first.output
    return project


def store_state(project: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> object:
    """Versions and pending slots of every secret, the table and the audit log."""
    for key, value in store.env.items():
        monkeypatch.setenv(key, value)
    loaded = load_project(load_settings(project))
    backends = Backends(loaded)
    try:
        backend = backends.get(loaded.environment("prod"))
        listing = sorted(
            (info.name, info.current_version, info.pending, dict(info.metadata))
            for info in backend.list_secrets()
        )
    finally:
        backends.close()
    log = project / ".credctl" / "audit.jsonl"
    return (
        listing,
        (project / "credentials.md").read_text(),
        log.read_text() if log.exists() else "",
    )


REFUSED = [
    (b"", "is empty"),
    (b"\n", "is empty"),
    (b"\r\n", "is empty"),
    (b" \t \n", "is only whitespace"),
    (b"abc\x00def", "contains a NUL character"),
    (b"\xff\xfe-not-utf8", "is not UTF-8 text"),
]


@pytest.mark.integration
def test_empty_blank_nul_and_non_utf8_values_are_refused_before_staging(
    tmp_path: Path,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = project_on(tmp_path, store)
    before = store_state(project, store, monkeypatch)
    for data, problem in REFUSED:
        for args in (("set", SET_ID), ("rotate", ROTATE_ID, "--value-from-stdin")):
            result = credctl(project, *args, input=data)
            assert (result.exit_code, result.stderr) == (
                2,
                f"Error: the value given for {args[1]} {problem}; nothing was stored\n",
            ), (args, data)
            assert result.stdout == ""
    # the same through a real process, stdin a pipe
    piped = credctl_process(project, "set", SET_ID, input=b"\n", env=store.env)
    assert (piped.exit_code, piped.stderr) == (
        2,
        f"Error: the value given for {SET_ID} is empty; nothing was stored\n",
    )
    assert store_state(project, store, monkeypatch) == before


def test_set_and_rotate_drop_exactly_one_trailing_line_break(tmp_path: Path) -> None:
    """The rule is applied before any store is opened: the local store shows it for all."""
    project = project_on(tmp_path, Store("local"))
    given = {
        "echoed\n": "echoed",
        "windows\r\n": "windows",
        "kept\n\n": "kept\n",
        " padded \r\n\r\n": " padded \r\n",
    }
    loaded = load_project(load_settings(project))
    backends = Backends(loaded)
    for text, stored in given.items():
        for args in (("set", SET_ID), ("rotate", ROTATE_ID, "--value-from-stdin")):
            result = credctl(project, *args, input=text.encode())
            assert result.exit_code == 0, (args, result.output)
            value = get_value(loaded, loaded.find(args[1]), backends)
            assert value.reveal() == stored, (args, text)


def test_set_and_rotate_read_stdin_the_same_way(tmp_path: Path) -> None:
    """The same bytes on stdin store the same value through either command."""
    project = project_on(tmp_path, Store("local"))
    data = "same\u00e9\r\n".encode()
    assert credctl(project, "set", SET_ID, input=data).exit_code == 0
    assert credctl(project, "rotate", ROTATE_ID, "--value-from-stdin", input=data).exit_code == 0
    values = [credctl(project, "get", cid).stdout for cid in (SET_ID, ROTATE_ID)]
    assert values == ["same\u00e9", "same\u00e9"]
    log = [
        json.loads(line) for line in (project / ".credctl" / "audit.jsonl").read_text().splitlines()
    ]
    assert [entry["action"] for entry in log][-2:] == ["set", "rotate"]


@pytest.mark.integration
def test_set_of_the_value_already_stored_changes_nothing(
    tmp_path: Path,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = project_on(tmp_path, store)
    for key, value in store.env.items():
        monkeypatch.setenv(key, value)
    before = store_state(project, store, monkeypatch)
    again = credctl(project, "set", ROTATE_ID, input=b"first-value\n")
    assert again.exit_code == 0, again.output
    [line] = again.stderr.splitlines()
    assert line.startswith(f"{ROTATE_ID} already holds this value (version ")
    assert line.endswith("): nothing stored, no new version, Last Rotated unchanged")
    assert "first-value" not in again.output
    assert store_state(project, store, monkeypatch) == before
    changed = credctl(project, "set", ROTATE_ID, input=b"second-value")
    assert changed.stderr.startswith(f"stored a new value for {ROTATE_ID} (version ")
    assert store_state(project, store, monkeypatch) != before


def test_a_closed_stdin_is_a_usage_error(tmp_path: Path) -> None:
    project = project_on(tmp_path, Store("local"))
    inherited = inherited_environment()
    completed = subprocess.run(
        ["sh", "-c", 'exec "$0" -m credctl set prod/stripe/api-key <&-', sys.executable],
        cwd=project,
        capture_output=True,
        text=True,
        env={**inherited, "PYTHONPATH": str(REPO)},
        timeout=60,
        check=False,
    )
    assert (completed.returncode, completed.stderr) == (
        2,
        "Error: standard input is closed: give the value on it (… | credctl set ID)\n",
    )
