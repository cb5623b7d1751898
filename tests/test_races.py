"""Runs racing for one credential: exactly one rotates, the others change nothing.

A run judges by its own start: a rotation another run committed after that moment is
not repeated, and a run that loses a race drops what it staged.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from credctl import clock
from credctl.backends.aws import AwsBackend, version_id
from credctl.backends.base import Backend, BackendContext
from credctl.backends.pool import Backends, open_backend
from credctl.errors import RotationInProgressError
from credctl.model import EnvironmentConfig
from credctl.project import Project, load_project
from credctl.rotation.driver import Candidate, rotate_all
from credctl.secret import Secret
from credctl.settings import load_settings
from credctl.staging import host_label
from tests.support.contract import MANAGED
from tests.support.fixtures import Store
from tests.support.projects import make_project, row
from tests.support.runner import credctl, process_environment
from tests.support.servers import MotoServer

POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  API Key: {secret: true, rotator: generate, generator: {kind: token, bytes: 24, prefix: sk_}}
"""
ID = "prod/stripe/api-key"


def synced(tmp_path: Path, store: Store) -> tuple[Path, str]:
    prefix = f"race-{uuid.uuid4().hex[:8]}/"
    project = make_project(
        tmp_path,
        [row()],
        environments={"prod": store.environment_yaml(prefix)},
        policies={"default.yaml": POLICY},
    )
    result = credctl(project, "sync", env=store.env)
    assert result.exit_code == 0, result.output
    return project, f"{prefix}stripe/api-key"


def second_checkout(project: Path, folder: Path, store: Store) -> Path:
    """The same project on another machine: no shared lock, the same store."""
    shutil.copytree(project, folder, ignore=shutil.ignore_patterns("locks", "audit.jsonl"))
    if store.kind == "local":  # both open the first checkout's store and key
        environment = folder / "environments" / "prod.yaml"
        store_path = project / ".credctl" / "store"
        environment.write_text(
            environment.read_text().replace("type: local", f"type: local, path: '{store_path}'")
        )
    return folder


