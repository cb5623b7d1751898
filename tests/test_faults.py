"""The fault matrix: `set`, `rotate` and `sync` stopped at every step, then retried.

On AWS (moto_server) and Vault (OpenBao), through the fault proxy, each request of a
command in turn is dropped before it reaches the store, or has its answer lost after
the store applied it, or meets a store that is down from that request on; on the local
store the command is killed (SIGKILL) before each of its writes. Then the user's natural
retry: the same command again, the store healthy. Every scenario must show: no value
lost (the value is the old or the new one, the previous one readable), no run that
needs `--abort` (the retry succeeds and leaves nothing staged), and nothing rotated twice
by one command and its retry (counted in versions).

The suite runs a sample: every request of one command per backend, each with one of the
faults in turn. `make faults` (FAULT_MATRIX=all) runs all of it and prints a summary.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from credctl.backends.base import Backend, BackendContext
from credctl.backends.pool import Backends, open_backend
from credctl.model import EnvironmentConfig, SecretInfo, parse_reference
from credctl.project import load_project
from credctl.secret import Secret
from credctl.settings import load_settings
from credctl.staging import metadata_for
from credctl.sync import make_plan
from tests.support.crashpoint import VARIABLE as CRASH_AT_WRITE
from tests.support.fixtures import Store
from tests.support.projects import make_project, row
from tests.support.proxy import FAULTS, Fault, Proxy
from tests.support.runner import Result, credctl, credctl_process
from tests.support.servers import MotoServer, OpenBao

POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  API Key: {secret: true, rotator: generate, generator: {kind: token, bytes: 24, prefix: sk_}}
"""
# fast retries, and one request at a time so that "the k-th request" is the same each run
OPTIONS = "retry: {max_attempts: 3, base_delay: 1ms, max_delay: 5ms}\nconcurrency: 1\n"
COMMANDS = ("set", "rotate", "sync")
# what the suite runs by default: every request of one command per backend
SAMPLE = {("aws", "rotate"), ("vault", "set"), ("local", "rotate")}
FULL = os.environ.get("FAULT_MATRIX") == "all"
REPORT = os.environ.get("FAULT_MATRIX_REPORT")

pytestmark = pytest.mark.integration


# ---------------------------------------------------------------- one scenario


@dataclass
class Secrets:
    """The store names of a scenario's rows, and the values seeded before the command."""

    main: str  # set / rotate: the one credential; sync: an existing one with drifted metadata
    created: str = ""  # sync: a new row
    filled: str = ""  # sync: a secret whose creation stopped before its first value
    old_value: str = ""
    old_version: str = ""
    new_value: str = ""  # set: the value given


