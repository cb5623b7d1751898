"""Environments worked on at once: the slowest store sets the pace, not the sum of them.

A bounded pool runs one environment's store work per thread; each environment keeps its
own backend, so its `concurrency`, `rate_limit` and retry budget stay its own. Results
and progress lines come back in the environments' order, whatever order they finish in.
A store that fails (exit 3: unreachable, denied, throttled past its budget) fails its own
environment only; any other error (a project problem) stops the run as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from credctl.errors import BackendError, CredctlError
from credctl.model import EnvironmentConfig
from credctl.progress import Progress, counted, environment_step

log = logging.getLogger("credctl")

T = TypeVar("T")


class Listed(Protocol):
    """What listing one environment's store gave: at least its secrets by name."""

    @property
    def listing(self) -> Mapping[str, object]: ...


L = TypeVar("L", bound=Listed)
# environments worked on at once; each has its own pool of `concurrency` requests
MAX_ENVIRONMENTS = 8


def store_failed(error: BaseException) -> bool:
    """A store's own failure (exit 3), which fails its environment and not the run."""
    return isinstance(error, BackendError) and error.exit_code == BackendError.exit_code


@dataclass
class Outcome(Generic[T]):
    """One environment's result, or the failure of its store."""

    environment: EnvironmentConfig
    value: T | None = None
    error: CredctlError | None = None


def each_environment(
    environments: Sequence[EnvironmentConfig],
    work: Callable[[EnvironmentConfig], T],
    progress: Progress | None,
    doing: str,
    outcome: Callable[[T], str],
    *,
    tolerate: bool = True,
    then: Callable[[Outcome[T]], None] | None = None,
) -> list[Outcome[T]]:
    """`work` for every environment, up to MAX_ENVIRONMENTS at once; the outcomes in the
    environments' order, each shown as its line (`prod: listing secrets…`, then
    `outcome(value)`). With one environment, or `tolerate` off, a store failure is raised.
    `then(outcome)` runs in this thread for each environment in turn, after its line is
    shown and while later environments are still at work (a log line below it, the work
    on its result). Only this thread shows lines: a worker's would interleave."""
    if len(environments) == 1:  # no thread: what it does is what one environment did
        [environment] = environments
        with environment_step(progress, environment.name, doing) as step:
            value = work(environment)
            step.outcome = outcome(value)
        done = Outcome(environment, value)
        if then is not None:
            then(done)
        return [done]
    workers = min(MAX_ENVIRONMENTS, len(environments))
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="credctl-env")
    futures: list[Future[T]] = []
    try:
        futures = [pool.submit(work, environment) for environment in environments]
        outcomes: list[Outcome[T]] = []
        for environment, future in zip(environments, futures, strict=True):
            with environment_step(progress, environment.name, doing) as step:
                try:
                    value = future.result()
                except CredctlError as error:
                    if not (tolerate and store_failed(error)):
                        raise
                    log.info("%s: not reached: %s", environment.name, error)
                    step.outcome = "not reached"
                    done = Outcome[T](environment, error=error)
                else:
                    step.outcome = outcome(value)
                    done = Outcome(environment, value)
            outcomes.append(done)
            if then is not None:
                then(done)
        return outcomes
    finally:
        for future in futures:
            future.cancel()  # those not started yet, when one stopped the run
        pool.shutdown(wait=True)


def failures(outcomes: Sequence[Outcome[T]]) -> list[tuple[str, CredctlError]]:
    """The environments whose store failed, with their errors, in order."""
    return [(o.environment.name, o.error) for o in outcomes if o.error is not None]


def not_reached(
    failed: Sequence[tuple[str, CredctlError]], others: int, done: str
) -> CredctlError | None:
    """The error a run ends with (exit 3) when some environments' stores failed: naming
    each, and saying what became of the `others` (`done`: "audited", "planned")."""
    if not failed:
        return None
    first = failed[0][1]
    if not others and len({str(error) for _, error in failed}) == 1:
        return first  # one store, shared by them all, failed: its own error, as it always was
    rest = f"the other {others} {'environment was' if others == 1 else 'environments were'} {done}"
    if len(failed) == 1:
        message = f"{first} ({rest})" if others else str(first)
    else:
        names = ", ".join(name for name, _ in failed)
        message = f"{len(failed)} environments were not reached ({names}); first: {first}"
        message += f" ({rest})" if others else ""
    return BackendError(message, hint=first.hint)


def each_listing(
    environments: Sequence[EnvironmentConfig],
    work: Callable[[EnvironmentConfig], L],
    progress: Progress | None,
    *,
    tolerate: bool = True,
    then: Callable[[Outcome[L]], None] | None = None,
) -> list[Outcome[L]]:
    """`each_environment` for work that lists each store: `prod: listing secrets…`, then
    `prod: listed 1000 secrets`."""
    return each_environment(
        environments,
        work,
        progress,
        "listing secrets",
        lambda found: f"listed {counted(len(found.listing), 'secret')}",
        tolerate=tolerate,
        then=then,
    )
