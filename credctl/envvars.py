"""Environment variables from the credentials: the entries of one environment, the files
`credctl env` writes and checks, and the environment `credctl run` gives a command."""

from __future__ import annotations

import logging
import os
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from credctl import envfile
from credctl.backends.pool import Backends
from credctl.credential import Credential
from credctl.envfile.check import compare
from credctl.envfile.example import ExampleEntry
from credctl.envfile.example import render as render_example
from credctl.envfile.git import git_tracks_or_would_track
from credctl.errors import (
    BackendError,
    BinaryValueError,
    ConfigError,
    CredctlError,
    Problem,
    StaleError,
    UsageError,
)
from credctl.fsutil import display_path, write_output
from credctl.lifecycle import explain_read_failure
from credctl.model import EnvironmentConfig
from credctl.progress import Progress, counted, environment_step
from credctl.project import Project
from credctl.render import Styler
from credctl.results import Result
from credctl.secret import Secret
from credctl.values import value_reference

log = logging.getLogger("credctl")


@dataclass
class EnvEntry:
    name: str
    value: Secret
    credential_id: str
    secret: bool = True  # False: a configuration value from the table (not masked)


def chosen_credentials(
    project: Project, environment: EnvironmentConfig, selection: Selection
) -> list[tuple[Credential, str]]:
    """The credentials of one environment a selection takes, with their variable names."""
    only = selection.only
    chosen: list[tuple[Credential, str]] = []
    for credential in project.credentials_in(environment):
        name = credential.variable
        if not credential.matches(selection.services, selection.types):
            continue
        if (only and name not in only) or (credential.is_config and not selection.include_config):
            continue
        chosen.append((credential, name))
    unknown = sorted(set(only) - {name for _, name in chosen})
    if unknown:
        raise UsageError(f"--only names no credential of {environment.name}: {', '.join(unknown)}")
    first_by_name: dict[str, Credential] = {}
    problems = []
    for credential, name in chosen:
        if name in first_by_name:
            problems.append(
                Problem(
                    credential.file,
                    credential.line,
                    f"{credential.id} and {first_by_name[name].id} (line {first_by_name[name].line}) "
                    f"both map to the variable {name}",
                    "duplicate-env-var",
                )
            )
        first_by_name.setdefault(name, credential)
    if problems:
        raise ConfigError(problems)
    return chosen


def collect_env(
    project: Project,
    environment: EnvironmentConfig,
    backends: Backends,
    selection: Selection,
    progress: Progress | None = None,
) -> list[EnvEntry]:
    """The variables of one environment, all read before anything is written."""
    chosen = chosen_credentials(project, environment, selection)
    refs = {
        credential.line: value_reference(project, credential, environment)
        for credential, _ in chosen
        if not credential.is_config
    }
    started = time.perf_counter()
    backend = backends.get(environment)
    with environment_step(
        progress, environment.name, f"reading {counted(len(refs), 'value')}"
    ) as step:
        results = backend.read_values(list(refs.values())) if refs else {}
        step.outcome = f"read {counted(len(results), 'value')}"
    log.info(
        "%s: read %d values in %.2f s",
        environment.name,
        len(results),
        time.perf_counter() - started,
    )
    failures = []
    entries = []
    for credential, name in chosen:
        if credential.line not in refs:
            entries.append(EnvEntry(name, Secret(credential.literal), credential.id, secret=False))
            continue
        result = results[refs[credential.line]]
        if isinstance(result, BinaryValueError):
            # no variable can carry it: the others are written, this one named
            log.warning(
                "%s (%s) left out: its value is binary data, not text (AWS SecretBinary), "
                "which no environment variable can carry",
                name,
                credential.id,
            )
            continue
        if isinstance(result, BackendError):
            explained = explain_read_failure(backend, credential, environment, result)
            hint = f"; {explained.hint}" if explained.hint and explained is not result else ""
            failures.append(f"{credential.id} ({explained}{hint})")
            continue
        entries.append(EnvEntry(name, result, credential.id))
    if failures:
        raise BackendError(
            f"cannot read {len(failures)} credential(s) of {environment.name}, no file written: "
            + "; ".join(failures[:5])
            + (f"; and {len(failures) - 5} more" if len(failures) > 5 else "")
        )
    return entries


