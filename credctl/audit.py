"""Audit: what each credential's row, policy and store say, and the findings."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from credctl import __version__, clock
from credctl.backends.base import Backend
from credctl.backends.pool import Backends
from credctl.credential import Credential
from credctl.errors import CredctlError, Problem, UsageError
from credctl.evidence import Population, input_digests, inputs_digest
from credctl.expiry import effective_expiry, escalated, expiry_finding, expiry_sync
from credctl.fanout import Outcome, each_listing, not_reached
from credctl.lifecycle import deleted_hint, deleted_message, external_missing
from credctl.model import (
    META_OWNER,
    META_ROTATED_BY,
    META_SCHEDULE,
    EffectivePolicy,
    EnvironmentConfig,
    Finding,
    SecretInfo,
    Severity,
    Status,
)
from credctl.owners import OwnersFile, load_owners
from credctl.parity import Comparison, State, compare_values, missing_in_environments
from credctl.policy import FINDING_PROBLEMS, refuse_invalid, schedule_warning
from credctl.progress import Progress
from credctl.project import Project
from credctl.render import FORECAST_FORMATS, FORMATS, RenderOptions, Styler, render
from credctl.results import Result
from credctl.schedule import days, format_timestamp, parse_schedule
from credctl.turnover import turnover_findings

log = logging.getLogger("credctl")
# A date up to this far ahead of this machine's clock is another machine's clock, not an error.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass
class CredentialStatus:
    """One audited credential: its row, what the store says, and the verdict."""

    credential: Credential
    reference: str
    status: Status
    findings: list[Finding] = field(default_factory=list)
    last_rotated: datetime | None = None
    rotated_by: str | None = None
    age_days: int | None = None
    max_age_days: int | None = None
    due_on: datetime | None = None  # the earlier of its schedule's and its expiry
    secret: bool = True
    expires_on: datetime | None = None  # the provider's expiry of its current value

    @property
    def id(self) -> str:
        return self.credential.id

    @property
    def env_var(self) -> str:
        return self.credential.variable


@dataclass
class AuditReport:
    generated_at: datetime
    credentials: list[CredentialStatus]
    findings: list[Finding] = field(default_factory=list)
    # the project folder inside its git repository ("services/pay/"), for CI annotations
    source_root: str = ""
    # the moment ages and due dates were evaluated at, when not when it ran (--as-of)
    as_of: datetime | None = None
    # evidence: the inputs' digests and each store's population
    inputs: dict[str, str] = field(default_factory=dict)
    population: list[Population] = field(default_factory=list)
    # environments whose store failed: not in the population, their rows left out
    unreached: list[Unreached] = field(default_factory=list)
    # the environments' values, compared (`audit --compare-values`, `diff`); None: not read
    comparison: Comparison | None = None

    def evidence(self) -> dict[str, Any]:
        """What produced the report, from which inputs, over which population."""
        return {
            "tool": "credctl",
            "version": __version__,
            "generated_at": format_timestamp(self.generated_at),
            "as_of": format_timestamp(self.evaluated_at),
            "inputs_sha256": inputs_digest(self.inputs),
            "inputs": self.inputs,
            "population": [share.as_json() for share in self.population],
            "unreached": [environment.as_json() for environment in self.unreached],
            "compared_values": self.comparison is not None,
        }

    @property
    def evaluated_at(self) -> datetime:
        """The moment the findings hold for: `as_of`, else when the report was made."""
        return self.as_of or self.generated_at

    def summary(self) -> dict[str, int]:
        counts = {"error": 0, "warning": 0, "info": 0}
        for finding in self.findings:
            counts[finding.severity] += 1
        return counts


def repository_prefix(folder: Path) -> str:
    """Where `folder` sits in the git repository around it ("" at its top, or none)."""
    resolved = folder.resolve()
    for candidate in (resolved, *resolved.parents):
        if (candidate / ".git").exists():
            inner = resolved.relative_to(candidate).as_posix()
            return "" if inner == "." else inner + "/"
    return ""


HIDDEN_LITERAL = "(literal hidden: it looks like a secret)"


def run_audit(
    project: Project,
    environments: Sequence[EnvironmentConfig],
    backends: Backends,
    as_of: datetime | None = None,
    progress: Progress | None = None,
    compare: bool = False,
) -> AuditReport:
    """Audit the chosen environments as of now (or `as_of`): one listing per store, no value
    read unless `compare` (then each row's value is read to find values environments share)."""
    generated_at = clock.now()
    now = as_of or generated_at
    # a date after both the moment evaluated (--as-of) and the real now is one no rotation has
    future_after = max(now, generated_at) + CLOCK_SKEW
    problems = project.problems()
    refuse_invalid(problems)
    row_problems: dict[int, list[Problem]] = {}
    for problem in problems:
        row_problems.setdefault(problem.line or 0, []).append(problem)
    owners = load_owners(project.root)
    report = AuditReport(
        generated_at=generated_at,
        credentials=[],
        source_root=repository_prefix(project.root),
        as_of=as_of,
        inputs=input_digests(project),
    )
    rows = {environment.name: project.credentials_in(environment) for environment in environments}

    def listed(environment: EnvironmentConfig) -> _Listed:
        backend = backends.get(environment)
        started = time.perf_counter()
        listing = {info.name: info for info in backend.list_secrets()}
        seconds = time.perf_counter() - started
        external = _external_secrets(rows[environment.name], environment, backend)
        return _Listed(backend, listing, external, seconds)

    def audited(outcome: Outcome[_Listed]) -> None:
        """One environment's rows, audited once its listing line is shown: the stores of
        the environments after it answer meanwhile."""
        environment = outcome.environment
        if outcome.value is None:
            assert outcome.error is not None
            _unreached(report, environment, outcome.error)
            return
        log.info(
            "%s: listed %d secrets in %s in %.2f s",
            environment.name,
            len(outcome.value.listing),
            outcome.value.backend.describe(),
            outcome.value.seconds,
        )
        credentials = rows[environment.name]
        backend, listing = outcome.value.backend, outcome.value.listing
        known = {**listing, **outcome.value.external}
        matched: set[str] = set()
        share = Population(environment.name, backend.describe(), listed=len(listing))
        report.population.append(share)
        for credential in credentials:
            status = _audit_row(
                credential, environment, backend, known, matched, project, now, future_after, owners
            )
            share.count(status)
            for problem in row_problems.get(credential.line, []):
                status.findings.append(
                    Finding(
                        problem.code,
                        FINDING_PROBLEMS[problem.code],
                        problem.message,
                        credential.id,
                        credential.file,
                        credential.line,
                    )
                )
            if any(f.code == "literal-secret-in-table" for f in status.findings):
                # The table holds what may be a secret: no report may repeat it.
                status.reference = HIDDEN_LITERAL
            report.credentials.append(status)
            report.findings.extend(status.findings)
        share.matched = len(matched & set(listing))
        for name, info in sorted(listing.items()):
            if name in matched:
                continue
            if info.deleted:
                share.deleted += 1
                continue
            if info.managed:
                share.orphans += 1
                report.findings.append(
                    Finding(
                        "orphan",
                        "warning",
                        f"{info.reference} is managed by credctl but no row of "
                        f"{project.table.display} names it (add a row, or 'credctl sync --prune')",
                        None,
                        project.table.display,
                        None,
                    )
                )
            else:
                share.unmanaged += 1
                report.findings.append(
                    Finding(
                        "unmanaged",
                        "info",
                        f"{info.reference} is under the {environment.name} prefix but not "
                        "managed by credctl (adopt it with 'credctl import')",
                        None,
                        project.table.display,
                        None,
                    )
                )

    outcomes = each_listing(environments, listed, progress, then=audited)
    report.findings.extend(missing_in_environments(project, environments))
    if compare:
        reached = [outcome.environment for outcome in outcomes if outcome.value is not None]
        _compare_values(report, project, reached, backends, progress)
    return report


@dataclass
class _Listed:
    """What one environment's store said: its listing and the rows' secrets outside it."""

    backend: Backend
    listing: dict[str, SecretInfo]
    external: dict[str, SecretInfo]
    seconds: float  # how long the listing took


@dataclass
class Unreached:
    """An environment whose store failed: its rows are not in the report."""

    environment: str
    store: str
    error: CredctlError

    def as_json(self) -> dict[str, str]:
        return {"environment": self.environment, "store": self.store, "error": str(self.error)}


def _unreached(report: AuditReport, environment: EnvironmentConfig, error: CredctlError) -> None:
    """An environment the audit could not list: an error finding, and the evidence says so."""
    store = environment.backend.store_label()
    report.unreached.append(Unreached(environment.name, store, error))
    report.findings.append(
        Finding(
            "unreached",
            "error",
            f"environment {environment.name}: {store} was not reached, so its rows are not "
            f"in this report: {error} (check it with 'credctl doctor --env {environment.name}')",
            None,
            f"environments/{environment.name}.yaml",
            None,
        )
    )


def _compare_values(
    report: AuditReport,
    project: Project,
    environments: Sequence[EnvironmentConfig],
    backends: Backends,
    progress: Progress | None,
) -> None:
    """Read the rows' values and add `shared-value` findings to the rows that share one."""
    states: dict[str, State] = {}
    for status in report.credentials:
        held: State = "present"
        if status.status in ("missing", "deleted"):
            held = "missing" if status.status == "missing" else "deleted"
        elif any(finding.code == "no-value" for finding in status.findings):
            held = "no-value"
        states[status.id] = held
    report.comparison = compare_values(project, environments, states, backends, progress)
    shared = report.comparison.findings()
    for status in report.credentials:
        status.findings.extend(shared.get(status.id, []))
        report.findings.extend(shared.get(status.id, []))


def _external_secrets(
    credentials: Sequence[Credential], environment: EnvironmentConfig, backend: Backend
) -> dict[str, SecretInfo]:
    """What the store says of the rows' secrets outside the prefix, which its listing
    leaves out: one metadata read each (`concurrency` at a time)."""
    names = sorted(
        {credential.target(environment)[0] for credential in credentials if credential.external}
    )
    if not names:
        return {}
    return {name: info for name, info in backend.describe_secrets(names).items() if info}


def _audit_row(
    credential: Credential,
    environment: EnvironmentConfig,
    backend: Backend,
    listing: dict[str, SecretInfo],
    matched: set[str],
    project: Project,
    now: datetime,
    future_after: datetime,
    owners: OwnersFile,
) -> CredentialStatus:
    """One row's status and findings; a date after `future_after` is one no rotation has."""
    effective = credential.policy
    findings: list[Finding] = []
    # a date after both the moment evaluated (--as-of) and the real now is one no rotation has

    def finding(code: str, severity: Severity, message: str) -> None:
        findings.append(
            Finding(code, severity, message, credential.id, credential.file, credential.line)
        )

    max_age_days = days(effective.max_age)
    schedule_problem = schedule_warning(credential, effective)
    if schedule_problem is not None:
        finding("schedule-exceeds-policy", "warning", schedule_problem)
    if credential.is_config:
        return CredentialStatus(credential, credential.reference, "ok", findings, secret=False)
    name, field_name = credential.target(environment)
    matched.add(name)
    reference = backend.reference(name, field_name)
    listed = listing.get(name)
    info = None if listed is None else listed.for_field(field_name)
    table_last_rotated = credential.rotated_on
    if table_last_rotated is not None and table_last_rotated > future_after:
        finding(
            "future-date",
            "error",
            f"{credential.id}: the table's Last Rotated {table_last_rotated:%Y-%m-%d} is in the future "
            "(write the store's date back with 'credctl sync')",
        )
    if info is None or info.deleted:
        if info is not None:
            finding(
                "deleted",
                "error" if info.managed or not credential.external else "warning",
                f"{deleted_message(credential, reference, backend.describe(), info)} "
                f"({deleted_hint(credential, environment, info)})",
            )
        elif credential.external:
            finding(
                "missing-in-backend",
                "error",
                external_missing(credential, reference, backend.describe(), environment),
            )
        else:
            finding(
                "missing-in-backend",
                "error",
                f"{credential.id}: {reference} does not exist in {backend.describe()} "
                "(create it with 'credctl sync')",
            )
        return CredentialStatus(
            credential,
            reference,
            "missing" if info is None else "deleted",
            findings,
            last_rotated=table_last_rotated,
            max_age_days=max_age_days,
        )
    if not info.has_value:
        finding(
            "no-value",
            "warning",
            f"{credential.id}: {reference} has no value yet (set it with 'credctl set {credential.id}')",
        )
    elif environment.backend_type.records_reads:
        _unused(credential, info, now, finding)
    rotated_on = info.last_rotated
    if rotated_on is not None and rotated_on > future_after:
        # A date no rotation can have: trust the store's own record of the secret instead.
        finding(
            "future-date",
            "error",
            f"{credential.id}: the store's last-rotated {rotated_on:%Y-%m-%d} is in the future; aged "
            f"from the secret's creation instead (record a true date: 'credctl rotate {credential.id}')",
        )
        rotated_on = None
    status, age_days, due_on = _age(info, rotated_on, effective, now, future_after)
    if status == "overdue":
        finding(
            "overdue",
            "error",
            f"{credential.id}: last rotated {age_days} days ago, max age {max_age_days} days "
            f"(was due {due_on:%Y-%m-%d})"
            if due_on
            else f"{credential.id} is overdue",
        )
    elif status == "due-soon":
        finding(
            "due-soon",
            "warning",
            f"{credential.id}: due for rotation on {due_on:%Y-%m-%d} ({age_days} of {max_age_days} days)"
            if due_on
            else f"{credential.id} is due soon",
        )
    expires_on = effective_expiry(credential, info)
    expiring = expiry_finding(credential, expires_on, effective.warn_before, now)
    if expiring is not None:
        finding(*expiring)
        status = escalated(status, expiring[1])
    due_on = _earlier(due_on, expires_on)
    for turnover in turnover_findings(credential, info, owners, now):
        # rotation upon team changes: due now, whatever the schedule says
        finding(turnover.code, turnover.severity, turnover.message)
        status = escalated(status, turnover.severity)
        due_on = _earlier(due_on, turnover.due_on)
    if info.last_rotated is None:  # not when its date is in the future: that is its finding
        finding(
            "never-rotated",
            "warning",
            f"{credential.id}: never rotated (aged from its creation, {age_days} days ago)",
        )
    outside = info.changed_outside
    if outside is not None and outside <= future_after:
        recorded = info.recorded_rotation
        # sync puts no record of another tool's change on another system's secret
        fix = (
            "'credctl sync' writes it to the table; on an external secret credctl records "
            "only its own rotations"
            if credential.external
            else "'credctl sync' records it in the store and the table"
        )
        finding(
            "changed-outside",
            "info",
            f"{credential.id}: its value was changed outside credctl on {outside:%Y-%m-%d} "
            f"(version {info.current_version}; credctl's last rotation: "
            f"{f'{recorded:%Y-%m-%d}' if recorded else 'never'}); aged from that date ({fix})",
        )
    _pending_findings(credential, info, environment, now, finding)
    _drift(credential, info, reference, table_last_rotated, finding, project)
    return CredentialStatus(
        credential,
        reference,
        status,
        findings,
        last_rotated=info.last_rotated,
        rotated_by=None if outside is not None else info.own(META_ROTATED_BY),
        age_days=age_days,
        max_age_days=max_age_days,
        due_on=due_on,
        expires_on=expires_on,
    )


def _earlier(due_on: datetime | None, other: datetime | None) -> datetime | None:
    """The earlier of a due date and another deadline (an expiry, a team change)."""
    return min((moment for moment in (due_on, other) if moment is not None), default=None)


def _pending_findings(
    credential: Credential,
    info: SecretInfo,
    environment: EnvironmentConfig,
    now: datetime,
    finding: Callable[[str, Severity, str], None],
) -> None:
    """A staged value that has waited longer than the lock timeout, aged by its own
    creation: credctl's (to resume or abort), or another tool's (to leave alone)."""
    pending = info.own_pending
    if pending is None:
        return
    waited = None if pending.created is None else now - pending.created
    if waited is not None and waited <= environment.lock_timeout:
        return
    timeout = days(environment.lock_timeout) or environment.lock_timeout
    if pending.foreign:
        since = (
            f"since {pending.created:%Y-%m-%d %H:%M} UTC, {_waited(waited)}"
            if pending.created is not None and waited is not None
            else "since a time the store does not say"
        )
        finding(
            "foreign-pending",
            "warning",
            f"{credential.id}: a pending version that credctl did not stage (an AWS rotation "
            f"function's?) has waited {since}; credctl leaves it alone (find out which tool "
            f"staged it; if nothing will finish it: 'credctl rotate {credential.id} --abort "
            "--force')",
        )
        return
    finding(
        "rotation-in-progress",
        "warning",
        f"{credential.id}: a pending value has waited longer than the lock timeout "
        f"({timeout}); resume with 'credctl rotate' or discard with 'credctl rotate --abort'",
    )


def _unused(
    credential: Credential,
    info: SecretInfo,
    now: datetime,
    finding: Callable[[str, Severity, str], None],
) -> None:
    """Not read for `unused_after`, by the store's record of its last read (AWS
    LastAccessedDate); one never read is aged from its creation."""
    after = credential.policy.unused_after
    since = info.last_read or info.created
    if after is None or since is None or now - since < after:
        return
    read = (
        f"last read on {since:%Y-%m-%d}"
        if info.last_read is not None
        else f"never read since its creation on {since:%Y-%m-%d}"
    )
    finding(
        "unused",
        "warning",
        f"{credential.id}: {read}, {(now - since).days} days ago (unused after "
        f"{days(after)} days). Nothing needs it? Remove its row, then 'credctl sync --prune "
        f"--env {credential.environment}' schedules its deletion (recoverable); kept for rare "
        "use? give its type 'unused_after: never' in policies/",
    )


def _waited(waited: timedelta) -> str:
    hours = int(waited.total_seconds() // 3600)
    return f"{hours // 24} days" if hours >= 48 else f"{hours} hours"


def _age(
    info: SecretInfo,
    rotated_on: datetime | None,
    effective: EffectivePolicy,
    now: datetime,
    future_after: datetime,
) -> tuple[Status, int | None, datetime | None]:
    """Status, age and due date from the last rotation, else the secret's creation."""
    since = rotated_on or _store_date(info, future_after)
    if since is None:
        return "unknown", None, None
    age_days = max(0, (now - since).days)
    if effective.max_age is None:
        return ("never-rotated" if rotated_on is None else "ok"), age_days, None
    due_on = since + effective.max_age
    if now >= due_on:
        return "overdue", age_days, due_on
    if now >= due_on - effective.warn_before:
        return "due-soon", age_days, due_on
    return ("never-rotated" if rotated_on is None else "ok"), age_days, due_on


def _store_date(info: SecretInfo, future_after: datetime) -> datetime | None:
    """The store's own record of the secret: created, else last updated (never a future one)."""
    for moment in (info.created, info.updated):
        if moment is not None and moment <= future_after:
            return moment
    return None


def _drift(
    credential: Credential,
    info: SecretInfo,
    reference: str,
    table_last_rotated: datetime | None,
    finding: Callable[[str, Severity, str], None],
    project: Project,
) -> None:
    store_expiry, table_expiry = expiry_sync(credential, info, project.table.has_column("expires"))
    store_date = info.last_rotated.date() if info.last_rotated else None
    table_date = table_last_rotated.date() if table_last_rotated else None
    drifted = []
    if store_date != table_date:
        drifted.append(
            f"Last Rotated (table {table_date or 'never'}, store {store_date or 'never'})"
        )
    if credential.reference.strip() != reference:
        drifted.append("Value/Reference" + (" (empty)" if not credential.reference.strip() else ""))
    if table_expiry:
        drifted.append(f"Expires (empty, store {table_expiry['expires']})")
    if drifted:
        finding(
            "table-drift",
            "warning",
            f"{credential.id}: the table's {' and '.join(drifted)} differs from the store "
            "('credctl sync' writes the store's truth back)",
        )
    if credential.external:
        return  # another system's secret: credctl keeps no owner or schedule on it
    store_owner = info.own(META_OWNER)
    store_schedule = info.own(META_SCHEDULE)
    metadata_drift = []
    if store_owner is not None and store_owner != credential.owner:
        metadata_drift.append("owner")
    if store_schedule is not None and not _same_schedule(store_schedule, credential):
        metadata_drift.append("schedule")
    if store_expiry:
        metadata_drift.append("expiry")
    if metadata_drift:
        finding(
            "metadata-drift",
            "warning",
            f"{credential.id}: the store's {' and '.join(metadata_drift)} differs from the table "
            "('credctl sync' updates the store)",
        )


def _same_schedule(stored: str, credential: Credential) -> bool:
    """The store's `credctl:schedule` says what the row's schedule says (90d = quarterly)."""
    try:
        return "schedule" not in credential.errors and parse_schedule(stored) == credential.every
    except ValueError:
        return stored.strip() == credential.schedule.strip()


FAIL_LEVELS = ("error", "warning", "never")


def fail_level_reached(report: AuditReport, fail_on: str) -> bool:
    summary = report.summary()
    if fail_on == "never":
        return False
    if fail_on == "warning":
        return summary["error"] + summary["warning"] > 0
    return summary["error"] > 0


@dataclass
class ReportResult(Result):
    """An audit or status report as a command prints it: any report format, grouped."""

    report: AuditReport
    command: str = "audit"  # or "status" (no findings listed)
    by: str | None = None
    fail_on: str = "never"
    forecast: bool = False  # status --forecast
    formats = FORMATS
    sealed = True

    def render(self, fmt: str, style: Styler) -> str | Iterator[str]:
        if self.forecast and fmt not in FORECAST_FORMATS:
            raise UsageError(
                f"--forecast is shown in the {', '.join(FORECAST_FORMATS)} formats, not {fmt}"
            )
        options = RenderOptions(self.command, style, self.by, self.forecast)
        return render(self.report, fmt, options)

    def exit_code(self) -> int:
        return 1 if fail_level_reached(self.report, self.fail_on) else 0

    def failure(self, fmt: str) -> CredctlError | None:
        """Exit 3 when a store was not reached: the report covers the others only."""
        failed = [(u.environment, u.error) for u in self.report.unreached]
        return not_reached(failed, len(self.report.population), "reported")
