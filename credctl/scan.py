"""`credctl scan`: find the managed credentials' actual values — current and previous — in
files and, with `--git-history`, in every blob a repository ever held.

A secret scanner guesses by pattern; credctl knows the values, so a hit is proof and
names the row to rotate. All values are searched for at once, in one pass over each
file (an Aho–Corasick automaton). No value is ever printed: a hit says the file (and
commit), the line, the credential and whether the value is current or previous.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from credctl.backends.base import History
from credctl.backends.pool import Backends
from credctl.credential import Credential
from credctl.errors import UsageError
from credctl.model import EnvironmentConfig
from credctl.progress import Progress, counted, environment_step
from credctl.project import Project
from credctl.render import Styler
from credctl.render.columns import text_table
from credctl.results import Result
from credctl.secret import Secret

log = logging.getLogger("credctl")

MIN_LENGTH = 8  # shorter values would be found by chance (and tell too little)
MAX_FILE_BYTES = 10 * 1024 * 1024
SKIPPED_FOLDERS = {".git", ".credctl", "node_modules", ".venv", "__pycache__"}


@dataclass(frozen=True)
class Needle:
    """A value to look for (never shown) and what it belongs to."""

    credential_id: str
    kind: str  # "current" or "previous"


@dataclass(frozen=True)
class Hit:
    """Where a managed value was found."""

    path: str
    line: int | None  # None in a binary file
    credential_id: str
    kind: str
    commit: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "line": self.line,
            "commit": self.commit,
            "id": self.credential_id,
            "value": self.kind,
        }


@dataclass
class ScanResult(Result):
    """The hits, what was scanned, and what could not be."""

    hits: list[Hit]
    values: int
    files: int
    blobs: int = 0
    too_short: list[str] = field(default_factory=list)  # credential ids
    skipped: list[str] = field(default_factory=list)  # files too large to read
    formats = ("table", "json", "sarif", "github")

    def as_json(self) -> dict[str, Any]:
        return {
            "hits": [hit.as_json() for hit in self.hits],
            "scanned": {"values": self.values, "files": self.files, "blobs": self.blobs},
            "not_scannable": self.too_short,
            "skipped_files": self.skipped,
        }

    def render(self, fmt: str, style: Styler) -> str | Iterable[str]:
        if fmt == "sarif":
            from credctl.render.scan import sarif

            return sarif(self.hits)
        if fmt == "github":
            from credctl.render.scan import github

            return github(self.hits)
        return super().render(fmt, style)

    def as_text(self, style: Styler) -> str:
        if not self.hits:
            return ""
        rows = [
            [
                hit.path + (f" @ {hit.commit[:12]}" if hit.commit else ""),
                "" if hit.line is None else str(hit.line),
                hit.credential_id,
                style(hit.kind, "red" if hit.kind == "current" else "yellow"),
            ]
            for hit in self.hits
        ]
        return text_table(["FILE", "LINE", "CREDENTIAL", "VALUE"], rows)

    def notes(self) -> list[str]:
        where = f"{self.files} files" + (f" and {self.blobs} blobs" if self.blobs else "")
        notes = [f"scanned {where} for {self.values} values: {len(self.hits)} found"]
        if self.too_short:
            notes.append(
                f"not scannable (shorter than {MIN_LENGTH} characters): "
                + ", ".join(sorted(set(self.too_short)))
            )
        if self.skipped:
            notes.append(
                f"skipped (over {MAX_FILE_BYTES // (1024 * 1024)} MiB): " + ", ".join(self.skipped)
            )
        current = sorted({hit.credential_id for hit in self.hits if hit.kind == "current"})
        if current:
            notes.append(f"rotate what leaked: credctl rotate {' '.join(current)}")
        return notes

    def exit_code(self) -> int:
        return 1 if any(hit.kind == "current" for hit in self.hits) else 0


def scan(
    project: Project,
    environments: Sequence[EnvironmentConfig],
    backends: Backends,
    paths: Sequence[Path],
    *,
    git_history: bool = False,
    include_ignored: bool = False,
    progress: Progress | None = None,
) -> ScanResult:
    """Look for every chosen credential's current and previous value in `paths` (files git
    ignores — generated env files, local state — only with `include_ignored`)."""
    needles, too_short = _needles(project, environments, backends, progress)
    automaton = _automaton(needles)
    hits: list[Hit] = []
    files = 0
    skipped: list[str] = []
    candidates = list(_files(paths))
    ignored = set() if include_ignored else _ignored_by_git([path for path, _ in candidates])
    for path, shown in candidates:
        if path in ignored:
            continue
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                skipped.append(shown)
                continue
            content = path.read_bytes()
        except OSError:
            continue
        files += 1
        hits.extend(_find(automaton, content, shown, None))
    blobs = 0
    if git_history:
        blob_hits, blobs = _history(automaton, paths)
        hits.extend(blob_hits)
    unique = sorted(set(hits), key=lambda h: (h.path, h.commit or "", h.line or 0, h.credential_id))
    return ScanResult(unique, len(needles), files, blobs, too_short, skipped)


def _needles(
    project: Project,
    environments: Sequence[EnvironmentConfig],
    backends: Backends,
    progress: Progress | None = None,
) -> tuple[dict[bytes, list[Needle]], list[str]]:
    """Every value to look for: current and previous, of each secret row of `environments`."""
    from credctl.values import value_reference

    needles: dict[bytes, list[Needle]] = {}
    too_short: list[str] = []

    def add(value: Secret | None, credential_id: str, kind: str) -> None:
        if value is None:
            return
        text = value.reveal()
        if len(text) < MIN_LENGTH:
            too_short.append(credential_id)
            return
        needles.setdefault(text.encode("utf-8"), []).append(Needle(credential_id, kind))

    for environment in environments:
        backend = backends.get(environment)
        secrets = [c for c in project.credentials_in(environment) if not c.is_config]
        refs = {c.id: value_reference(project, c, environment) for c in secrets}
        reading = f"reading {counted(len(refs), 'value')}"
        with environment_step(progress, environment.name, reading) as step:
            current = backend.read_values(list(refs.values())) if refs else {}
            previous = (
                _previous(backend, environment, secrets) if isinstance(backend, History) else []
            )
            step.outcome = f"read {counted(len(current) + len(previous), 'value')}"
        for credential in secrets:
            value = current.get(refs[credential.id])
            add(value if isinstance(value, Secret) else None, credential.id, "current")
        for credential, earlier in zip(secrets, previous, strict=bool(previous)):
            add(earlier, credential.id, "previous")
    return needles, too_short


def _previous(
    history: History, environment: EnvironmentConfig, secrets: Sequence[Credential]
) -> list[Secret | None]:
    """Each credential's previous value (None where there is none)."""
    return history.read_previous([credential.target(environment) for credential in secrets])


