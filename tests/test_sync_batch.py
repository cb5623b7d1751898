"""sync on the local store: one read and one write of the store file, whatever the row count."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from credctl import fsutil
from credctl.backends import local
from credctl.backends.local import LocalBackend, load_key
from credctl.errors import ConflictError
from credctl.model import EnvironmentConfig, parse_reference
from credctl.secret import Secret
from tests.support.projects import make_project, row
from tests.support.runner import credctl

POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  API Key: {secret: true, rotator: generate, generator: {kind: token, bytes: 16}}
  Client Secret: {secret: true, rotator: manual}
"""


def big_project(folder: Path, count: int) -> Path:
    rows = [row(service=f"svc{index:04d}") for index in range(count)]
    rows += [row(service=f"svc{index:04d}", credential_type="Client Secret") for index in range(5)]
    return make_project(folder, rows, policies={"default.yaml": POLICY})


class Counted:
    """Store-file reads and writes of one run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads = 0
        self.writes = 0
        real_load = LocalBackend._load
        real_write = fsutil.write_atomic

        def load(backend: LocalBackend) -> dict[str, Any]:
            self.reads += 1
            return real_load(backend)

        def write(path: Path, content: Any, mode: int = 0o600) -> None:
            self.writes += 1
            real_write(path, content, mode)

        monkeypatch.setattr(LocalBackend, "_load", load)
        monkeypatch.setattr(local, "write_atomic", write)


@pytest.mark.parametrize("count", [50, 400])
def test_sync_reads_and_writes_the_store_file_a_fixed_number_of_times(
    tmp_path: Path,
    count: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same two reads and one write for 55 and 405 rows: linear, not quadratic."""
    monkeypatch.delenv("CREDCTL_LOCAL_KEY", raising=False)
    project = big_project(tmp_path, count)
    counted = Counted(monkeypatch)
    result = credctl(project, "sync", "--env", "prod", "-q")
    assert result.exit_code == 0, result.output
    assert (counted.reads, counted.writes) == (2, 1)  # the plan's listing; the batch
    document = json.loads((project / ".credctl" / "store" / "store.json").read_text())
    secrets = document["secrets"]
    assert len(secrets) == count + 5
    assert sum(1 for entry in secrets.values() if entry["current"]) == count  # manual: no value
    log = (project / ".credctl" / "audit.jsonl").read_text().splitlines()
    assert len(log) == count + 5
    plan = credctl(project, "plan", "--env", "prod", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output


def test_a_store_write_failing_at_the_end_fails_every_change_and_keeps_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDCTL_LOCAL_KEY", raising=False)
    project = big_project(tmp_path, 20)
    table = (project / "credentials.md").read_text()

    def disk_full(*_: object, **__: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(local, "write_atomic", disk_full)
    result = credctl(project, "sync", "--env", "prod")
    assert result.exit_code == 3, result.output
    [line] = result.stderr.splitlines()[-1:]
    assert line.startswith("Error: sync stopped: 25 of 25 changes failed (and 24 more); first: ")
    assert "cannot write local store .credctl/store: No space left on device" in line
    assert (project / "credentials.md").read_text() == table
    assert not (project / ".credctl" / "store" / "store.json").exists()
    log = [json.loads(x) for x in (project / ".credctl" / "audit.jsonl").read_text().splitlines()]
    assert {entry["outcome"] for entry in log} == {"failed"}
    assert len(log) == 25


def _fail_half_way(backend: LocalBackend, name: str) -> None:
    with backend._mutate(name) as document:
        document["secrets"][name]["metadata"]["half"] = "written"
        raise ConflictError("a change that fails half-way")


def test_a_change_failing_inside_a_batch_is_undone_and_the_others_kept(tmp_path: Path) -> None:
    environment = EnvironmentConfig.model_validate({"name": "prod", "backend": {"type": "local"}})
    backend = LocalBackend(environment, tmp_path / "store", load_key(tmp_path))
    backend.create("prod/a", {"credctl:managed": "true"}, Secret("a-1"))
    with backend.batch() as deferred:
        assert deferred is True
        backend.create("prod/b", {"credctl:managed": "true"}, Secret("b-1"))
        with pytest.raises(ConflictError):
            _fail_half_way(backend, "prod/a")
        # reads inside the batch see its writes
        assert {info.name for info in backend.list_secrets()} == {"prod/a", "prod/b"}
        assert not (tmp_path / "store" / "store.json").read_text().count("prod/b")
    reopened = LocalBackend(environment, tmp_path / "store", load_key(tmp_path))
    infos = {info.name: info for info in reopened.list_secrets()}
    assert set(infos) == {"prod/a", "prod/b"}
    assert "half" not in infos["prod/a"].metadata
    parsed = parse_reference(infos["prod/b"].reference)
    assert parsed is not None
    assert reopened.read_values([parsed])[parsed] == Secret("b-1")
