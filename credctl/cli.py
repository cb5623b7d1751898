"""The command line: options in, one library call, output out. Click lives only here.

Library modules are imported inside the commands so that `credctl --help`
starts without pydantic, boto3 or hvac.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from credctl import __version__, clock
from credctl.envfile import DEFAULT_FORMAT, ENV_FORMATS
from credctl.errors import ConfigError, CredctlError, UsageError
from credctl.render import FORMATS, RENDERERS

if TYPE_CHECKING:
    from credctl.audit import Backends
    from credctl.project import Project
    from credctl.secret import Secret

F = TypeVar("F", bound=Callable[..., Any])


class State:
    """Options every command shares, gathered from the group and the command."""

    def __init__(self) -> None:
        self.project_dir: Path | None = None
        self.table: str | None = None
        self.debug = False
        self.quiet = False
        self.verbose = 0
        self.no_color = False
        self._project: Project | None = None

    @property
    def color(self) -> bool:
        return not self.no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()

    def style(self, text: str, colour: str) -> str:
        return click.style(text, fg=colour) if self.color else text

    def project(self, **settings: Any) -> Project:
        if self._project is None:
            from credctl.project import load_project
            from credctl.settings import load_settings

            self._project = load_project(
                load_settings(self.project_dir, table=self.table, **settings)
            )
            logging.getLogger("credctl").debug(
                "project %s: %d credentials in %s; environments %s",
                self._project.root,
                len(self._project.rows),
                self._project.table.display,
                ", ".join(sorted(self._project.environments)) or "none",
            )
        return self._project

    def say(self, text: str) -> None:
        if not self.quiet:
            click.echo(text, err=True)


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(context: click.Context, parameter: click.Parameter, value: Any) -> Any:
        state = context.ensure_object(State)
        if value not in (None, False, 0):
            setattr(state, name, value)
            if name in ("quiet", "verbose"):
                _log_level(state)
        return value

    return callback


class _StderrHandler(logging.Handler):
    """The library's log lines as `warning: …`, `info: …` on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)
        except Exception:  # a log line must never take the command down
            self.handleError(record)


def _install_log_handler() -> None:
    logger = logging.getLogger("credctl")
    if not any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
        logger.addHandler(_StderrHandler())
        logger.propagate = False
    logger.setLevel(logging.WARNING)


def _log_level(state: State) -> None:
    """-q: errors only; default: warnings; -v: what was read and how long it took; -vv: debug."""
    if state.quiet:
        level = logging.ERROR
    else:
        level = {0: logging.WARNING, 1: logging.INFO}.get(state.verbose, logging.DEBUG)
    logging.getLogger("credctl").setLevel(level)


