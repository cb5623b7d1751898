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


def collect_env(
    project: Project, environment: EnvironmentConfig, backends: Backends, selection: Selection
) -> list[EnvEntry]:
    """The variables of one environment, all read before anything is written."""
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
    refs = {
        credential.line: value_reference(project, credential, environment)
        for credential, _ in chosen
        if not credential.is_config
    }
    started = time.perf_counter()
    backend = backends.get(environment)
    results = backend.read_values(list(refs.values())) if refs else {}
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
            entries.append(EnvEntry(name, Secret(credential.reference.strip()), credential.id))
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
    project: Project, names: Sequence[str], backends: Backends, selection: Selection
) -> list[EnvEntry]:
    """The variables of the one environment named, all read before anything is written."""
    environment = one_environment(project, names)
    return collect_env(project, environment, backends, selection)


@dataclass
class EnvWritten(Result):
    """An env file written (or, to stdout, its text: the one output that holds values)."""

    count: int
    path: Path | None  # None: standard output
    text: str = field(repr=False)
    tracked_by_git: bool = False
    in_place: bool = False  # a device or FIFO, written as it is (no mode of credctl's)

    def as_text(self, style: Styler) -> str:
        return self.text if self.path is None else ""

    def notes(self) -> list[str]:
        if self.path is None:
            return []
        shown = display_path(self.path)
        warning = [f"warning: git would track {shown}; add it to .gitignore"]
        mode = "" if self.in_place else " (mode 0600)"
        return (warning if self.tracked_by_git else []) + [
            f"wrote {self.count} variables to {shown}{mode}"
        ]


@dataclass
class EnvChecked(Result):
    """An existing env file compared with what `credctl env` would write (no value shown)."""

    count: int
    path: Path
    stale: StaleError | None

    def notes(self) -> list[str]:
        if self.stale is not None:
            return []
        return [f"{display_path(self.path)} is up to date ({self.count} variables)"]

    def failure(self, fmt: str) -> CredctlError | None:
        return self.stale


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
) -> EnvWritten | EnvChecked:
    """Write one environment's variables to a file (0600, atomic) or stdout, or check one;
    a device or FIFO is written in place, a symbolic link only with `follow_symlinks`."""
    environment = one_environment(project, names)
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
    entries = entries_for(project, [environment.name], backends, selection)
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
    if str(path) == "-":
        return EnvWritten(len(pairs), None, text)
    if write_output(path, text, 0o600, follow_symlinks=follow_symlinks):
        return EnvWritten(len(pairs), path, "", in_place=True)
    return EnvWritten(len(pairs), path, "", git_tracks_or_would_track(path))


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
    project: Project, names: Sequence[str], backends: Backends, selection: Selection
) -> dict[str, str]:
    """The environment for `credctl run`: this process's, with the credentials added."""
    environment = dict(os.environ)
    for entry in entries_for(project, names, backends, selection):
        environment[entry.name] = entry.value.reveal()
    return environment
