"""`credctl doctor`: can each environment's store be reached, and how fast?"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from credctl.backends.access import LADDER
from credctl.backends.base import PERMISSIONS, AccessCheck, Backend
from credctl.backends.pool import Backends
from credctl.errors import (
    AccessDeniedError,
    AuthError,
    BackendError,
    CredctlError,
    UnreachableError,
)
from credctl.fanout import each_environment
from credctl.model import EnvironmentConfig
from credctl.progress import Progress, counted
from credctl.render import Styler
from credctl.render.columns import text_table
from credctl.results import Result, pick

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
    commands: dict[str, str] = field(
        default_factory=dict
    )  # command -> ok / denied: … / not checked

    def summary(self) -> str:
        """One line for progress: the state, and how many secrets a listing found."""
        return (
            f"listed {counted(self.secrets, 'secret')}" if self.secrets is not None else self.state
        )

    def as_json(self) -> dict[str, object]:
        return {
            **pick(self, "environment", "backend", "where", "ok", "state", "secrets"),
            "latency_ms": None if self.seconds is None else round(self.seconds * 1000, 1),
            "message": self.message,
            "commands": self.commands,
        }


@dataclass
class Diagnosis(Result):
    """One check per environment; exit 3 when a store cannot serve credctl."""

    checks: list[Check]

    def as_json(self) -> dict[str, Any]:
        return {"checks": [check.as_json() for check in self.checks]}

    def as_text(self, style: Styler) -> str:
        rows = [
            [
                check.environment,
                check.backend,
                check.state,
                "" if check.seconds is None else f"{check.seconds * 1000:.0f} ms",
                check.message,
            ]
            for check in self.checks
        ]
        styles = [["", "", "green" if c.ok else "red", "", ""] for c in self.checks]
        headers = ("ENVIRONMENT", "BACKEND", "STATE", "LATENCY", "DETAIL")
        return text_table(headers, rows, styles, style)

    def exit_code(self) -> int:
        return 0 if all(check.ok for check in self.checks) else BackendError.exit_code


def diagnose(
    environments: Sequence[EnvironmentConfig],
    backends: Backends,
    progress: Progress | None = None,
) -> Diagnosis:
    """One listing per environment: reachable, authenticated, permitted, latency."""
    outcomes = each_environment(
        environments,
        lambda environment: _check(environment, backends),
        progress,
        "checking its store",
        lambda check: check.summary(),
    )
    return Diagnosis([outcome.value for outcome in outcomes if outcome.value is not None])


def _check(environment: EnvironmentConfig, backends: Backends) -> Check:
    """Reach the environment's store with one listing, time it, and ask what it permits."""
    kind: str = environment.backend.type
    where = kind
    started = time.perf_counter()
    try:
        backend = backends.get(environment)
        where = backend.describe()
        count = len(backend.list_secrets())
    except CredctlError as error:
        state = next((name for kind_of, name in _STATES if isinstance(error, kind_of)), "error")
        return Check(environment.name, kind, where, False, state, None, None, str(error))
    elapsed = time.perf_counter() - started
    message = f"listed {count} secrets under {environment.prefix!r}"
    commands = _commands(backend)
    denied = [command for command, verdict in commands.items() if verdict != "ok"]
    if denied and all(commands[c].startswith("denied") for c in denied):
        first = commands[denied[0]]
        message += (
            f"; {_series(denied)} will fail: the token lacks {first.removeprefix('denied: ')}"
            f" (hint: credctl policy --env {environment.name} --for {denied[-1]})"
        )
    state = "limited" if any(v.startswith("denied") for v in commands.values()) else "ok"
    return Check(
        environment.name, kind, where, state == "ok", state, count, elapsed, message, commands
    )


def _commands(backend: Backend) -> dict[str, str]:
    """Per command of the ladder: ok, denied (what is missing), or not checked."""
    if not isinstance(backend, AccessCheck):
        return {command: "not checked" for command in LADDER}
    verdicts = {command: "ok" for command in LADDER}
    for permission, (allowed, what) in backend.permissions().items():
        if allowed:
            continue
        for command in LADDER[LADDER.index(PERMISSIONS[permission]) :]:
            if verdicts[command] == "ok":
                verdicts[command] = f"denied: {what}"
    return verdicts


def _series(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