class Bench:
    """One scenario: a project, its store seen directly (not through the proxy), its checks."""

    def __init__(self, folder: Path, store: Store, command: str, through: Proxy | None) -> None:
        self.folder = folder
        self.store = store
        self.command = command
        prefix = f"f-{uuid.uuid4().hex[:8]}/"
        owner = "@payments-new" if command == "sync" else "@payments"
        rows = [row(owner=owner)]
        if command == "sync":
            rows += [row(service="Twilio"), row(service="Mailgun")]
        environment = store.environment_yaml(prefix)
        if store.server is not None:
            assert through is not None
            environment = environment.replace(store.server.url, through.url) + OPTIONS
        make_project(
            folder, rows, environments={"prod": environment}, policies={"default.yaml": POLICY}
        )
        self.backend = side_door(store, prefix, folder)
        unique = uuid.uuid4().hex[:12]
        self.names = Secrets(
            main=f"{prefix}stripe/api-key",
            created=f"{prefix}twilio/api-key",
            filled=f"{prefix}mailgun/api-key",
            old_value=f"sk_old_{unique}",
            new_value=f"sk_new_{unique}",
        )
        project = load_project(load_settings(folder))
        stripe = project.find("prod/stripe/api-key")
        seeded = metadata_for(stripe) | {"credctl:owner": "@payments"}
        self.backend.create(self.names.main, seeded, Secret(self.names.old_value))
        if command == "sync":
            mailgun = project.find("prod/mailgun/api-key")
            self.backend.create(self.names.filled, metadata_for(mailgun), None)
        info = self.info(self.names.main)
        assert info is not None
        assert info.current_version is not None
        self.names.old_version = info.current_version

    def run(self, env: dict[str, str] | None = None) -> Result:
        arguments = {
            "set": ["set", "prod/stripe/api-key"],
            "rotate": ["rotate", "prod/stripe/api-key"],
            "sync": ["sync"],
        }[self.command]
        given = self.names.new_value if self.command == "set" else None
        # a kill -9 at a write needs a process of its own
        runner = credctl_process if CRASH_AT_WRITE in (env or {}) else credctl
        return runner(self.folder, *arguments, input=given, env={**self.store.env, **(env or {})})

    def info(self, name: str) -> SecretInfo | None:
        return self.backend.secret_info(name)

    def value(self, name: str) -> str | None:
        ref = parse_reference(self.backend.reference(name))
        assert ref is not None
        result = self.backend.read_values([ref])[ref]
        return result.reveal() if isinstance(result, Secret) else None

    def commits(self, name: str, since: str | None) -> int:
        """Values made current after version `since` (None: since the secret had none)."""
        info = self.info(name)
        if info is None or info.current_version is None:
            return 0
        if self.store.kind != "aws":
            return int(info.current_version) - int(since or 0)
        assert isinstance(self.store.server, MotoServer)
        stages = self.store.server.client().describe_secret(SecretId=name)["VersionIdsToStages"]
        if info.current_version == since:
            return 0
        previous = [version for version, labels in stages.items() if "AWSPREVIOUS" in labels]
        if since is None:
            return 1 if not previous else 2
        return 1 if previous == [since] else 2

    # ------------------------------------------------------------------ checks

    def lost(self) -> list[str]:
        """Values lost so far: the current value is neither the old nor the new one."""
        names = self.names
        current = self.value(names.main)
        problems = []
        if not current:
            problems.append("no current value")
        elif self.command == "set" and current not in (names.old_value, names.new_value):
            problems.append("the value is neither the old nor the new one")
        elif self.command == "sync" and current != names.old_value:
            problems.append("sync changed an existing value")
        if self.backend.read_version(names.main, names.old_version).reveal() != names.old_value:
            problems.append("the previous value is no longer readable")
        return problems

    def unfinished(self) -> list[str]:
        """After a successful retry: what is not as the command promised."""
        names = self.names
        problems = self.lost()
        every = [names.main] + ([names.created, names.filled] if self.command == "sync" else [])
        for name in every:
            info = self.info(name)
            if info is None:
                problems.append(f"{name} is missing")
                continue
            if info.pending is not None:
                problems.append(f"{name} still has a staged value (it needs --abort)")
        if self.command == "set":
            if self.value(names.main) != names.new_value:
                problems.append("the value set is not current")
            problems += self._once(names.main, names.old_version, "set")
        elif self.command == "rotate":
            if self.value(names.main) == names.old_value:
                problems.append("not rotated")
            problems += self._once(names.main, names.old_version, "rotated")
        else:
            if self.commits(names.main, names.old_version) != 0:
                problems.append("sync wrote a new value for an existing secret")
            owner = (self.info(names.main) or SecretInfo("", "", {})).metadata.get("credctl:owner")
            if owner != "@payments-new":
                problems.append("the drifted owner was not updated")
            for name in (names.created, names.filled):
                if not self.value(name):
                    problems.append(f"{name} has no value")
                problems += self._once(name, None, "given a first value")
        problems += self.planned()
        return problems

    def _once(self, name: str, since: str | None, what: str) -> list[str]:
        count = self.commits(name, since)
        return [] if count == 1 else [f"{name} {what} {count} times"]

    def planned(self) -> list[str]:
        """`plan` finds nothing left to do: store, table and metadata agree."""
        project = load_project(load_settings(self.folder))
        backends = Backends(project)
        try:
            plan = make_plan(project, project.select([]), backends)
        finally:
            backends.close()
        return [
            f"plan still has: {change.action} {change.id} ({', '.join(change.fields)})"
            for change in plan.actionable
        ]

    def leaked(self, *results: Result) -> bool:
        names = self.names
        texts = "".join(result.output for result in results)
        values = [names.old_value, names.new_value, self.value(names.main) or names.old_value]
        return any(value in texts for value in values)


