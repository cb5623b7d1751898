"""Parity across the environments of one run: which credentials an environment lacks
(`missing-in-environment`, from the table alone), and, only when asked, which environments
hold the same value (`shared-value`).

Values are compared by an HMAC-SHA-256 under a key made at random for the run: the key and
the digests stay in this process and are dropped once each environment's value has a
label ("A", "B": environments with one label hold one value). No value or digest is
returned, printed or stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from credctl.backends.pool import Backends
from credctl.credential import Credential
from credctl.errors import BackendError
from credctl.model import EnvironmentConfig, Finding, Severity, slugify
from credctl.progress import Progress, counted, environment_step
from credctl.project import Project
from credctl.turnover import is_production
from credctl.values import value_reference

# A row's value as the run found it; `no-row`: the table has none in that environment.
State = Literal["present", "no-row", "missing", "deleted", "no-value", "unreadable"]
Key = tuple[str, str]  # (service, credential type), as slugs


def by_credential(
    credentials: Sequence[Credential], environments: Sequence[EnvironmentConfig]
) -> dict[Key, dict[str, Credential]]:
    """Each service's credential of each type: its row in each environment given (by name)."""
    names = {slugify(environment.name): environment.name for environment in environments}
    found: dict[Key, dict[str, Credential]] = {}
    for credential in credentials:
        name = names.get(slugify(credential.environment))
        if name is not None:
            service, credential_type = credential.key[1:]
            found.setdefault((service, credential_type), {})[name] = credential
    return found


def expected(rows: dict[str, Credential], environments: Sequence[EnvironmentConfig]) -> list[str]:
    """Where a credential belongs among `environments`: the union of its rows' Environments
    cells, or every environment when no row narrows it."""
    narrowed = [row.expected_in for row in rows.values() if row.expected_in is not None]
    wanted = frozenset().union(*narrowed) if narrowed else None
    return [e.name for e in environments if wanted is None or slugify(e.name) in wanted]


def missing_in_environments(
    project: Project, environments: Sequence[EnvironmentConfig]
) -> list[Finding]:
    """A credential with rows in some environments of the run and not in others where it
    belongs: one warning per environment that lacks it (none for a run of one environment)."""
    if len(environments) < 2:
        return []
    findings = []
    for (service, credential_type), rows in by_credential(
        project.credentials, environments
    ).items():
        first = min(rows.values(), key=lambda row: row.line)
        present = [name for name in rows]
        for name in expected(rows, environments):
            if name in rows:
                continue
            findings.append(
                Finding(
                    "missing-in-environment",
                    "warning",
                    f"{slugify(name)}/{service}/{credential_type}: {first.service} "
                    f"{first.credential_type} has a row in {', '.join(present)} but none in "
                    f"{name} (add its row, or list where it belongs in the Environments column)",
                    f"{slugify(name)}/{service}/{credential_type}",
                    first.file,
                    first.line,
                )
            )
    return findings


@dataclass
class Side:
    """One environment's side of a credential: its row, its state, and which value it holds."""

    state: State
    credential: Credential | None = None
    value: str | None = None  # the label of its value ("A"); None when nothing was read
    reason: str | None = None  # why it could not be read (never the value)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.credential.id if self.credential is not None else None,
            "state": self.state,
            "value": self.value,
            "reason": self.reason,
        }


@dataclass
class Compared:
    """One service's credential of one type across the environments compared."""

    service: str
    credential_type: str
    key: Key
    sides: dict[str, Side]  # environment name -> its side, in the order compared

    @property
    def id(self) -> str:
        return "/".join(self.key)

    @property
    def values(self) -> str | None:
        """`same`, `different`, `partly-same` (some environments share one, three or more
        compared), or None when fewer than two environments had a value to compare."""
        labels = [side.value for side in self.sides.values() if side.value is not None]
        if len(labels) < 2:
            return None
        distinct = len(set(labels))
        if distinct == 1:
            return "same"
        return "different" if distinct == len(labels) else "partly-same"

    def sharing(self) -> list[list[str]]:
        """The groups of environments (two or more) whose secret rows hold one value."""
        groups: dict[str, list[str]] = {}
        for name, side in self.sides.items():
            row = side.credential
            if side.value is not None and row is not None and not row.is_config:
                groups.setdefault(side.value, []).append(name)
        return [names for names in groups.values() if len(names) > 1]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "service": self.service,
            "credential_type": self.credential_type,
            "environments": {name: side.as_json() for name, side in self.sides.items()},
            "values": self.values,
        }


