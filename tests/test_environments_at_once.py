"""Environments worked on at once: every store listed together, results in the
environments' order, and a store that fails leaving out its own environment only."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from credctl.backends.registry import BACKENDS
from credctl.fanout import MAX_ENVIRONMENTS, Outcome, each_environment
from credctl.model import EnvironmentConfig, SecretInfo
from tests.support import memory_backend
from tests.support.memory_backend import MEMORY, MemoryBackend
from tests.support.projects import LOCAL_ENV, make_project, row
from tests.support.runner import credctl
from tests.support.seeding import seed_many
from tests.support.terminal import on_a_terminal

NAMES = ("alpha", "beta", "gamma")
# a Vault nobody answers at, given up on at once
UNREACHABLE = "backend: {type: vault, url: 'http://127.0.0.1:9'}\nretry: {max_attempts: 1}\n"
TOKEN = {"VAULT_TOKEN": "a-token"}


@pytest.fixture
def memory(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(BACKENDS, MEMORY.type, MEMORY)
    memory_backend.STORES.clear()
    yield
    memory_backend.STORES.clear()


@pytest.fixture
def first_listed_last(memory: None, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each store's listing waits until every other environment is listing too, and the
    first environment's until the others have finished: it can only end if they run at
    once. Returns the order the listings finished in."""
    started = threading.Barrier(len(NAMES), timeout=20)
    others_done = threading.Semaphore(0)
    finished: list[str] = []
    listing = MemoryBackend.list_secrets

    def list_secrets(self: MemoryBackend) -> list[SecretInfo]:
        started.wait()
        name = self.environment.name
        if name == NAMES[0]:
            for _ in NAMES[1:]:
                assert others_done.acquire(timeout=20)
        found = listing(self)
        finished.append(name)
        if name != NAMES[0]:
            others_done.release()
        return found

    monkeypatch.setattr(MemoryBackend, "list_secrets", list_secrets)
    return finished


def memory_project(folder: Path) -> Path:
    environments = {name: f"backend: {{type: memory, store: {name}}}\n" for name in NAMES}
    return make_project(
        folder, [row(environment=name) for name in NAMES], environments=environments
    )


@pytest.mark.parametrize("command", ["audit", "status", "plan", "sync"])
def test_every_environment_is_listed_at_once_and_reported_in_order(
    tmp_path: Path, first_listed_last: list[str], command: str
) -> None:
    project = memory_project(tmp_path)
    args = ["--format", "json"] + (["--fail-on", "never"] if command == "audit" else [])
    result = credctl(project, command, *args)
    assert result.exit_code == 0, result.output
    assert first_listed_last[-1] == NAMES[0]  # it finished last
    document = json.loads(result.stdout)
    if command in ("audit", "status"):
        assert [c["environment"] for c in document["credentials"]] == list(NAMES)
        population = document["evidence"]["population"]
        assert [share["environment"] for share in population] == list(NAMES)
        assert document["evidence"]["unreached"] == []
    else:
        assert [c["environment"] for c in document["changes"]] == list(NAMES)


def test_at_most_eight_environments_at_once(tmp_path: Path, memory: None) -> None:
    environments = [
        EnvironmentConfig.model_validate(
            {"name": f"env-{index:02d}", "backend": {"type": "memory", "store": str(index)}}
        )
        for index in range(20)
    ]
    lock = threading.Lock()
    running = [0]
    most = [0]
    ready = threading.Barrier(MAX_ENVIRONMENTS, timeout=20)

    def work(environment: EnvironmentConfig) -> str:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        if int(environment.name[-2:]) < MAX_ENVIRONMENTS:
            ready.wait()  # the first eight all run at once
        with lock:
            running[0] -= 1
        return environment.name

    outcomes = each_environment(environments, work, None, "working", str)
    assert [outcome.value for outcome in outcomes] == [e.name for e in environments]
    assert most[0] == MAX_ENVIRONMENTS


def test_each_result_is_taken_in_order_while_later_environments_are_at_work(
    memory: None,
) -> None:
    """`then` takes the first environment's result while the second is still working:
    the audit of its rows overlaps the other stores' answers."""
    environments = [
        EnvironmentConfig.model_validate({"name": name, "backend": {"type": "memory"}})
        for name in NAMES
    ]
    first_taken = threading.Event()
    taken: list[str] = []

    def work(environment: EnvironmentConfig) -> str:
        if environment.name != NAMES[0]:
            assert first_taken.wait(timeout=20), "the first result was not taken meanwhile"
        return environment.name

    def then(outcome: Outcome[str]) -> None:
        taken.append(outcome.environment.name)
        first_taken.set()

    outcomes = each_environment(environments, work, None, "working", str, then=then)
    assert taken == [outcome.value for outcome in outcomes] == list(NAMES)


def three_with_one_unreachable(folder: Path) -> Path:
    """prod and dev on the local store, staging on a Vault nobody answers at."""
    project = make_project(
        folder,
        [row(), row(environment="staging"), row(environment="dev")],
        environments={"dev": LOCAL_ENV, "prod": LOCAL_ENV, "staging": UNREACHABLE},
    )
    seed_many(project, [("prod/stripe/api-key", "v1"), ("dev/stripe/api-key", "v2")])
    return project


NOT_REACHED = (
    "Error: environment staging: cannot reach Vault at http://127.0.0.1:9 "
    "(the other 2 environments were {done}) (hint: check VAULT_ADDR"
)