def side_door(store: Store, prefix: str, folder: Path) -> Backend:
    """A backend on the store itself, to seed and inspect it around the command."""
    if store.kind == "local":
        config: dict[str, Any] = {"type": "local", "prefix": prefix}
    elif store.kind == "aws":
        config = {"type": "aws", "prefix": prefix, "region": "us-east-1"}
    else:
        assert isinstance(store.server, OpenBao)
        config = {"type": "vault", "url": store.server.url, "path_prefix": prefix}
    environment = EnvironmentConfig.model_validate({"name": "prod", "backend": config})
    client = store.server.client() if isinstance(store.server, MotoServer) else None
    return open_backend(environment, BackendContext(project_dir=folder, client=client))


# --------------------------------------------------------------- the matrix


@dataclass
class Outcome:
    """One scenario's result, a row of the summary."""

    backend: str
    command: str
    fault: str
    index: int
    request: str  # what the k-th request or write was
    first_exit: int
    retried: bool
    problems: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if self.problems:
            return "FAILED"
        return "ok after retry" if self.retried else "ok at once"

    def describe(self) -> str:
        return (
            f"{self.backend} {self.command} {self.fault} at #{self.index} ({self.request}): "
            f"first exit {self.first_exit}; " + "; ".join(self.problems)
        )


def scenario(bench: Bench, fault: str, index: int, request: str, first: Result) -> Outcome:
    """Check after the command, retry it if it failed, check again."""
    outcome = Outcome(
        bench.store.kind, bench.command, fault, index, request, first.exit_code, False
    )
    outcome.problems += bench.lost()
    results = [first]
    if first.exit_code != 0:
        outcome.retried = True
        retry = bench.run()
        results.append(retry)
        if retry.exit_code != 0:
            last = (retry.stderr.strip().splitlines() or [retry.stdout.strip()])[-1]
            outcome.problems.append(f"the retry failed (exit {retry.exit_code}: {last})")
    if not outcome.problems:
        outcome.problems += bench.unfinished()
    if bench.leaked(*results):
        outcome.problems.append("a value appeared in the output")
    return outcome


def report(outcomes: list[Outcome]) -> None:
    """Append the outcomes for `make faults`' summary; fail on any problem."""
    if REPORT:
        with open(REPORT, "a", encoding="utf-8") as stream:
            for outcome in outcomes:
                entry = {**outcome.__dict__, "verdict": outcome.verdict}
                stream.write(json.dumps(entry) + "\n")
    failed = [outcome.describe() for outcome in outcomes if outcome.problems]
    assert not failed, f"{len(failed)} of {len(outcomes)} scenarios failed:\n" + "\n".join(failed)


def network_plan(kind: str, command: str, requests: int) -> list[tuple[Fault, int]]:
    """Every (fault, request index), or for the sample each index with one fault in turn."""
    if FULL:
        return [(fault, index) for fault in FAULTS for index in range(1, requests + 1)]
    return [(FAULTS[(index - 1) % len(FAULTS)], index) for index in range(1, requests + 1)]


def chosen(kind: str, command: str) -> None:
    if not FULL and (kind, command) not in SAMPLE:
        pytest.skip("not in the sample: run the whole matrix with 'make faults'")