@dataclass
class Comparison:
    """What comparing the environments' values found: labels and states, never a value."""

    environments: list[str]
    credentials: list[Compared] = field(default_factory=list)

    def findings(self) -> dict[str, list[Finding]]:
        """`shared-value` findings by credential id: an error when a production environment
        is one of those sharing, else a warning."""
        found: dict[str, list[Finding]] = {}
        for compared in self.credentials:
            for names in compared.sharing():
                severity: Severity = (
                    "error" if any(is_production(name) for name in names) else "warning"
                )
                for name in names:
                    row = compared.sides[name].credential
                    assert row is not None
                    others = [compared.sides[other].credential for other in names if other != name]
                    found.setdefault(row.id, []).append(
                        Finding(
                            "shared-value",
                            severity,
                            f"{row.id} holds the same value as "
                            f"{', '.join(other.id for other in others if other is not None)} "
                            "(compared by keyed hash): a leak of one is a leak of all; give it "
                            f"a value of its own with 'credctl rotate {row.id}'",
                            row.id,
                            row.file,
                            row.line,
                        )
                    )
        return found


def compare_values(
    project: Project,
    environments: Sequence[EnvironmentConfig],
    states: dict[str, State],
    backends: Backends,
    progress: Progress | None = None,
) -> Comparison:
    """Read the current value of every row whose state is `present` (by credential id) in
    the environments given, and label which environments hold the same value."""
    key = secrets.token_bytes(32)
    digests: dict[str, bytes] = {}  # credential id -> keyed hash of its value
    reasons: dict[str, str] = {}
    for environment in environments:
        present = [
            credential
            for credential in project.credentials_in(environment)
            if states.get(credential.id) == "present"
        ]
        for credential in present:
            if credential.is_config:
                digests[credential.id] = _digest(key, credential.literal)
        secret_rows = [credential for credential in present if not credential.is_config]
        if not secret_rows:
            continue
        refs = {row.id: value_reference(project, row, environment) for row in secret_rows}
        with environment_step(
            progress, environment.name, f"reading {counted(len(refs), 'value')} to compare"
        ) as step:
            results = backends.get(environment).read_values(list(refs.values()))
            step.outcome = f"compared {counted(len(results), 'value')}"
        for credential_id, ref in refs.items():
            result = results.get(ref)
            if isinstance(result, BackendError) or result is None:
                reasons[credential_id] = str(result) if result is not None else "not read"
            else:
                digests[credential_id] = _digest(key, result.reveal())
    comparison = Comparison([environment.name for environment in environments])
    for (service, credential_type), rows in sorted(
        by_credential(project.credentials, environments).items()
    ):
        labels: dict[bytes, str] = {}
        sides: dict[str, Side] = {}
        for environment in environments:
            row = rows.get(environment.name)
            if row is None:
                sides[environment.name] = Side("no-row")
                continue
            digest = digests.get(row.id)
            if digest is None:
                reason = reasons.get(row.id)
                state = states.get(row.id, "missing")
                sides[environment.name] = Side("unreadable" if reason else state, row, None, reason)
                continue
            label = labels.setdefault(digest, chr(ord("A") + len(labels)))
            sides[environment.name] = Side("present", row, label)
        first = min(rows.values(), key=lambda row: row.line)
        comparison.credentials.append(
            Compared(first.service, first.credential_type, (service, credential_type), sides)
        )
    return comparison


def _digest(key: bytes, value: str) -> bytes:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).digest()
