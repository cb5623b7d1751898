"""Options every command shares, as decorators, and the state they gather."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import click.shell_completion

if TYPE_CHECKING:
    from credctl.backends.pool import Backends
    from credctl.progress import Progress
    from credctl.project import Project

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
        self.follow_symlinks = False
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
                len(self._project.credentials),
                self._project.table.display,
                ", ".join(sorted(self._project.environments)) or "none",
            )
        return self._project

    def say(self, text: str) -> None:
        if not self.quiet:
            click.echo(text, err=True)

    def format(self, chosen: str | None, choices: tuple[str, ...]) -> str:
        """The --format given, else the project's setting where this command has it, else table."""
        if chosen or len(choices) == 1:
            return chosen or choices[0]
        configured = self.project().settings.format
        return configured if configured in choices else "table"

    def backends(self, **settings: Any) -> contextlib.AbstractContextManager[Backends]:
        """The project's stores, each opened on first use, all closed at the end of the block."""
        from credctl.backends.pool import backends_for

        return backends_for(self.project(**settings))

    def progress(self, shown: bool = True) -> Progress:
        """Progress on a terminal's standard error; none when piped, with -q, or asked."""
        from credctl.progress import Silent

        if shown and sys.stderr.isatty() and not self.quiet:
            return TerminalProgress()
        return Silent()