@pytest.fixture
def server_store(
    request: pytest.FixtureRequest,
) -> Callable[[str], Store]:
    def make(kind: str) -> Store:
        return Store(kind, request.getfixturevalue("moto_server" if kind == "aws" else "openbao"))

    return make


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("kind", ["aws", "vault"])
def test_every_request_fails_once_then_the_retry_finishes(
    tmp_path: Path,
    kind: str,
    command: str,
    server_store: Callable[[str], Store],
    proxy: Callable[..., Proxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chosen(kind, command)
    store = server_store(kind)
    assert store.server is not None
    if isinstance(store.server, OpenBao):
        monkeypatch.setenv("VAULT_TOKEN", store.server.token)
    through = proxy(store.server.url)
    # a healthy run first: how many requests the command makes, and what each one is
    healthy = Bench(tmp_path / "healthy", store, command, through)
    before = through.seen
    first = healthy.run()
    names = through.log[before:]
    outcomes = [scenario(healthy, "none", 0, "-", first)]
    assert first.exit_code == 0, first.output
    for fault, index in network_plan(kind, command, len(names)):
        bench = Bench(tmp_path / f"{fault}-{index}", store, command, through)
        through.fault_at(fault, index)
        result = bench.run()
        through.clear_faults()
        outcomes.append(scenario(bench, fault, index, names[index - 1], result))
    report(outcomes)


@pytest.mark.parametrize("command", COMMANDS)
def test_killed_before_every_write_then_the_retry_finishes(tmp_path: Path, command: str) -> None:
    chosen("local", command)
    store = Store("local")
    outcomes = []
    for index in range(1, 20):
        bench = Bench(tmp_path / f"kill-{index}", store, command, None)
        result = bench.run({CRASH_AT_WRITE: str(index)})
        if result.exit_code != -9:  # it finished before its index-th write: all steps done
            outcomes.append(scenario(bench, "none", 0, "-", result))
            break
        outcomes.append(scenario(bench, "kill", index, f"write #{index}", result))
    assert len(outcomes) > 2, "the command was never killed"
    report(outcomes)


# ------------------------------------------------ the cases, by name


def index_of(
    store: Store, through: Proxy, folder: Path, command: str, wanted: Callable[[str], bool]
) -> int:
    """The index of the first request of a healthy run of `command` that `wanted` picks."""
    before = through.seen
    assert Bench(folder, store, command, through).run().exit_code == 0
    return next(i for i, name in enumerate(through.log[before:], 1) if wanted(name))


def staging_write(name: str) -> bool:
    return name == "PutSecretValue" or (name.startswith("POST") and "credctl-pending" in name)


@pytest.mark.parametrize("kind", ["aws", "vault"])
def test_a_set_interrupted_after_staging_is_finished_by_the_next_set(
    tmp_path: Path,
    kind: str,
    server_store: Callable[[str], Store],
    proxy: Callable[..., Proxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The store goes down right after the staging write; the same set again finishes it.

    (Before: every later set was refused, "a rotation is already in progress … wait".)
    """
    store = server_store(kind)
    assert store.server is not None
    if isinstance(store.server, OpenBao):
        monkeypatch.setenv("VAULT_TOKEN", store.server.token)
    through = proxy(store.server.url)
    index = index_of(store, through, tmp_path / "healthy", "set", staging_write)
    bench = Bench(tmp_path / "cut", store, "set", through)
    through.fault_at("down", index + 1)
    cut = bench.run()
    through.clear_faults()
    assert cut.exit_code == 3, cut.output
    info = bench.info(bench.names.main)
    assert info is not None
    assert info.pending is not None  # staged, not promoted
    assert bench.value(bench.names.main) == bench.names.old_value
    again = bench.run()
    assert again.exit_code == 0, again.output
    assert bench.unfinished() == []


def test_a_set_killed_after_staging_is_finished_or_replaced_by_the_next_set(
    tmp_path: Path,
) -> None:
    store = Store("local")
    same = Bench(tmp_path / "same", store, "set", None)
    assert same.run({CRASH_AT_WRITE: "2"}).exit_code == -9  # after the staging write
    assert same.run().exit_code == 0
    assert same.unfinished() == []
    other = Bench(tmp_path / "other", store, "set", None)
    assert other.run({CRASH_AT_WRITE: "2"}).exit_code == -9
    replaced = credctl(other.folder, "set", "prod/stripe/api-key", input="another-value")
    assert replaced.exit_code == 0, replaced.output
    assert other.value(other.names.main) == "another-value"
    assert other.commits(other.names.main, other.names.old_version) == 1
    info = other.info(other.names.main)
    assert info is not None
    assert info.pending is None


def test_a_lost_answer_on_the_vault_staging_write_is_not_a_conflict(
    tmp_path: Path, openbao: OpenBao, proxy: Callable[..., Proxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cas=0 write of the pending value landed, its answer did not: the repeat finds it.

    (Before: "another rotation staged a value first".)
    """
    monkeypatch.setenv("VAULT_TOKEN", openbao.token)
    store = Store("vault", openbao)
    through = proxy(openbao.url)
    index = index_of(store, through, tmp_path / "healthy", "set", staging_write)
    bench = Bench(tmp_path / "lost", store, "set", through)
    through.fault_at("lose-answer", index)
    result = bench.run()
    assert through.lost == 1
    assert result.exit_code == 0, result.output
    assert bench.unfinished() == []


def test_a_lost_answer_on_the_aws_promote_is_not_an_error(
    tmp_path: Path, moto_server: MotoServer, proxy: Callable[..., Proxy]
) -> None:
    """UpdateSecretVersionStage applied, its answer lost: the repeat checks the store first.

    (Before: "AWSCURRENT not found…", AWSPENDING left behind, the next set refused, and a
    rotate rerun rotated a second time.)
    """
    store = Store("aws", moto_server)
    through = proxy(moto_server.url)
    index = index_of(
        store, through, tmp_path / "healthy", "rotate", lambda name: "VersionStage" in name
    )
    bench = Bench(tmp_path / "lost", store, "rotate", through)
    through.fault_at("lose-answer", index)
    result = bench.run()
    assert through.lost == 1
    assert result.exit_code == 0, result.output
    assert bench.unfinished() == []  # rotated once, no AWSPENDING left
    stored = credctl(bench.folder, "set", "prod/stripe/api-key", input="next", env=store.env)
    assert stored.exit_code == 0, stored.output


def test_a_promoted_mark_is_finished_by_sync_or_cleared_by_abort(tmp_path: Path) -> None:
    """A rotation killed after its promote: the new value is current, only its record left."""
    store = Store("local")
    for how in ("sync", "abort"):
        bench = Bench(tmp_path / how, store, "rotate", None)
        # writes: 1 staging, 2 promote, 3 last-rotated, 4 table, 5 the mark cleared
        assert bench.run({CRASH_AT_WRITE: "3"}).exit_code == -9
        info = bench.info(bench.names.main)
        assert info is not None
        assert info.pending is not None
        assert info.pending.promoted
        rotated = bench.value(bench.names.main)
        assert rotated != bench.names.old_value
        if how == "sync":
            plan = credctl(bench.folder, "plan")
            assert "~ update      prod/stripe/api-key  (staged value)" in plan.stdout, plan.output
            result = credctl(bench.folder, "sync")
        else:
            result = credctl(bench.folder, "rotate", "prod/stripe/api-key", "--abort")
            assert "staged mark cleared; the new value was current already and stays" in (
                result.stdout
            )
        assert result.exit_code == 0, result.output
        info = bench.info(bench.names.main)
        assert info is not None
        assert info.pending is None
        assert bench.value(bench.names.main) == rotated
        assert bench.commits(bench.names.main, bench.names.old_version) == 1
        if how == "sync":
            assert info.last_rotated is not None
            assert bench.planned() == []
