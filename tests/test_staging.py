"""Staging tokens name their run; a staged value is taken over only when its run is gone."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from datetime import timedelta

import pytest

from credctl import clock
from credctl.model import EnvironmentConfig, PendingInfo
from credctl.staging import host_label, pending_state, staging_token

ENVIRONMENT = EnvironmentConfig.model_validate(
    {"name": "prod", "backend": {"type": "local"}, "lock_timeout": "10m"}
)


def ended_pid() -> int:
    finished = subprocess.Popen(["true"])
    finished.wait()
    return finished.pid


def token_of(pid: int, host: str | None = None) -> str:
    return f"r-{'a' * 16}-{pid}-{host or host_label()}"


def test_a_token_names_this_process_and_host_and_is_long_enough_for_aws() -> None:
    token = staging_token()
    prefix, random, pid, host = token.split("-", 3)
    assert (prefix, pid, host) == ("r", str(os.getpid()), host_label())
    assert len(random) >= 16
    assert len(token) >= 32
    assert token != staging_token()


TOKENS: dict[str, Callable[[], str]] = {
    # named, not computed, in the ids: each xdist worker is a process of its own
    "this-process": lambda: token_of(os.getpid()),  # still at work
    "another-host": lambda: token_of(os.getppid(), "another-host"),  # only the lock timeout tells
    "rotation-function": lambda: "a-version-id-of-a-rotation-function",
    "not-a-pid": lambda: "r-aaaaaaaaaaaaaaaa-notapid-host",
}


@pytest.mark.parametrize(
    ("whose", "state"),
    [
        ("this-process", "running"),
        ("another-host", "running"),
        ("rotation-function", "foreign"),
        ("not-a-pid", "foreign"),
    ],
)
def test_a_pending_value_whose_run_may_go_on_is_left_alone(whose: str, state: str) -> None:
    pending = PendingInfo(TOKENS[whose](), clock.now() - timedelta(minutes=1))
    assert pending_state(pending, ENVIRONMENT, clock.now()) == state


def test_a_pending_value_whose_process_ended_is_abandoned() -> None:
    pending = PendingInfo(token_of(ended_pid()), clock.now())
    assert pending_state(pending, ENVIRONMENT, clock.now()) == "abandoned"


def test_a_pending_value_of_credctl_older_than_the_lock_timeout_is_abandoned() -> None:
    pending = PendingInfo(token_of(os.getpid()), clock.now() - timedelta(minutes=11))
    assert pending_state(pending, ENVIRONMENT, clock.now()) == "abandoned"


def test_another_tools_pending_value_is_never_abandoned_however_old() -> None:
    # its tool (an AWS rotation function) may be stuck, not gone: never taken over
    pending = PendingInfo("a-version-id-of-a-rotation-function", clock.now() - timedelta(days=30))
    assert pending_state(pending, ENVIRONMENT, clock.now()) == "foreign"
