"""Recording a change credctl made: the audit log and the table, and checking first that
both can be written (a change made in a store must never be reported as a failure)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from credctl import auditlog
from credctl.errors import UsageError
from credctl.project import Project


def record_committed(
    project: Project, updates: dict[str, dict[str, str]], entry: auditlog.Entry
) -> list[str]:
    """Record a committed change in the audit log and the table; what could not be written.

    Never raises for a local write: the change is in the store already, so the caller
    reports what is missing instead of a failure that a retry would repeat.
    """
    missing = []
    try:
        auditlog.append(project.root, entry)
    except OSError as error:
        missing.append(f"the audit log entry ({auditlog.LOG_PATH}: {error.strerror})")
    if updates:
        _, problem = save_table(project, updates)
        if problem is not None:
            missing.append(problem)
    return missing


def save_table(project: Project, updates: dict[str, dict[str, str]]) -> tuple[bool, str | None]:
    """Write the table's owned cells: whether the file changed, and what failed, if anything.

    A failure is described, not raised: the change it records is in the store already.
    """
    try:
        return project.table.save(updates).written, None
    except OSError as error:
        return False, f"the table's cells ({project.table.display}: {error.strerror})"


def not_recorded_hint(
    project: Project, command: str, *, table_missing: bool, metadata_missing: bool = False
) -> str:
    """What to do after a committed change could not be recorded: never the change again."""
    if table_missing:
        then = (
            f"once {project.table.display} is writable, 'credctl sync' writes its Last "
            "Rotated from the store"
        )
    elif metadata_missing:
        then = "'credctl sync' records its last rotation in the store (the value stays marked as staged until then)"
    else:
        then = "the audit log lacks this entry"
    return f"do not {command} it again, the value is in place; {then}"


def check_can_record(project: Project, command: str) -> None:
    """Refuse before any store is touched when the table or `.credctl/` cannot be written.

    A command that changes a store records the change in the table and the audit
    log afterwards; finding out only then would report a committed change as a
    failure, and a retry would make it twice.
    """
    table = project.table.path
    state = project.root / auditlog.LOG_PATH.parent
    checks: list[tuple[Path, bool]] = [(table, False), (table.parent, True)]
    if state.is_dir():
        checks.append((state, True))
        for inside in (project.root / auditlog.LOG_PATH, state / "locks"):
            if inside.exists():
                checks.append((inside, inside.is_dir()))
    else:
        checks.append((state.parent, True))
    for path, is_folder in checks:
        problem = _unwritable(path, is_folder)
        if problem is not None:
            shown = _relative(project.root, path)
            raise UsageError(
                f"cannot write {shown} ({problem}): {command} records its changes in "
                f"{project.table.display} and {auditlog.LOG_PATH}, so nothing was changed",
                hint=f"make it writable (chmod u+w {shown}) and run it again",
            )


def _unwritable(path: Path, is_folder: bool) -> str | None:
    """Why `path` cannot be written (by trying: permission bits do not tell for root)."""
    try:
        if is_folder:
            handle, probe = tempfile.mkstemp(prefix=".credctl-probe-", dir=path)
            os.close(handle)
            os.unlink(probe)
        else:
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
    except FileNotFoundError:
        return None  # created when first written, in a folder checked too
    except OSError as error:
        return error.strerror or type(error).__name__
    return None


def _relative(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root)) or "."
    except ValueError:
        return str(path)