class StatusLine:
    """The line an environment's step shows on standard error while it works, without its
    line break; anything else written to standard error meanwhile goes above it."""

    ERASE = "\r\x1b[K"

    def __init__(self) -> None:
        self.text: str | None = None
        # environments are worked on in threads: their log lines and the line take turns
        self._lock = threading.RLock()

    def show(self, text: str) -> None:
        with self._lock:
            self.text = text
            self._write(self.ERASE + text)

    def close(self, final: str | None) -> None:
        """Replace the line with its final text (None: erase it, an error follows)."""
        with self._lock:
            if self.text is not None:
                self.text = None
                self._write(self.ERASE + (f"{final}\n" if final else ""))

    @contextlib.contextmanager
    def above(self) -> Iterator[None]:
        """Write a line of one's own: the status line is erased first and drawn again after."""
        with self._lock:
            text = self.text
            if text is None:
                yield
                return
            self._write(self.ERASE)
            try:
                yield
            finally:
                self._write(text)

    @staticmethod
    def _write(text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()


STATUS = StatusLine()


class TerminalProgress:
    """Click's progress bar for work of more than one step, and one line per environment
    (`prod: listing secrets…`, then `prod: listed 1000 secrets`), on standard error."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._lock = threading.Lock()  # sync advances the bar from each environment's thread

    def start(self, environment: str, doing: str) -> None:
        STATUS.show(f"{environment}: {doing}…")

    def done(self, environment: str, outcome: str | None) -> None:
        STATUS.close(f"{environment}: {outcome}" if outcome else None)

    def begin(self, total: int, label: str) -> None:
        with self._lock:
            if total > 1:
                self._bar = click.progressbar(length=total, label=label, file=sys.stderr)
                self._bar.__enter__()

    def advance(self, count: int = 1) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.update(count)

    def end(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.__exit__(None, None, None)
                self._bar = None


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
            with STATUS.above():
                click.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)
        except Exception:  # a log line must never take the command down
            self.handleError(record)


def install_log_handler() -> None:
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


def _shared(*names: str, store: str, **settings: Any) -> Callable[[F], F]:
    """An option every command takes, kept in the shared State rather than passed on."""
    return click.option(*names, expose_value=False, callback=_store(store), **settings)


def common_options(function: F) -> F:
    """-q, -v, --no-color, --debug, --project-dir: on the group and on every command."""
    folder = click.Path(path_type=Path, file_okay=False)
    options = [
        _shared(
            "--project-dir",
            store="project_dir",
            type=folder,
            help="Project folder (default: CREDCTL_PROJECT_DIR, else the nearest folder with "
            "environments/).",
        ),
        _shared(
            "--table",
            store="table",
            help="Reference table path (default: the table setting, else credentials.md, or "
            "credentials.yaml when only it exists).",
        ),
        _shared("-q", "--quiet", store="quiet", is_flag=True, help="Print only errors and data."),
        _shared("-v", "--verbose", store="verbose", count=True, help="Say more."),
        _shared(
            "--no-color",
            store="no_color",
            is_flag=True,
            help="No colours (NO_COLOR is honoured too).",
        ),
        _shared("--debug", store="debug", is_flag=True, help="Show tracebacks."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


Completer = Callable[
    [click.Context, click.Parameter, str], list[click.shell_completion.CompletionItem]
]


def completes(kind: str) -> Completer:
    """A shell completion from the project's files (`credctl.completion.<kind>`): no store
    is opened; anything going wrong completes nothing rather than failing."""

    def complete(
        context: click.Context, parameter: click.Parameter, incomplete: str
    ) -> list[click.shell_completion.CompletionItem]:
        state = context.find_object(State) or State()
        try:
            from credctl import completion

            candidates = getattr(completion, kind)(state.project_dir, state.table)
        except Exception:  # a half-typed command line must never print a traceback
            return []
        return [
            click.shell_completion.CompletionItem(candidate.value, help=candidate.help or None)
            for candidate in candidates
            if candidate.value.startswith(incomplete)
        ]

    return complete


def _env(help: str) -> Callable[[F], F]:
    return click.option(
        "--env",
        "environments",
        multiple=True,
        metavar="NAME",
        shell_complete=completes("environments"),
        help=help,
    )


env_option = _env("Environment (repeatable; default: the environments setting, else all).")
one_env_option = _env("The environment (one; may be left out when the project has only one).")


def service_option(function: F) -> F:
    return click.option(
        "--service",
        "services",
        multiple=True,
        shell_complete=completes("services"),
        help="Only this service (repeatable).",
    )(function)


def type_option(function: F) -> F:
    return click.option(
        "--type",
        "types",
        multiple=True,
        shell_complete=completes("credential_types"),
        help="Only this credential type (repeatable).",
    )(function)


def format_option(*choices: str, default: str = "table") -> Callable[[F], F]:
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default=None,
        help=f"Output format (default: the format setting where this command has it, else {default}).",
    )


def follow_symlinks_option(function: F) -> F:
    """--follow-symlinks: `-o` naming a symbolic link writes its target (else refused)."""
    return _shared(
        "--follow-symlinks",
        store="follow_symlinks",
        is_flag=True,
        help="When -o names a symbolic link, write its target (atomically) instead of refusing.",
    )(function)


class OutputPath(click.Path):
    """A path for `-o`: a bare format name (`-o json`, the AWS CLI's habit) is refused,
    with the hint for --format, before anything runs."""

    def __init__(self, formats: Sequence[str] | Callable[[], Sequence[str]]) -> None:
        super().__init__(path_type=Path, dir_okay=False, allow_dash=True)
        # a callable is asked only when the option is given (--help imports nothing)
        self.formats = formats

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from credctl.fsutil import check_output_name

        if isinstance(value, str):
            formats = self.formats() if callable(self.formats) else self.formats
            check_output_name(value, formats)
        return super().convert(value, param, ctx)


def output_option(
    *formats: str, more: Callable[[], Sequence[str]] | None = None
) -> Callable[[F], F]:
    """-o FILE (and --follow-symlinks) for a command printing one of `formats` (and of
    what `more` names, asked only when -o is given)."""
    names: Sequence[str] | Callable[[], Sequence[str]] = formats
    if more is not None:
        extra = more
        names = lambda: [*formats, *extra()]  # noqa: E731

    def decorate(function: F) -> F:
        function = follow_symlinks_option(function)
        return click.option(
            "-o",
            "--output",
            type=OutputPath(names),
            default=None,
            help="Write to FILE atomically instead of standard output (a device or FIFO is "
            "written in place; a symbolic link is refused without --follow-symlinks).",
        )(function)

    return decorate


def selection_options(function: F) -> F:
    """Which credentials go into an env file or a command's environment."""
    options = [
        service_option,
        type_option,
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


def expiry_date(context: click.Context, parameter: click.Parameter, value: str | None) -> Any:
    """An expiry: an ISO date (00:00 UTC that day) or date-time, as the Expires column."""
    if value is None:
        return None
    from credctl.expiry import parse_expiry

    try:
        moment = parse_expiry(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    if moment is None:
        raise click.BadParameter("empty (give a date such as 2027-03-31)")
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
        "--actor",
        help="Who is doing this (default: the actor setting, else the CI's actor, else the OS user).",
    )(function)


pass_state = click.make_pass_decorator(State, ensure=True)


def by_option(function: F) -> F:
    return click.option(
        "--by",
        type=click.Choice(["owner", "environment", "service"]),
        default=None,
        help="Group the report by owner, environment or service.",
    )(function)