@dataclass(frozen=True)
class Selection:
    """Which credentials of an environment go into a file or a command's environment."""

    services: Sequence[str] = ()
    types: Sequence[str] = ()
    only: Sequence[str] = ()
    include_config: bool = True

    def options(self) -> list[str]:
        """The command-line options that make this selection (for hints)."""
        words = []
        for option, values in (("--service", self.services), ("--type", self.types)):
            for value in values:
                words += [option, value]
        for value in self.only:
            words += ["--only", value]
        return words + ([] if self.include_config else ["--no-include-config"])


def one_environment(project: Project, names: Sequence[str]) -> EnvironmentConfig:
    """The one environment a file or a command is for."""
    chosen = project.select(names)
    if len(chosen) != 1:
        available = ", ".join(environment.name for environment in chosen)
        raise UsageError(f"choose one environment with --env (available: {available})")
    return chosen[0]


def entries_for(
    project: Project,
    names: Sequence[str],
    backends: Backends,
    selection: Selection,
    progress: Progress | None = None,
) -> list[EnvEntry]:
    """The variables of the one environment named, all read before anything is written."""
    environment = one_environment(project, names)
    return collect_env(project, environment, backends, selection, progress)


@dataclass
class EnvWritten(Result):
    """An env file written, and what goes to standard output: the file itself (`-o -`, the
    one output that holds values) or the lines that tell its reader what to mask."""

    count: int
    path: Path | None  # None: standard output
    text: str = field(repr=False)
    tracked_by_git: bool = False
    in_place: bool = False  # a device or FIFO, written as it is (no mode of credctl's)
    remarks: list[str] = field(default_factory=list)
    formats = ("table",)  # the text is the file (or its reader's lines) whatever the settings say

    def as_text(self, style: Styler) -> str:
        return self.text

    def notes(self) -> list[str]:
        if self.path is None:
            return self.remarks
        shown = display_path(self.path)
        warning = [f"warning: git would track {shown}; add it to .gitignore"]
        mode = "" if self.in_place else " (mode 0600)"
        return (warning if self.tracked_by_git else []) + [
            f"wrote {self.count} variables to {shown}{mode}",
            *self.remarks,
        ]


@dataclass
class EnvChecked(Result):
    """An existing env file compared with what `credctl env` would write (no value shown)."""

    count: int
    path: Path
    stale: StaleError | None
    what: str = "variables"
    formats = ("table",)

    def notes(self) -> list[str]:
        if self.stale is not None:
            return []
        return [f"{display_path(self.path)} is up to date ({self.count} {self.what})"]

    def failure(self, fmt: str) -> CredctlError | None:
        return self.stale


@dataclass
class ExampleWritten(Result):
    """A `.env.example` written (names, comments, no value), or its text for stdout."""

    count: int
    path: Path | None
    text: str
    formats = ("table",)

    def as_text(self, style: Styler) -> str:
        return self.text if self.path is None else ""

    def notes(self) -> list[str]:
        if self.path is None:
            return []
        return [f"wrote {self.count} variable names to {display_path(self.path)} (no values)"]


NOT_ANNOUNCED_TERMINAL = (
    "the ::add-mask:: lines hold the values, so they are not printed to a terminal "
    "(a GitHub Actions runner gets them)"
)
NOT_ANNOUNCED_STDOUT = (
    "warning: no ::add-mask:: lines, as the file itself goes to standard output; "
    'write it with -o "$GITHUB_ENV" so that the runner masks the values'
)