def _automaton(needles: dict[bytes, list[Needle]]) -> Any:
    """One Aho–Corasick automaton over every value (bytes, through latin-1: one char a byte)."""
    import ahocorasick

    automaton = ahocorasick.Automaton()
    for value, owners in needles.items():
        automaton.add_word(value.decode("latin-1"), (len(value), tuple(owners)))
    if len(automaton):
        automaton.make_automaton()
    return automaton


def _find(automaton: Any, content: bytes, shown: str, commit: str | None) -> Iterator[Hit]:
    if not len(automaton):
        return
    text = content.decode("latin-1")
    binary = b"\0" in content[:8192]
    for end, (length, owners) in automaton.iter(text):
        start = end - length + 1
        line = None if binary else content.count(b"\n", 0, start) + 1
        for owner in owners:
            yield Hit(shown, line, owner.credential_id, owner.kind, commit)


def _files(paths: Sequence[Path]) -> Iterator[tuple[Path, str]]:
    """Every regular file under `paths` (not inside .git, .credctl and the like)."""
    for root in paths:
        if root.is_file():
            yield root, str(root)
            continue
        if not root.is_dir():
            raise UsageError(f"cannot scan {root}: no such file or folder")
        for folder, folders, names in os.walk(root):
            folders[:] = sorted(f for f in folders if f not in SKIPPED_FOLDERS)
            for name in sorted(names):
                path = Path(folder) / name
                if path.is_file() and not path.is_symlink():
                    yield path, os.path.relpath(path)


def _ignored_by_git(paths: list[Path]) -> set[Path]:
    """The paths git ignores (none outside a work tree, or without git)."""
    if not paths:
        return set()
    try:
        done = subprocess.run(
            ["git", "check-ignore", "--stdin", "-z"],
            input="\0".join(str(path) for path in paths) + "\0",
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        return set()
    return {Path(name) for name in done.stdout.split("\0") if name}


def _history(automaton: Any, paths: Sequence[Path]) -> tuple[list[Hit], int]:
    """Every blob of the repository around the first path, and where a value is in one."""
    folder = paths[0] if paths and paths[0].is_dir() else Path.cwd()
    git = ["git", "-C", str(folder)]
    listing = _git([*git, "rev-list", "--objects", "--all"])
    blobs: dict[str, str] = {}  # blob -> a path it had
    for line in listing.splitlines():
        object_id, _, path = line.partition(" ")
        if path:
            blobs.setdefault(object_id, path)
    kinds = _git(
        [*git, "cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)"],
        "\n".join(blobs),
    )
    wanted = [
        parts[0]
        for parts in (line.split() for line in kinds.splitlines())
        if len(parts) == 3 and parts[1] == "blob" and int(parts[2]) <= MAX_FILE_BYTES
    ]
    hits: list[Hit] = []
    process = subprocess.Popen(
        [*git, "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        for blob in wanted:
            process.stdin.write(blob.encode() + b"\n")
            process.stdin.flush()
            header = process.stdout.readline().split()
            size = int(header[2])
            content = process.stdout.read(size)
            process.stdout.read(1)  # the newline after each object
            found = list(_find(automaton, content, blobs[blob], None))
            if found:
                # the oldest commit that touched the blob: where the value came in
                touched = _git([*git, "log", "--all", "--format=%H", f"--find-object={blob}"])
                commit = touched.split()[-1] if touched.split() else ""
                hits.extend(
                    Hit(h.path, h.line, h.credential_id, h.kind, commit or None) for h in found
                )
    finally:
        process.stdin.close()
        process.wait()
    return hits, len(wanted)


def _git(argv: list[str], stdin: str | None = None) -> str:
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise UsageError("--git-history needs git on PATH") from None
    if done.returncode != 0:
        raise UsageError(
            f"--git-history: {argv[3]} is not in a git repository (git {argv[4]} failed)"
        )
    return done.stdout
