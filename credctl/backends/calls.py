"""The call wrapper every network store's requests go through, in one place.

A store supplies its rules (`CallRules`: which failures are worth repeating, how
a vendor failure reads as credctl's own error, what to say when the attempts run
out); `Caller` applies them the same way to every store: retry with capped
exponential backoff and full jitter up to the environment's `retry`, the
environment's write rate (`rate_limit`, else the store's own quota), the
translation, and one `-vv` debug line per call naming the call, never its data.

The local store does not go through it: its calls are reads and writes of one
file under a lock, where nothing transient is worth repeating and there is no
server quota to keep under; it logs each read and write of the file itself.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar, overload

from credctl.errors import BackendError, CredctlError, ThrottledError
from credctl.model import EnvironmentConfig, RetryConfig

log = logging.getLogger("credctl")

T = TypeVar("T")
# what a store says about one call: its name for messages and the debug line (str()),
# and whatever its rules need to translate a failure of it
C = TypeVar("C")


def with_retry(
    call: Callable[[], T],
    retry: RetryConfig,
    *,
    is_retryable: Callable[[Exception], bool],
    exhausted: Callable[[Exception, int], BackendError],
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `call`, retrying retryable failures with capped exponential backoff and full
    jitter; when the attempts run out, raise `exhausted(last_error, attempts)`."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except Exception as error:
            if not is_retryable(error):
                raise
            if attempt >= retry.max_attempts:
                raise exhausted(error, attempt) from None
            cap = min(
                retry.max_delay.total_seconds(),
                retry.base_delay.total_seconds() * (2 ** (attempt - 1)),
            )
            sleep(random.uniform(0, cap))  # noqa: S311 - jitter, not cryptography


class RateLimiter:
    """A token bucket shared by a backend's worker threads (writes per second)."""

    def __init__(self, per_second: float, burst: int | None = None) -> None:
        self.per_second = per_second
        self.capacity = float(burst if burst is not None else max(1, int(per_second)))
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Wait until one more call fits under the rate."""
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(
                    self.capacity, self._tokens + (now - self._stamp) * self.per_second
                )
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.per_second
            time.sleep(wait)


class CallRules(Generic[C]):
    """How one kind of store's failures read; a store overrides what differs."""

    vendor = "store"  # names the store in the debug line: "AWS", "Vault"

    def is_retryable(self, error: Exception) -> bool:
        """Whether repeating the call may succeed (throttled, unavailable, cut off)."""
        return False

    def translate(self, error: Exception, call: C) -> CredctlError:
        """The vendor failure as credctl's own error: one line, no value."""
        return BackendError(f"{call} failed ({type(error).__name__})")

    def exhausted(self, error: Exception, attempts: int, call: C) -> BackendError:
        """What to raise when a retryable failure outlasts the attempts."""
        return ThrottledError(
            f"{call}: still throttled or unavailable after {attempts} attempts",
            hint="lower 'concurrency' or 'rate_limit' in the environment file, "
            "or raise 'retry.max_attempts'",
        )

    def outcome(self, error: Exception) -> str:
        """A failure as the debug line names it (a vendor error code, a class name)."""
        return type(error).__name__


class Caller(Generic[C]):
    """One backend's calls: retry, write rate, translation and the debug line."""

    def __init__(self, environment: EnvironmentConfig, rules: CallRules[C]) -> None:
        self.environment = environment
        self.rules = rules
        rate = environment.write_rate
        self.writes = RateLimiter(rate) if rate is not None else None
        self.sleep: Callable[[float], None] = time.sleep

    @overload
    def __call__(self, request: Callable[[], T], call: C, *, write: bool = False) -> T: ...

    @overload
    def __call__(
        self,
        request: Callable[[], T],
        call: C,
        *,
        write: bool = False,
        settled: Callable[[], bool] | None,
    ) -> T | None: ...

    def __call__(
        self,
        request: Callable[[], T],
        call: C,
        *,
        write: bool = False,
        settled: Callable[[], bool] | None = None,
    ) -> T | None:
        """Make one call. `write`: it counts against the write rate. `settled`, for a
        write that is not idempotent by itself: whether the store is already as the
        write leaves it, asked before each repeat (a failed attempt may have landed with
        only its answer lost); if so, no repeat, and the answer is None."""
        rules = self.rules
        attempts = 0

        def attempt() -> T | None:
            nonlocal attempts
            attempts += 1
            if attempts > 1 and settled is not None and settled():
                return None
            if write and self.writes is not None:
                self.writes.acquire()
            return request()

        started = time.perf_counter()
        outcome = "failed"
        try:
            answer = with_retry(
                attempt,
                self.environment.retry,
                is_retryable=rules.is_retryable,
                exhausted=lambda error, tries: rules.exhausted(error, tries, call),
                sleep=self.sleep,
            )
            outcome = "ok"
            return answer
        except CredctlError as error:
            outcome = type(error).__name__
            raise
        except Exception as error:
            outcome = rules.outcome(error)
            raise rules.translate(error, call) from None
        finally:
            # the call's name only: requests and answers carry values
            log.debug(
                "%s: %s %s: %s in %.3f s",
                self.environment.name,
                rules.vendor,
                call,
                outcome,
                time.perf_counter() - started,
            )
