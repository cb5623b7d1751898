"""The shared call wrapper: retry, write rate, translation and the debug line, the same
for every network store."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from credctl.backends.base import Backend, BackendContext
from credctl.backends.calls import Caller, CallRules
from credctl.backends.pool import open_backend
from credctl.errors import BackendError, NotFoundError, ThrottledError, UnreachableError
from credctl.model import EnvironmentConfig
from credctl.secret import Secret
from tests.support.contract import CANARY, MANAGED
from tests.support.servers import OpenBao

FAST_RETRY = {"max_attempts": 3, "base_delay": "1ms", "max_delay": "2ms"}


class Flaky(Exception):
    """A failure worth repeating."""


class Broken(Exception):
    """A failure that repeats the same way every time."""


class Rules(CallRules[str]):
    vendor = "Test"

    def is_retryable(self, error: Exception) -> bool:
        return isinstance(error, Flaky)

    def translate(self, error: Exception, call: str) -> BackendError:
        return UnreachableError(f"{call}: translated {type(error).__name__}")


class Counter:
    """Stands in for the rate limiter: counts the calls that waited for it."""

    def __init__(self) -> None:
        self.count = 0

    def acquire(self) -> None:
        self.count += 1


def environment(kind: str = "local", **options: Any) -> EnvironmentConfig:
    return EnvironmentConfig.model_validate(
        {"name": "prod", "backend": {"type": kind}, "retry": FAST_RETRY, **options}
    )


def caller(**options: Any) -> tuple[Caller[str], list[float], Counter]:
    made = Caller(environment(**options), Rules())
    slept: list[float] = []
    made.sleep = slept.append
    counter = Counter()
    made.writes = counter  # type: ignore[assignment]
    return made, slept, counter


def failing(*errors: Exception, answer: str = "answer") -> Callable[[], str]:
    pending = list(errors)

    def request() -> str:
        if pending:
            raise pending.pop(0)
        return answer

    return request


def test_retryable_failures_are_repeated_with_backoff() -> None:
    call, slept, _ = caller()
    assert call(failing(Flaky(), Flaky()), "read x") == "answer"
    assert len(slept) == 2
    assert all(0 <= pause <= 0.002 for pause in slept)


def test_past_the_attempts_the_store_says_what_to_raise() -> None:
    call, slept, _ = caller()
    with pytest.raises(ThrottledError) as caught:
        call(failing(Flaky(), Flaky(), Flaky()), "read x")
    assert str(caught.value) == "read x: still throttled or unavailable after 3 attempts"
    assert len(slept) == 2


def test_other_failures_are_translated_at_once_and_credctl_errors_pass() -> None:
    call, slept, _ = caller()
    with pytest.raises(UnreachableError, match=r"^read x: translated Broken$") as caught:
        call(failing(Broken()), "read x")
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    with pytest.raises(NotFoundError, match=r"^gone$"):
        call(failing(NotFoundError("gone")), "read x")
    assert slept == []


def test_only_writes_wait_for_the_write_rate() -> None:
    call, _, counter = caller()
    call(failing(), "read x")
    call(failing(Flaky()), "write x", write=True)
    assert counter.count == 2  # each attempt of the write


def test_a_write_that_landed_is_not_repeated() -> None:
    call, _, counter = caller()
    checks: list[str] = []

    def landed() -> bool:
        checks.append("asked")
        return True

    assert call(failing(Flaky()), "write x", write=True, settled=landed) is None
    assert (checks, counter.count) == (["asked"], 1)


def test_the_write_rate_is_rate_limit_else_the_stores_quota() -> None:
    assert environment("aws").write_rate == 50.0
    assert environment("vault").write_rate is None
    assert environment("local").write_rate is None
    assert environment("vault", rate_limit="5/s").write_rate == 5.0
    assert Caller(environment("vault"), Rules()).writes is None
    limited = Caller(environment("vault", rate_limit="600/min"), Rules()).writes
    assert limited is not None
    assert limited.per_second == 10.0


def test_each_call_is_one_debug_line_without_its_data(caplog: pytest.LogCaptureFixture) -> None:
    call, _, _ = caller()
    caplog.set_level(logging.DEBUG, logger="credctl")
    call(failing(answer=CANARY), "read prod/x")
    with pytest.raises(UnreachableError):
        call(failing(Broken(CANARY)), "write prod/y", write=True)
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("prod: Test read prod/x: ok in ")
    assert lines[1].startswith("prod: Test write prod/y: Broken in ")
    assert CANARY not in caplog.text


# ------------------------------------------------------------- on the stores


@pytest.fixture
def counted() -> Callable[[Backend], Counter]:
    """Swap a backend's write limiter for a counter (the rate itself is tested above)."""

    def swap(backend: Backend) -> Counter:
        counter = Counter()
        backend._calls.writes = counter  # type: ignore[attr-defined]
        return counter

    return swap


def write_and_read(backend: Backend) -> None:
    name = backend.environment.prefix + "stripe/api-key"
    backend.create(name, MANAGED, Secret(CANARY))  # one write (AWS: CreateSecret)
    backend.set_metadata(name, {"credctl:owner": "@billing"})  # one write
    backend.list_secrets()
    backend.secret_info(name)


def test_aws_writes_wait_for_the_write_rate(counted: Callable[[Backend], Counter]) -> None:
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        backend = open_backend(
            environment("aws", rate_limit="1000/s"),
            BackendContext(project_dir=Path("."), client=client),
        )
        counter = counted(backend)
        write_and_read(backend)
    assert counter.count == 2


@pytest.mark.integration
def test_vault_writes_wait_for_the_write_rate(
    openbao: OpenBao, monkeypatch: pytest.MonkeyPatch, counted: Callable[[Backend], Counter]
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", openbao.token)
    options = {"url": openbao.url, "path_prefix": f"c-{uuid.uuid4().hex[:8]}/"}
    config = EnvironmentConfig.model_validate(
        {
            "name": "prod",
            "backend": {"type": "vault", **options},
            "rate_limit": "1000/s",
            "retry": FAST_RETRY,
        }
    )
    backend = open_backend(config, BackendContext(project_dir=Path(".")))
    counter = counted(backend)
    try:
        write_and_read(backend)
    finally:
        backend.close()
    # create: the data (cas=0) and the metadata; set_metadata: the metadata
    assert counter.count == 3