def opened(
    project: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> tuple[Project, Backends]:
    for key, text in store.env.items():
        monkeypatch.setenv(key, text)
    loaded = load_project(load_settings(project))
    return loaded, Backends(loaded)


def rotations_since(store: Store, backend: Backend, name: str, before: str) -> int:
    """How many values became current after version `before`."""
    info = backend.secret_info(name)
    assert info is not None
    assert info.current_version is not None
    if store.kind != "aws":
        return int(info.current_version) - int(before)
    if info.current_version == before:
        return 0
    assert isinstance(store.server, MotoServer)
    stages = store.server.client().describe_secret(SecretId=name)["VersionIdsToStages"]
    return 1 if "AWSPREVIOUS" in stages.get(before, []) else 2


@pytest.mark.integration
@pytest.mark.parametrize("machines", [1, 10])
def test_ten_concurrent_rotations_rotate_once(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch, machines: int
) -> None:
    """Ten `rotate ID` at once, from one checkout (one machine's lock) or ten (the store's)."""
    project, name = synced(tmp_path / "checkout", store)
    folders = [project] * (10 // machines) + [
        second_checkout(project, tmp_path / f"machine-{index}", store)
        for index in range(1, machines)
    ]
    loaded, backends = opened(project, store, monkeypatch)
    backend = backends.get(loaded.environment("prod"))
    before = backend.secret_info(name)
    assert before is not None
    assert before.current_version is not None
    environment = process_environment(store.env)
    command = [sys.executable, "-m", "credctl", "rotate", ID, "--format", "json"]
    processes = [
        subprocess.Popen(
            command,
            cwd=folder,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for folder in folders
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    results = [json.loads(stdout)["results"][0] for stdout, _ in outputs]
    outcomes = sorted(result["outcome"] for result in results)
    assert outcomes == ["rotated"] + ["skipped"] * 9, outputs
    assert sorted(p.returncode for p in processes) == [0] + [1] * 9
    for result in results:
        if result["outcome"] == "skipped":
            assert (
                "a rotation is already in progress" in result["message"]
                or "rotated by another run since this one started" in result["message"]
            ), result["message"]
    assert rotations_since(store, backend, name, before.current_version) == 1
    after = backend.secret_info(name)
    assert after is not None
    assert after.pending is None
    backends.close()


@pytest.mark.integration
def test_a_run_started_before_another_runs_rotation_skips_it(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its listing is fresh, but it started before the other run committed: no second one."""
    project, name = synced(tmp_path, store)
    loaded, backends = opened(project, store, monkeypatch)
    backend = backends.get(loaded.environment("prod"))
    started = clock.now()
    other = credctl(project, "rotate", ID, env=store.env)  # commits after `started`
    assert other.exit_code == 0, other.output
    rotated = backend.secret_info(name)
    assert rotated is not None
    [result] = rotate_all(
        loaded, [Candidate(loaded.find(ID), "requested")], backends, "ci", started=started
    )
    assert result.outcome == "skipped", result.message
    assert "rotated by another run since this one started" in result.message
    now = backend.secret_info(name)
    assert now is not None
    assert (now.current_version, now.pending) == (rotated.current_version, None)
    # a run that starts afterwards rotates it: that is a new request
    [again] = rotate_all(loaded, [Candidate(loaded.find(ID), "requested")], backends, "ci")
    assert again.outcome == "rotated", again.message
    backends.close()


@pytest.mark.integration
def test_a_race_loser_drops_the_value_it_staged(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another run commits between this run's look at the store and its staging."""
    project, name = synced(tmp_path, store)
    loaded, backends = opened(project, store, monkeypatch)
    backend = backends.get(loaded.environment("prod"))
    elsewhere = second_checkout(project, tmp_path / "elsewhere", store)
    started = clock.now()
    stage = backend.put_pending
    others: list[Any] = []

    def other_run_first(*args: Any, **kwargs: Any) -> None:
        if not others:  # from another checkout: this run holds its own machine's lock
            others.append(credctl(elsewhere, "rotate", ID, env=store.env))
        stage(*args, **kwargs)

    monkeypatch.setattr(backend, "put_pending", other_run_first)
    [result] = rotate_all(
        loaded, [Candidate(loaded.find(ID), "requested")], backends, "ci", started=started
    )
    assert others[0].exit_code == 0, others[0].output
    assert result.outcome == "skipped", result.message
    assert "rotated by another run since this one started" in result.message
    info = backend.secret_info(name)
    assert info is not None
    assert info.pending is None  # the loser's staged value is gone
    backends.close()


def aws_backend(client: Any, prefix: str) -> AwsBackend:
    environment = EnvironmentConfig.model_validate(
        {"name": "prod", "backend": {"type": "aws", "prefix": prefix}}
    )
    backend = open_backend(environment, BackendContext(project_dir=Path("."), client=client))
    assert isinstance(backend, AwsBackend)
    return backend


@pytest.mark.integration
@pytest.mark.aws_settle
def test_two_aws_stagers_interleaved_leave_one_winner_and_no_foreign_pending(
    moto_server: MotoServer,
) -> None:
    """Both find no pending value; A tags, B tags, B writes, A writes: A goes on, B stops.

    (Before: both stopped, leaving A's AWSPENDING version under B's tag, which every later
    run called foreign.)
    """
    prefix = f"race-{uuid.uuid4().hex[:8]}/"
    name = f"{prefix}stripe/api-key"
    first, second = moto_server.client(), moto_server.client()
    a, b = aws_backend(first, prefix), aws_backend(second, prefix)
    a.create(name, MANAGED, Secret("old"))
    a_tagged, b_wrote, a_wrote = threading.Event(), threading.Event(), threading.Event()

    def hook(event: threading.Event) -> Any:
        def handler(**_: Any) -> None:
            event.set()

        return handler

    def waiting(event: threading.Event) -> Any:
        def handler(**_: Any) -> None:  # None: a before-call answer would replace the call
            event.wait(10)

        return handler

    first.meta.events.register("after-call.secrets-manager.TagResource", hook(a_tagged))
    first.meta.events.register("before-call.secrets-manager.PutSecretValue", waiting(b_wrote))
    first.meta.events.register("after-call.secrets-manager.PutSecretValue", hook(a_wrote))
    second.meta.events.register("before-call.secrets-manager.TagResource", waiting(a_tagged))
    second.meta.events.register("after-call.secrets-manager.PutSecretValue", hook(b_wrote))
    second.meta.events.register("after-call.secrets-manager.PutSecretValue", waiting(a_wrote))
    token_a = f"r-{'a' * 16}-{os.getpid()}-{host_label()}"
    token_b = f"r-{'b' * 16}-{os.getpid()}-{host_label()}"
    errors: dict[str, BaseException | None] = {}

    def stage(label: str, backend: AwsBackend, token: str, value: str) -> None:
        try:
            backend.put_pending(name, Secret(value), token)
        except BaseException as error:
            errors[label] = error
        else:
            errors[label] = None

    threads = [
        threading.Thread(target=stage, args=("a", a, token_a, "from-a")),
        threading.Thread(target=stage, args=("b", b, token_b, "from-b")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors["a"] is None, errors
    assert isinstance(errors["b"], RotationInProgressError), errors
    info = a.secret_info(name)
    assert info is not None
    assert info.pending is not None
    assert info.pending.token == token_a  # credctl's own, not "foreign"
    stages = moto_server.client().describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages[version_id(token_a)] == ["AWSPENDING"]
    assert version_id(token_b) not in stages or stages[version_id(token_b)] == []
    assert a.promote(name, token_a) == version_id(token_a)
    promoted = a.secret_info(name)
    assert promoted is not None
    assert (promoted.current_version, promoted.pending) == (version_id(token_a), None)
