"""A change that cannot be recorded locally: refused before the store, or reported as stored."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from credctl import auditlog
from tests.support.fixtures import Store
from tests.support.projects import make_project, row
from tests.support.runner import Result, credctl, process_environment

POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  API Key: {secret: true, rotator: generate, generator: {kind: token, bytes: 16}}
"""
CANARY = "canary-Yp2Jd7Kw4Qs9Mb3Vx6Ln"
OLD_DATE = "2001-01-01"


def unprivileged(
    project: Path, *args: str, input: str | None = None, env: dict[str, str] | None = None
) -> Result:
    """credctl without root's power to write where the permission bits say no."""
    command = [sys.executable, "-m", "credctl", *args]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: permission bits cannot be tested")
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search", *command]
    completed = subprocess.run(
        command,
        cwd=project,
        input=input,
        capture_output=True,
        text=True,
        env=process_environment(env),
        timeout=60,
        check=False,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)


def project_on(tmp_path: Path, store: Store) -> Path:
    prefix = f"w-{uuid.uuid4().hex[:8]}/"
    project = make_project(
        tmp_path / "project",
        [row(), row(service="Twilio")],
        environments={"prod": store.environment_yaml(prefix)},
        policies={"default.yaml": POLICY},
    )
    assert credctl(project, "sync", env=store.env).exit_code == 0
    # a Last Rotated the next change must rewrite, so the table has to be written
    table = project / "credentials.md"
    table.write_text(re.sub(r"\| \d{4}-\d\d-\d\d \|", f"| {OLD_DATE} |", table.read_text()))
    return project


def versions(project: Path, store: Store) -> dict[str, object]:
    listed = credctl(project, "audit", "--format", "json", "--fail-on", "never", env=store.env)
    assert listed.exit_code == 0, listed.output
    return {c["id"]: c["last_rotated"] for c in json.loads(listed.stdout)["credentials"]}


@pytest.fixture
def read_only() -> Iterator[list[Path]]:
    """Paths a test makes read-only, made writable again after it."""
    paths: list[Path] = []
    yield paths
    for path in paths:
        path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.mark.integration
@pytest.mark.parametrize("target", ["project folder", "audit log"])
def test_an_unwritable_table_folder_or_log_is_refused_before_the_store(
    tmp_path: Path, store: Store, target: str, read_only: list[Path]
) -> None:
    project = project_on(tmp_path, store)
    before = versions(project, store)
    log = project / ".credctl" / "audit.jsonl"
    log_before = log.read_text()
    path, shown = (project, ".") if target == "project folder" else (log, ".credctl/audit.jsonl")
    path.chmod(0o555 if path.is_dir() else 0o444)
    read_only.append(path)
    for args, command in (
        (("set", "prod/stripe/api-key"), "set"),
        (("rotate", "prod/stripe/api-key"), "rotate"),
    ):
        result = unprivileged(project, *args, input=CANARY, env=store.env)
        assert (result.exit_code, result.stderr) == (
            2,
            f"Error: cannot write {shown} (Permission denied): {command} records its changes "
            "in credentials.md and .credctl/audit.jsonl, so nothing was changed "
            f"(hint: make it writable (chmod u+w {shown}) and run it again)\n",
        ), args
    assert versions(project, store) == before
    assert log.read_text() == log_before
    assert f"| {OLD_DATE} |" in (project / "credentials.md").read_text()
    # following the hint works
    path.chmod(0o755 if path.is_dir() else 0o644)
    done = credctl(project, "set", "prod/stripe/api-key", input=CANARY, env=store.env)
    assert done.exit_code == 0, done.output


@pytest.mark.integration
def test_a_record_failing_after_the_commit_says_the_value_is_stored(
    tmp_path: Path,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The checks passed, then the disk filled: exit 3 saying what is stored, not a crash."""
    project = project_on(tmp_path, store)
    for key, value in store.env.items():
        monkeypatch.setenv(key, value)

    def disk_full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(auditlog, "append", disk_full)
    stored = credctl(project, "set", "prod/stripe/api-key", input=CANARY.encode())
    assert stored.exit_code == 3, stored.output
    [line] = stored.stderr.splitlines()
    assert line.startswith(
        "Error: prod/stripe/api-key: the new value is stored and current (version "
    ), line
    assert "but the audit log entry (.credctl/audit.jsonl: No space left on device) could" in line
    assert "do not set it again" in line
    assert CANARY not in stored.output
    got = credctl(project, "get", "prod/stripe/api-key")
    assert got.stdout == CANARY

    monkeypatch.setattr("credctl.fsutil.write_atomic", disk_full)
    monkeypatch.setattr("credctl.table.write_atomic", disk_full)
    rotated = credctl(project, "rotate", "prod/twilio/api-key", "--format", "json")
    assert rotated.exit_code == 3, rotated.output
    [result] = json.loads(rotated.stdout)["results"]
    assert result["outcome"] == "rotated"
    assert result["version"]
    assert (
        "but the audit log entry (.credctl/audit.jsonl: No space left on device)"
        in (result["message"])
    )
    assert "the table's cells (credentials.md: No space left on device)" in result["message"]
    assert "do not rotate it again" in result["message"]
    assert CANARY not in rotated.output
    assert f"| {OLD_DATE} |" in (project / "credentials.md").read_text()


def test_sync_checks_too_and_an_unwritable_local_store_is_one_line(
    tmp_path: Path, read_only: list[Path]
) -> None:
    project = project_on(tmp_path, Store("local"))
    log = project / ".credctl" / "audit.jsonl"
    log.chmod(0o444)
    read_only.append(log)
    synced = unprivileged(project, "sync")
    assert synced.exit_code == 2, synced.output
    assert synced.stderr.startswith("Error: cannot write .credctl/audit.jsonl (Permission denied)")
    log.chmod(0o644)
    store = project / ".credctl" / "store"
    store.chmod(0o555)
    read_only.append(store)
    refused = unprivileged(project, "set", "prod/stripe/api-key", input=CANARY)
    assert refused.exit_code == 3, refused.output
    assert refused.stderr == (
        "Error: cannot write local store .credctl/store: Permission denied; nothing was "
        "changed in it (hint: make it writable: chmod -R u+w .credctl/store)\n"
    )