def common_options(function: F) -> F:
    """-q, -v, --no-color, --debug, --project-dir: on the group and on every command."""
    options = [
        click.option(
            "--project-dir",
            type=click.Path(path_type=Path, file_okay=False),
            expose_value=False,
            callback=_store("project_dir"),
            help="Project folder (default: nearest folder with environments/).",
        ),
        click.option(
            "--table",
            expose_value=False,
            callback=_store("table"),
            help="Reference table path (default: credentials.md).",
        ),
        click.option(
            "-q",
            "--quiet",
            is_flag=True,
            expose_value=False,
            callback=_store("quiet"),
            help="Print only errors and data.",
        ),
        click.option(
            "-v",
            "--verbose",
            count=True,
            expose_value=False,
            callback=_store("verbose"),
            help="Say more.",
        ),
        click.option(
            "--no-color",
            is_flag=True,
            expose_value=False,
            callback=_store("no_color"),
            help="No colours (NO_COLOR is honoured too).",
        ),
        click.option(
            "--debug",
            is_flag=True,
            expose_value=False,
            callback=_store("debug"),
            help="Show tracebacks.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def env_option(function: F) -> F:
    return click.option(
        "--env",
        "environments",
        multiple=True,
        metavar="NAME",
        help="Environment (repeatable; default: all).",
    )(function)


def format_option(*choices: str, default: str = "table") -> Callable[[F], F]:
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default=None,
        help=f"Output format (default: {default}).",
    )


def output_option(function: F) -> F:
    return click.option(
        "-o",
        "--output",
        type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
        default=None,
        help="Write to FILE atomically instead of standard output.",
    )(function)


def selection_options(function: F) -> F:
    """Which credentials go into an env file or a command's environment."""
    options = [
        click.option(
            "--service", "services", multiple=True, help="Only this service (repeatable)."
        ),
        click.option(
            "--type", "types", multiple=True, help="Only this credential type (repeatable)."
        ),
        click.option(
            "--only", "only", multiple=True, metavar="NAME", help="Only this variable (repeatable)."
        ),
        click.option(
            "--include-config/--no-include-config",
            default=True,
            show_default=True,
            help="Include literal configuration rows (redirect URIs, client IDs).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _moment(context: click.Context, parameter: click.Parameter, value: str | None) -> Any:
    """An ISO date (the end of that day, UTC) or date-time (UTC unless it says otherwise)."""
    if value is None:
        return None
    from datetime import timedelta

    from credctl.schedule import parse_timestamp

    try:
        moment = parse_timestamp(value)
    except ValueError:
        moment = None
    if moment is None:
        raise click.BadParameter(f"{value!r} is not an ISO date or date-time (e.g. 2027-03-31)")
    if len(value.strip()) == 10:  # a day: findings as they stand at its end
        moment += timedelta(days=1, seconds=-1)
    return moment


def as_of_option(function: F) -> F:
    return click.option(
        "--as-of",
        metavar="DATE|DATETIME",
        callback=_moment,
        default=None,
        help="Evaluate ages, due dates and findings as of this moment (a date means its end, "
        "UTC); nothing is changed.",
    )(function)


def actor_option(function: F) -> F:
    return click.option(
        "--actor", help="Who is doing this (default: CREDCTL_ACTOR, the CI's actor, the OS user)."
    )(function)


pass_state = click.make_pass_decorator(State, ensure=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="credctl")
@common_options
def cli() -> None:
    """Keep your credentials reference table true: sync, rotate, audit, env files."""


# ------------------------------------------------------------------ helpers


def _format(state: State, chosen: str | None, default: str = "table") -> str:
    if chosen:
        return chosen
    configured = state.project().settings.format
    return configured or default


def _emit(state: State, text: str | Iterable[str], output: Path | None) -> None:
    """Print, or write atomically to `output`; `text` may come in chunks (large JSON)."""
    chunks = [text] if isinstance(text, str) else text
    if output is None or str(output) == "-":
        for chunk in chunks:
            click.echo(chunk, nl=False)
        return
    _write_file(output, chunks, 0o644)
    state.say(f"wrote {_shown(output)}")


def _write_file(path: Path, text: str | Iterable[str], mode: int) -> None:
    from credctl.fsutil import write_atomic

    try:
        write_atomic(path, text, mode=mode)
    except OSError as error:
        raise UsageError(f"cannot write {_shown(path)}: {error.strerror}") from None


def _shown(path: Path) -> str:
    """A path as the user would write it: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _backends(project: Project) -> Backends:
    from credctl.audit import Backends

    return Backends(project)


# ----------------------------------------------------------------- commands


@cli.command()
@common_options
@pass_state
def init(state: State) -> None:
    """Scaffold credentials.md, environments/, policies/ and .gitignore entries."""
    from credctl.scaffold import scaffold

    folder = state.project_dir or Path.cwd()
    for line in scaffold(folder):
        state.say(line)


@cli.command()
@env_option
@format_option("table", "json")
@common_options
@pass_state
def validate(state: State, environments: tuple[str, ...], output_format: str | None) -> None:
    """Check table, environments and policies; every problem with file:line. No network."""
    import json

    project = state.project()
    for name in environments:
        project.environment(name)
    problems = project.problems()
    warnings = _schedule_warnings(project)
    if (output_format or "table") == "json":
        click.echo(
            json.dumps(
                {
                    "schema_version": 1,
                    "valid": not problems,
                    "problems": [
                        {"file": p.file, "line": p.line, "code": p.code, "message": p.message}
                        for p in problems
                    ],
                    "warnings": warnings,
                },
                indent=2,
            )
        )
        if problems:
            sys.exit(2)
        return
    if problems:
        raise ConfigError(problems)
    for warning in warnings:
        state.say(f"warning: {warning}")
    state.say(
        f"OK: {len(project.rows)} credentials, {len(project.environments)} environments "
        f"({', '.join(sorted(project.environments))}), {len(project.policy.credential_types)} "
        f"credential types in {project.table.display}"
    )


def _schedule_warnings(project: Project) -> list[str]:
    warnings = []
    for row in project.rows:
        if (
            project.policy.type_policy(row.credential_type)
            and project.policy.effective(row).schedule_exceeds_policy
        ):
            warnings.append(
                f"{row.file}:{row.line}: {row.id}: schedule {row.schedule!r} is longer than "
                "policy allows (the policy's maximum applies)"
            )
    return warnings


def by_option(function: F) -> F:
    return click.option(
        "--by",
        type=click.Choice(["owner", "environment", "service"]),
        default=None,
        help="Group the report by owner, environment or service.",
    )(function)


def _report(
    state: State,
    environments: tuple[str, ...],
    output_format: str | None,
    output: Path | None,
    by: str | None,
    command: str,
    as_of: datetime | None,
) -> Any:
    from credctl.audit import run_audit
    from credctl.render import RenderOptions, plain, render

    project = state.project()
    backends = _backends(project)
    try:
        result = run_audit(project, project.select(environments), backends, as_of=as_of)
    finally:
        backends.close()
    fmt = _format(state, output_format)
    if RENDERERS[fmt].page and (output is None or str(output) == "-") and sys.stdout.isatty():
        raise UsageError("the HTML report is a file: pass -o report.html")
    options = RenderOptions(command, state.style if output is None else plain, by)
    _emit(state, render(result, fmt, options), output)
    return result


@cli.command()
@env_option
@format_option(*FORMATS)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "never"]),
    default="error",
    show_default=True,
    help="Exit 1 when findings reach this severity.",
)
@by_option
@as_of_option
@output_option
@common_options
@pass_state
def audit(
    state: State,
    environments: tuple[str, ...],
    output_format: str | None,
    fail_on: str,
    by: str | None,
    as_of: datetime | None,
    output: Path | None,
) -> None:
    """Findings per credential: owner, last rotated, age, max age, due date, status.

    Formats for CI: junit, sarif (code scanning), github (annotations).
    """
    from credctl.audit import fail_level_reached

    result = _report(state, environments, output_format, output, by, "audit", as_of)
    if fail_level_reached(result, fail_on):
        sys.exit(1)


@cli.command()
@env_option
@format_option(*FORMATS)
@by_option
@as_of_option
@output_option
@common_options
@pass_state
def status(
    state: State,
    environments: tuple[str, ...],
    output_format: str | None,
    by: str | None,
    as_of: datetime | None,
    output: Path | None,
) -> None:
    """The credential status report for people: --format html -o report.html for a page."""
    _report(state, environments, output_format, output, by, "status", as_of)


@cli.command()
@env_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(tuple(ENV_FORMATS)),
    default=None,
    help=f"File format (default: the environment file's, else {DEFAULT_FORMAT}).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    default=None,
    help="Path to write (default: env_file.path of the environment; '-' for stdout).",
)
@selection_options
@click.option("--check", is_flag=True, help="Compare an existing file; exit 1 listing stale names.")
@common_options
@pass_state
def env(
    state: State,
    environments: tuple[str, ...],
    output_format: str | None,
    output: Path | None,
    services: tuple[str, ...],
    types: tuple[str, ...],
    only: tuple[str, ...],
    include_config: bool,
    check: bool,
) -> None:
    """Write an environment-variable file for one environment."""
    from credctl import envfile
    from credctl.envfile.check import compare
    from credctl.envfile.git import git_tracks_or_would_track
    from credctl.errors import StaleError
    from credctl.values import collect_env

    project = state.project()
    environment = _one_environment(project, environments)
    fmt = output_format or (environment.env_file.format if environment.env_file else DEFAULT_FORMAT)
    given_output = output
    if output is None:
        if environment.env_file is None:
            raise UsageError(
                f"no output path for {environment.name}: pass -o PATH (or -o - for stdout), "
                f"or set env_file in environments/{environment.name}.yaml"
            )
        output = project.root / environment.env_file.path
    backends = _backends(project)
    try:
        entries = collect_env(
            project,
            environment,
            backends,
            services=services,
            types=types,
            only=only,
            include_config=include_config,
        )
    finally:
        backends.close()
    pairs = [(entry.name, entry.value.reveal()) for entry in entries]
    if check:
        if str(output) == "-":
            raise UsageError("--check needs a file: pass -o PATH")
        try:
            existing = output.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise StaleError(f"{_shown(output)} does not exist") from None
        except OSError as error:
            raise UsageError(f"cannot read {_shown(output)}: {error.strerror}") from None
        except UnicodeDecodeError:
            raise StaleError(f"{_shown(output)} is not UTF-8 text") from None
        stale = compare(existing, pairs, fmt)
        if stale:
            command = _env_command(
                environment.name, output_format, given_output, services, types, only
            )
            if not include_config:
                command += " --no-include-config"
            raise StaleError(
                f"{_shown(output)} is stale: {stale.describe()}",
                hint=f"regenerate it with '{command}'",
            )
        state.say(f"{_shown(output)} is up to date ({len(pairs)} variables)")
        return
    text = envfile.render(pairs, fmt)
    if str(output) == "-":
        click.echo(text, nl=False)
        return
    _write_file(output, text, 0o600)
    if git_tracks_or_would_track(output):
        state.say(f"warning: git would track {_shown(output)}; add it to .gitignore")
    state.say(f"wrote {len(pairs)} variables to {_shown(output)} (mode 0600)")


def _env_command(
    environment: str,
    output_format: str | None,
    output: Path | None,
    services: tuple[str, ...],
    types: tuple[str, ...],
    only: tuple[str, ...],
) -> str:
    """The `credctl env` command that writes what `--check` compared against."""
    import shlex

    words = ["credctl", "env", "--env", environment]
    if output_format:
        words += ["--format", output_format]
    if output is not None:
        words += ["-o", _shown(output)]
    for option, values in (("--service", services), ("--type", types), ("--only", only)):
        for value in values:
            words += [option, value]
    return shlex.join(words)


def _one_environment(project: Project, environments: tuple[str, ...]) -> Any:
    chosen = project.select(environments)
    if len(chosen) != 1:
        names = ", ".join(env.name for env in chosen)
        raise UsageError(f"choose one environment with --env (available: {names})")
    return chosen[0]


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@env_option
@selection_options
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@common_options
@pass_state
def run(
    state: State,
    environments: tuple[str, ...],
    services: tuple[str, ...],
    types: tuple[str, ...],
    only: tuple[str, ...],
    include_config: bool,
    command: tuple[str, ...],
) -> None:
    """Run a command with the credentials in its environment; no file is written.

    credctl replaces itself with the command (exec), so signals reach it
    directly and its exit code is credctl's:  credctl run --env dev -- npm start
    """
    from credctl.values import collect_env

    project = state.project()
    environment = _one_environment(project, environments)
    backends = _backends(project)
    try:
        entries = collect_env(
            project,
            environment,
            backends,
            services=services,
            types=types,
            only=only,
            include_config=include_config,
        )
    finally:
        backends.close()
    child_environment = dict(os.environ)
    child_environment.update({entry.name: entry.value.reveal() for entry in entries})
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], list(command), child_environment)  # noqa: S606 - the user's command
    except FileNotFoundError:
        click.echo(f"Error: command not found: {command[0]}", err=True)
        sys.exit(127)
    except PermissionError:
        click.echo(f"Error: command not executable: {command[0]}", err=True)
        sys.exit(126)


# ------------------------------------------------------- plan, sync, import

PLAN_COLOURS = {
    "create": "green",
    "update": "yellow",
    "write-back": "cyan",
    "orphan": "red",
    "unmanaged": "bright_black",
    "prune": "red",
}


def _plan_text(state: State, plan: Any) -> str:
    """Terraform-style lines, grouped by environment, then the summary."""
    from credctl.sync import SYMBOLS

    lines = []
    current = None
    for change in plan.changes:
        if change.environment != current:
            current = change.environment
            lines.append(f"{current}:")
        mark = state.style(
            f"{SYMBOLS[change.action]} {change.action:<11}", PLAN_COLOURS[change.action]
        )
        detail = f"  ({', '.join(change.fields)})" if change.fields else ""
        lines.append(f"  {mark} {change.id}{detail}")
    if not plan.changes:
        lines.append("No changes: the table and the stores agree.")
    lines.append(plan.summary())
    return "\n".join(lines) + "\n"


def _plan_json(changes: list[Any], **extra: Any) -> str:
    import json

    document = {"schema_version": 1, "changes": [c.as_json() for c in changes], **extra}
    return json.dumps(document, indent=2) + "\n"


@cli.command()
@env_option
@format_option("table", "json")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when nothing would change, 2 when something would (as Terraform does).",
)
@click.option("--prune", is_flag=True, help="Plan the scheduled deletion of orphans.")
@common_options
@pass_state
def plan(
    state: State,
    environments: tuple[str, ...],
    output_format: str | None,
    detailed_exitcode: bool,
    prune: bool,
) -> None:
    """What sync would change, Terraform-style: + create, ~ update, < write-back, ! orphan."""
    from credctl.sync import make_plan

    project = state.project()
    backends = _backends(project)
    try:
        result = make_plan(project, project.select(environments), backends, prune=prune)
    finally:
        backends.close()
    if _format(state, output_format) == "json":
        click.echo(_plan_json(result.changes), nl=False)
    else:
        click.echo(_plan_text(state, result), nl=False)
    if detailed_exitcode and result.actionable:
        sys.exit(2)


@cli.command()
@env_option
@format_option("table", "json")
@click.option("--dry-run", is_flag=True, help="Only show the plan (same as credctl plan).")
@click.option(
    "--prune",
    is_flag=True,
    help="Schedule recoverable deletion of orphans (AWS recovery window, Vault soft delete).",
)
@actor_option
@common_options
@pass_state
def sync(
    state: State,
    environments: tuple[str, ...],
    output_format: str | None,
    dry_run: bool,
    prune: bool,
    actor: str | None,
) -> None:
    """Make the stores match the table (create, set metadata) and the table match the stores."""
    from credctl.errors import BackendError
    from credctl.sync import apply_plan, make_plan
    from credctl.values import resolve_actor

    project = state.project(actor=actor)
    backends = _backends(project)
    fmt = _format(state, output_format)
    try:
        planned = make_plan(project, project.select(environments), backends, prune=prune)
        if dry_run or not planned.actionable:
            if fmt == "json":
                click.echo(_plan_json(planned.changes), nl=False)
            else:
                click.echo(_plan_text(state, planned), nl=False)
            return
        if fmt != "json":
            click.echo(_plan_text(state, planned), nl=False)
        who = resolve_actor(project.settings.actor)
        total = len(planned.actionable)
        show_bar = sys.stderr.isatty() and not state.quiet and total > 1
        with click.progressbar(
            length=total, label="syncing", file=sys.stderr, hidden=not show_bar
        ) as bar:
            result = apply_plan(project, planned, backends, who, progress=lambda _: bar.update(1))
    finally:
        backends.close()
    for applied in result.applied:
        if applied.note:
            state.say(applied.note)
    if fmt == "json":
        failed = [{**change.as_json(), "error": str(error)} for change, error in result.failed]
        reported = [c for c in planned.changes if c.action in ("orphan", "unmanaged")]
        done = [a.change for a in result.applied]
        click.echo(_plan_json(done + reported, failed=failed), nl=False)
    else:
        table_note = f"; wrote {project.table.display}" if result.table_written else ""
        state.say(f"Applied {len(result.applied)} of {total} changes{table_note}.")
    if result.failed:
        change, error = result.failed[0]
        more = f" (and {len(result.failed) - 1} more)" if len(result.failed) > 1 else ""
        stopped = CredctlError(
            f"sync stopped: {len(result.failed)} of {total} changes failed{more}; first: "
            f"{change.id}: {error}",
            hint="the changes that succeeded are recorded; run 'credctl sync' again to finish",
        )
        # A store that failed is exit 3 whatever else happened; otherwise the highest code,
        # so the order the failures came back in never changes the exit code.
        backend_failed = any(isinstance(e, BackendError) for _, e in result.failed)
        highest = max(e.exit_code for _, e in result.failed)
        stopped.exit_code = BackendError.exit_code if backend_failed else highest
        raise stopped
    if result.not_recorded:
        from credctl.errors import NotRecordedError

        raise NotRecordedError(
            f"the {len(result.applied)} changes are made in the stores, but "
            f"{' and '.join(result.not_recorded)} could not be written",
            hint="once the files are writable, 'credctl sync' writes the table from the stores",
        )


@cli.command("import")
@env_option
@click.option("--dry-run", is_flag=True, help="Only list the rows that would be added.")
@actor_option
@common_options
@pass_state
def import_command(
    state: State, environments: tuple[str, ...], dry_run: bool, actor: str | None
) -> None:
    """Add table rows for secrets that exist under an environment's prefix but in no row."""
    from credctl.sync import apply_import, plan_import
    from credctl.values import resolve_actor

    project = state.project(actor=actor)
    backends = _backends(project)
    try:
        found = plan_import(project, project.select(environments), backends)
    finally:
        backends.close()
    for item in found:
        owner = item.values["owner"] or "no owner: set one"
        click.echo(f"+ {item.id}  {item.reference}  ({owner})")
    if not found:
        state.say("Nothing to import: every secret under the prefixes has a row.")
        return
    if dry_run:
        state.say(
            f"{len(found)} row{'s' if len(found) != 1 else ''} would be added to "
            f"{project.table.display}."
        )
        return
    added = apply_import(project, found, resolve_actor(project.settings.actor))
    state.say(
        f"Added {len(added)} row{'s' if len(added) != 1 else ''} to {project.table.display}; "
        "fill in the owners, then run 'credctl validate'."
    )


@cli.command()
@click.argument("credential_ids", nargs=-1, metavar="[ID]...")
@click.option("--due", is_flag=True, help="Rotate every overdue credential.")
@click.option("--include-due-soon", is_flag=True, help="With --due: also those due soon.")
@env_option
@click.option("--service", "services", multiple=True, help="Only this service (repeatable).")
@click.option("--type", "types", multiple=True, help="Only this credential type (repeatable).")
@click.option("--dry-run", is_flag=True, help="Print what would rotate and why; change nothing.")
@as_of_option
@click.option("--abort", is_flag=True, help="Discard the pending value of an interrupted rotation.")
@click.option(
    "--value-from-stdin",
    is_flag=True,
    help="Manual rotator: read the new value from standard input (one credential).",
)
@actor_option
@format_option("table", "json")
@common_options
@pass_state
def rotate(
    state: State,
    credential_ids: tuple[str, ...],
    due: bool,
    include_due_soon: bool,
    environments: tuple[str, ...],
    services: tuple[str, ...],
    types: tuple[str, ...],
    dry_run: bool,
    as_of: datetime | None,
    abort: bool,
    value_from_stdin: bool,
    actor: str | None,
    output_format: str | None,
) -> None:
    """Rotate the named or due credentials: staged, verified, resumable (--abort discards)."""
    import json

    from credctl import rotate as rotation
    from credctl.render.common import text_table
    from credctl.values import given_value, resolve_actor

    if as_of is not None and not (due and dry_run):
        raise UsageError(
            "--as-of only previews: use it with --due --dry-run (a rotation happens now)"
        )
    project = state.project(actor=actor)
    fmt = _format(state, output_format)
    backends = _backends(project)
    try:
        candidates = rotation.select(
            project,
            backends,
            ids=credential_ids,
            due=due,
            include_due_soon=include_due_soon,
            environments=environments,
            services=services,
            types=types,
            as_of=as_of,
        )
        if dry_run:
            results = [
                rotation.RotationResult(
                    c.row.id,
                    "skipped",
                    message=f"dry run: would rotate ({c.reason}) with "
                    f"{rotation.rotator_of(project, c.row)}",
                )
                for c in candidates
            ]
        else:
            manual_value = None
            if value_from_stdin:
                rotation.check_value_from_stdin(project, candidates)
                given = given_value(_stdin_bytes(), candidates[0].row.id)
                manual_value = lambda _row: given  # noqa: E731
            elif sys.stdin is not None and sys.stdin.isatty():

                def manual_value(row: Any) -> Secret:
                    return _prompt_value(row.id)

            prompting = manual_value is not None and not value_from_stdin
            show_bar = (
                sys.stderr.isatty() and not state.quiet and len(candidates) > 1 and not prompting
            )
            with click.progressbar(
                length=len(candidates), label="rotating", file=sys.stderr, hidden=not show_bar
            ) as bar:
                results = rotation.rotate_all(
                    project,
                    candidates,
                    backends,
                    resolve_actor(project.settings.actor),
                    manual_value=manual_value,
                    abort=abort,
                    progress=lambda _: bar.update(1),
                    started=clock.run_started(),
                )
    finally:
        backends.close()
    if fmt == "json":
        document = {"schema_version": 1, "results": [r.as_json() for r in results]}
        click.echo(json.dumps(document, indent=2))
    elif results:
        colours = {
            "rotated": "green",
            "resumed": "green",
            "failed": "red",
            "needs-person": "yellow",
        }
        rows = [
            [
                r.id,
                state.style(r.outcome, colours.get(r.outcome, "white")),
                r.version or "",
                r.message,
            ]
            for r in results
        ]
        click.echo(text_table(["ID", "OUTCOME", "VERSION", "MESSAGE"], rows), nl=False)
    else:
        state.say("Nothing to rotate.")
    code = rotation.exit_code(results)
    if code:
        failed = [r for r in results if r.error is not None]
        state.say(f"{len(failed)} of {len(results)} rotations did not complete cleanly.")
        sys.exit(code)


@cli.command("get")
@click.argument("credential_id", metavar="ID")
@common_options
@pass_state
def get_command(state: State, credential_id: str) -> None:
    """Print one current value (for scripts). ID: ENV/SERVICE/CREDENTIAL TYPE."""
    from credctl.values import get_value

    project = state.project()
    row = project.find_row(credential_id)
    backends = _backends(project)
    try:
        value = get_value(project, row, backends)
    finally:
        backends.close()
    stream = sys.stdout.buffer
    stream.write(value.reveal().encode("utf-8"))
    if sys.stdout.isatty():
        stream.write(b"\n")
    stream.flush()


def _stdin_bytes() -> bytes:
    """Everything on standard input; a closed one is a usage error, not a crash."""
    if sys.stdin is None:
        raise UsageError("standard input is closed: give the value on it (… | credctl set ID)")
    return sys.stdin.buffer.read()


def _prompt_value(credential_id: str) -> Secret:
    """A hidden prompt, asked again until the value passes the rules of `given_value`."""
    from credctl.values import given_value

    while True:
        text = click.prompt(
            f"New value for {credential_id}", hide_input=True, confirmation_prompt=True
        )
        try:
            return given_value(text, credential_id)
        except UsageError as error:
            click.echo(f"Error: {error}", err=True)


@cli.command("set")
@click.argument("credential_id", metavar="ID")
@actor_option
@common_options
@pass_state
def set_command(state: State, credential_id: str, actor: str | None) -> None:
    """Store a new value now, from standard input or a hidden prompt (never argv)."""
    from credctl.values import given_value, resolve_actor, set_value

    project = state.project(actor=actor)
    row = project.find_row(credential_id)
    if sys.stdin is not None and sys.stdin.isatty():
        value = _prompt_value(row.id)
    else:
        value = given_value(_stdin_bytes(), row.id)
    backends = _backends(project)
    try:
        stored = set_value(project, row, backends, value, resolve_actor(project.settings.actor))
    finally:
        backends.close()
    if not stored.changed:
        state.say(
            f"{row.id} already holds this value (version {stored.version}): nothing stored, "
            "no new version, Last Rotated unchanged"
        )
        return
    state.say(f"stored a new value for {row.id} (version {stored.version})")


@cli.command()
@env_option
@format_option("table", "json")
@common_options
@pass_state
def doctor(state: State, environments: tuple[str, ...], output_format: str | None) -> None:
    """Per environment: store reachable, authenticated, permitted, and its latency."""
    import json

    from credctl.doctor import diagnose
    from credctl.render.common import text_table

    project = state.project()
    backends = _backends(project)
    try:
        checks = diagnose(project.select(environments), backends)
    finally:
        backends.close()
    if _format(state, output_format) == "json":
        document = {"schema_version": 1, "checks": [check.as_json() for check in checks]}
        click.echo(json.dumps(document, indent=2))
    else:
        rows = [
            [
                check.environment,
                check.backend,
                check.state,
                "" if check.seconds is None else f"{check.seconds * 1000:.0f} ms",
                check.message,
            ]
            for check in checks
        ]
        styles = [["", "", "green" if c.ok else "red", "", ""] for c in checks]
        click.echo(
            text_table(
                ("ENVIRONMENT", "BACKEND", "STATE", "LATENCY", "DETAIL"), rows, styles, state.style
            ),
            nl=False,
        )
    if not all(check.ok for check in checks):
        sys.exit(3)


@cli.command()
@env_option
@click.option("--id", "credential_ids", multiple=True, help="Only this credential (repeatable).")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=None, help="The last N entries.")
@format_option("table", "json")
@common_options
@pass_state
def log(
    state: State,
    environments: tuple[str, ...],
    credential_ids: tuple[str, ...],
    limit: int | None,
    output_format: str | None,
) -> None:
    """The local audit log of credctl's own changes (.credctl/audit.jsonl)."""
    import json

    from credctl.auditlog import read_log
    from credctl.render.common import text_table

    project = state.project()
    entries = read_log(project.root, environments=environments, credential_ids=credential_ids)
    if limit is not None:
        entries = entries[-limit:]
    if _format(state, output_format) == "json":
        click.echo(json.dumps({"schema_version": 1, "entries": entries}, indent=2))
        return
    columns = ("time", "actor", "environment", "id", "action", "version", "outcome")
    rows = [[_printable(str(entry.get(column) or "")) for column in columns] for entry in entries]
    click.echo(text_table([c.upper() for c in columns], rows), nl=False)


def _printable(text: str) -> str:
    """A cell whose control characters show as escapes: a log line cannot forge another."""
    import unicodedata

    return "".join(
        f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c
        for c in text
    )


# ----------------------------------------------------------- error handling


def main(argv: list[str] | None = None) -> None:
    """Entry point: one line and an exit code for every credctl error."""
    arguments = sys.argv[1:] if argv is None else argv
    own = arguments[: arguments.index("--")] if "--" in arguments else arguments
    debug = "--debug" in own
    # with --detailed-exitcode, 2 means "changes pending" (as Terraform): an error is 1
    error_exit = {2: 1} if "--detailed-exitcode" in own else {}
    _install_log_handler()
    try:
        clock.start_run()
        cli.main(args=arguments, prog_name="credctl", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Error: aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error_exit.get(error.exit_code, error.exit_code))
    except click.exceptions.Exit as error:
        sys.exit(error.exit_code)
    except CredctlError as error:
        if debug:  # the traceback, then the same exit code as without --debug
            import traceback

            traceback.print_exc()
        lines = str(error).splitlines() or [type(error).__name__]
        if error.hint:
            lines[-1] += f" (hint: {error.hint})"
        for line in lines:
            click.echo(f"Error: {line}", err=True)
        sys.exit(error_exit.get(error.exit_code, error.exit_code))
    except KeyboardInterrupt:
        click.echo("Error: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as error:
        if debug:
            import traceback

            traceback.print_exc()
            sys.exit(1)
        # The message of an unexpected error could carry anything; name its type only.
        click.echo(
            f"Error: unexpected {type(error).__name__} (a bug in credctl); "
            "rerun with --debug for the traceback",
            err=True,
        )
        sys.exit(1)