def env_file(
    project: Project,
    names: Sequence[str],
    backends: Backends,
    selection: Selection,
    *,
    fmt: str | None,
    output: Path | None,
    check: bool = False,
    follow_symlinks: bool = False,
    example: bool = False,
    announce: bool = True,
    progress: Progress | None = None,
) -> EnvWritten | EnvChecked | ExampleWritten:
    """Write one environment's variables to a file (0600, atomic) or stdout, or check one;
    a device or FIFO is written in place, a symbolic link only with `follow_symlinks`;
    `example`: its `.env.example` instead. `announce`: print what the file's reader must
    mask (GitHub's `::add-mask::` lines) on standard output."""
    environment = one_environment(project, names)
    if example:
        return example_file(project, environment, selection, fmt=fmt, output=output, check=check)
    chosen_format = fmt or (
        environment.env_file.format if environment.env_file else envfile.DEFAULT_FORMAT
    )
    path = output
    if path is None:
        if environment.env_file is None:
            raise UsageError(
                f"no output path for {environment.name}: pass -o PATH (or -o - for stdout), "
                f"or set env_file in environments/{environment.name}.yaml"
            )
        path = project.root / environment.env_file.path
    entries = collect_env(project, environment, backends, selection, progress)
    pairs = [(entry.name, entry.value.reveal()) for entry in entries]
    if check:
        if str(path) == "-":
            raise UsageError("--check needs a file: pass -o PATH")
        again = ["credctl", "env", "--env", environment.name]
        again += (["--format", fmt] if fmt else []) + (
            ["-o", display_path(output)] if output else []
        )
        return EnvChecked(
            len(pairs), path, _stale(path, pairs, chosen_format, again + selection.options())
        )
    text = envfile.render(pairs, chosen_format)
    masks = envfile.mask([entry.value.reveal() for entry in entries if entry.secret], chosen_format)
    if str(path) == "-":
        return EnvWritten(len(pairs), None, text, remarks=[NOT_ANNOUNCED_STDOUT] if masks else [])
    in_place = write_output(path, text, 0o600, follow_symlinks=follow_symlinks)
    tracked = not in_place and git_tracks_or_would_track(path)
    if masks and not announce:
        return EnvWritten(
            len(pairs), path, "", tracked, in_place=in_place, remarks=[NOT_ANNOUNCED_TERMINAL]
        )
    return EnvWritten(len(pairs), path, masks, tracked, in_place=in_place)


EXAMPLE_FILE = ".env.example"


def example_file(
    project: Project,
    environment: EnvironmentConfig,
    selection: Selection,
    *,
    fmt: str | None,
    output: Path | None,
    check: bool,
) -> ExampleWritten | EnvChecked:
    """The `.env.example` of an environment: its variables' names with empty values, each
    with a comment (service, type, owner, reference); read from the table, no store opened."""
    if fmt not in (None, "dotenv"):
        raise UsageError(f"--example writes a dotenv file: leave out --format {fmt}")
    entries = [
        ExampleEntry(
            name,
            credential.service,
            credential.credential_type,
            credential.owner,
            "" if credential.is_config else str(value_reference(project, credential, environment)),
        )
        for credential, name in chosen_credentials(project, environment, selection)
    ]
    text = render_example(environment.name, project.table.display, entries)
    path = output or project.root / EXAMPLE_FILE
    if check:
        if str(path) == "-":
            raise UsageError("--check needs a file: pass -o PATH")
        again = ["credctl", "env", "--env", environment.name, "--example"]
        again += (["-o", display_path(output)] if output else []) + selection.options()
        return EnvChecked(len(entries), path, _stale_example(path, text, again), "variable names")
    if str(path) == "-":
        return ExampleWritten(len(entries), None, text)
    write_output(path, text, 0o644)
    return ExampleWritten(len(entries), path, text)


def _stale_example(path: Path, text: str, again: list[str]) -> StaleError | None:
    """Why the example at `path` is not the one credctl would write (it holds no value)."""
    shown = display_path(path)
    try:
        existing = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return StaleError(f"{shown} does not exist")
    except (OSError, UnicodeDecodeError):
        existing = ""
    if existing == text:
        return None
    # a name with a value in it counts as differing: an example must hold none
    names = compare(existing, [(name, "") for name in envfile.parse(text, "dotenv")], "dotenv")
    why = names.describe() if names else "its comments differ"
    return StaleError(
        f"{shown} is stale: {why}",
        hint=f"regenerate it with '{shlex.join(again)}'",
    )


def _stale(
    path: Path, pairs: Sequence[tuple[str, str]], fmt: str, again: list[str]
) -> StaleError | None:
    """Why the file at `path` is not what credctl would write, naming variables only."""
    shown = display_path(path)
    try:
        existing = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return StaleError(f"{shown} does not exist")
    except OSError as error:
        raise UsageError(f"cannot read {shown}: {error.strerror}") from None
    except UnicodeDecodeError:
        return StaleError(f"{shown} is not UTF-8 text")
    stale = compare(existing, pairs, fmt)
    if not stale:
        return None
    return StaleError(
        f"{shown} is stale: {stale.describe()}", hint=f"regenerate it with '{shlex.join(again)}'"
    )


def process_environment(
    project: Project,
    names: Sequence[str],
    backends: Backends,
    selection: Selection,
    progress: Progress | None = None,
) -> dict[str, str]:
    """The environment for `credctl run`: this process's, with the credentials added."""
    environment = dict(os.environ)
    for entry in entries_for(project, names, backends, selection, progress):
        environment[entry.name] = entry.value.reveal()
    return environment