def test_an_audit_reports_the_stores_it_reached_and_exits_3_naming_the_other(
    tmp_path: Path,
) -> None:
    project = three_with_one_unreachable(tmp_path)
    result = credctl(project, "audit", "--format", "json", "--fail-on", "never", env=TOKEN)
    assert result.exit_code == 3
    assert result.stderr.startswith(NOT_REACHED.format(done="reported"))
    assert "Traceback" not in result.stderr
    document = json.loads(result.stdout)
    assert [c["id"] for c in document["credentials"]] == [
        "dev/stripe/api-key",
        "prod/stripe/api-key",
    ]
    population = document["evidence"]["population"]
    assert [share["environment"] for share in population] == ["dev", "prod"]
    assert document["evidence"]["unreached"] == [
        {
            "environment": "staging",
            "store": "the Vault mount secret/",
            "error": "environment staging: cannot reach Vault at http://127.0.0.1:9",
        }
    ]
    [finding] = [f for f in document["findings"] if f["code"] == "unreached"]
    assert finding["severity"] == "error"
    assert finding["file"] == "environments/staging.yaml"
    assert "its rows are not in this report" in finding["message"]
    assert "credctl doctor --env staging" in finding["message"]
    # people see it in the report too, and the exit code is the store's whatever --fail-on says
    text = credctl(project, "audit", env=TOKEN)
    assert text.exit_code == 3
    assert "environment staging: the Vault mount secret/ was not reached" in text.stdout
    assert "prod/stripe/api-key" in text.stdout
    status = credctl(project, "status", "--format", "json", env=TOKEN)
    assert status.exit_code == 3
    assert [c["environment"] for c in json.loads(status.stdout)["credentials"]] == ["dev", "prod"]


def test_an_environment_not_reached_keeps_its_place_in_the_report(tmp_path: Path) -> None:
    """Each environment's rows are audited as its listing arrives; the one not reached has
    its finding where its rows would have been, between those before and after it."""
    project = make_project(
        tmp_path,
        [row(), row(environment="ops"), row(environment="dev")],
        environments={"dev": LOCAL_ENV, "ops": UNREACHABLE, "prod": LOCAL_ENV},
    )
    seed_many(project, [("prod/stripe/api-key", "v1"), ("dev/stripe/api-key", "v2")])
    result = credctl(project, "audit", "--format", "json", "--fail-on", "never", env=TOKEN)
    assert result.exit_code == 3, result.output
    document = json.loads(result.stdout)
    order = [
        f["id"] or f["file"] for f in document["findings"] if f["code"] != "missing-in-environment"
    ]
    assert "environments/ops.yaml" in order
    place = order.index("environments/ops.yaml")
    assert set(order[:place]) == {"dev/stripe/api-key"}
    assert set(order[place + 1 :]) == {"prod/stripe/api-key"}
    assert [c["environment"] for c in document["credentials"]] == ["dev", "prod"]


def test_plan_and_sync_go_on_with_the_stores_they_reached(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        [row(), row(environment="staging"), row(environment="dev")],
        environments={"dev": LOCAL_ENV, "prod": LOCAL_ENV, "staging": UNREACHABLE},
    )
    planned = credctl(project, "plan", "--format", "json", env=TOKEN)
    assert planned.exit_code == 3
    assert planned.stderr.startswith(NOT_REACHED.format(done="planned"))
    changes = json.loads(planned.stdout)["changes"]
    assert [(c["action"], c["environment"]) for c in changes] == [
        ("create", "dev"),
        ("create", "prod"),
    ]
    synced = credctl(project, "sync", "--actor", "test", env=TOKEN)
    assert synced.exit_code == 3
    assert NOT_REACHED.format(done="synced") in synced.stderr
    audited = credctl(project, "audit", "--env", "dev", "--env", "prod", "--format", "json")
    statuses = {c["id"]: c["status"] for c in json.loads(audited.stdout)["credentials"]}
    assert statuses == {"dev/stripe/api-key": "ok", "prod/stripe/api-key": "ok"}


def test_one_environment_alone_fails_as_it_always_did(tmp_path: Path) -> None:
    project = three_with_one_unreachable(tmp_path)
    result = credctl(project, "audit", "--env", "staging", env=TOKEN)
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.startswith(
        "Error: environment staging: cannot reach Vault at http://127.0.0.1:9 (hint: "
    )


def test_every_store_unreachable_is_one_error_naming_them(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        [row(), row(environment="staging")],
        environments={"prod": UNREACHABLE, "staging": UNREACHABLE},
    )
    result = credctl(project, "audit", "--format", "json", env=TOKEN)
    assert result.exit_code == 3
    assert result.stderr.startswith(
        "Error: 2 environments were not reached (prod, staging); first: environment prod: "
        "cannot reach Vault at http://127.0.0.1:9 (hint: "
    )
    assert json.loads(result.stdout)["credentials"] == []


def test_a_terminal_shows_each_environment_s_line_in_order_and_the_one_not_reached(
    tmp_path: Path,
) -> None:
    project = three_with_one_unreachable(tmp_path)
    drawn = on_a_terminal(
        project, "audit", "--fail-on", "never", stdout=False, VAULT_TOKEN=TOKEN["VAULT_TOKEN"]
    )
    assert drawn.exit_code == 3
    lines = [
        re.split(r"\r(?:\x1b\[K)?", line)[-1]
        for line in drawn.stderr.replace("\r\n", "\n").split("\n")
        if line
    ]
    assert lines[:3] == ["dev: listed 1 secret", "prod: listed 1 secret", "staging: not reached"]
    assert lines[3].startswith("Error: environment staging: cannot reach Vault")
