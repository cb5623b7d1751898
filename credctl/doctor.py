"""`credctl doctor`: can each environment's store be reached, and how fast?"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from credctl.backends.pool import Backends
from credctl.errors import AccessDeniedError, AuthError, CredctlError, UnreachableError
from credctl.model import EnvironmentConfig

_STATES: tuple[tuple[type[CredctlError], str], ...] = (
    (UnreachableError, "unreachable"),
    (AuthError, "unauthenticated"),
    (AccessDeniedError, "denied"),
)


@dataclass
class Check:
    environment: str
    backend: str
    where: str
    ok: bool
    state: str  # ok | unreachable | unauthenticated | denied | error
    secrets: int | None
    seconds: float | None
    message: str

    def as_json(self) -> dict[str, object]:
        return {
            "environment": self.environment,
            "backend": self.backend,
            "where": self.where,
            "ok": self.ok,
            "state": self.state,
            "secrets": self.secrets,
            "latency_ms": None if self.seconds is None else round(self.seconds * 1000, 1),
            "message": self.message,
        }


def diagnose(environments: Sequence[EnvironmentConfig], backends: Backends) -> list[Check]:
    """One listing per environment: reachable, authenticated, permitted, latency."""
    checks = []
    for environment in environments:
        kind: str = environment.backend.type
        where = kind
        started = time.perf_counter()
        try:
            backend = backends.get(environment)
            where = backend.describe()
            count = len(backend.list_secrets())
        except CredctlError as error:
            state = next((name for kind_of, name in _STATES if isinstance(error, kind_of)), "error")
            checks.append(
                Check(environment.name, kind, where, False, state, None, None, str(error))
            )
            continue
        elapsed = time.perf_counter() - started
        checks.append(
            Check(
                environment.name,
                kind,
                where,
                True,
                "ok",
                count,
                elapsed,
                f"listed {count} secrets under {environment.prefix!r}",
            )
        )
    return checks
