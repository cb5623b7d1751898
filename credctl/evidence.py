"""What an auditor needs to rely on a report: what produced it, from which inputs, and
that its population is complete (every secret listed is accounted for)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from credctl.audit import CredentialStatus
    from credctl.project import Project


@dataclass
class Population:
    """One store's share of a report: what was listed and where each secret went.

    `listed` = `matched` + `orphans` + `unmanaged` + `deleted`: every secret the store
    listed under the prefix is named by a row, an orphan, unmanaged, or deleted.
    """

    environment: str
    store: str
    listed: int = 0
    matched: int = 0  # listed secrets that rows name
    orphans: int = 0
    unmanaged: int = 0
    deleted: int = 0  # listed, deleted or scheduled for deletion, named by no row
    rows: int = 0  # rows of the environment
    rows_in_store: int = 0
    rows_missing: int = 0
    rows_config: int = 0  # configuration rows, whose value is in the table

    @property
    def reconciles(self) -> bool:
        return self.listed == self.matched + self.orphans + self.unmanaged + self.deleted

    def count(self, status: CredentialStatus) -> None:
        """Count one row of the environment by what the audit found."""
        self.rows += 1
        if not status.secret:
            self.rows_config += 1
        elif status.status == "missing":
            self.rows_missing += 1
        else:
            self.rows_in_store += 1

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "reconciles": self.reconciles}


def input_digests(project: Project) -> dict[str, str]:
    """SHA-256 of every file the report was made from: table, environments, policies, and
    owners.yaml when there is one (who left)."""
    files = [project.table.path]
    for folder in ("environments", "policies"):
        found = (project.root / folder).glob("*.y*ml")
        files += sorted(path for path in found if path.suffix in (".yaml", ".yml"))
    owners = project.root / "owners.yaml"
    if owners.is_file():
        files.append(owners)
    return {_shown(project.root, path): _sha256(path) for path in files}


def inputs_digest(digests: dict[str, str]) -> str:
    """One SHA-256 over every input's name and digest."""
    text = "".join(f"{name}\0{digest}\n" for name, digest in sorted(digests.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _shown(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
