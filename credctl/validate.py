"""`credctl validate`: every problem of the table, environments and policies; no network."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from credctl.errors import ConfigError, CredctlError, Problem
from credctl.owners import load_owners
from credctl.policy import provider_warnings, schedule_warning
from credctl.project import Project
from credctl.results import Result


@dataclass
class Validation(Result):
    """The problems found (each with file and line) and the warnings."""

    project: Project
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "valid": not self.problems,
            "problems": [
                {"file": p.file, "line": p.line, "code": p.code, "message": p.message}
                for p in self.problems
            ],
            "warnings": self.warnings,
        }

    def notes(self) -> list[str]:
        if self.problems:
            return []
        project = self.project
        return [f"warning: {warning}" for warning in self.warnings] + [
            f"OK: {len(project.credentials)} credentials, {len(project.environments)} environments "
            f"({', '.join(sorted(project.environments))}), "
            f"{len(project.policy.credential_types)} credential types in {project.table.display}"
        ]

    def exit_code(self) -> int:
        return ConfigError.exit_code if self.problems else 0

    def failure(self, fmt: str) -> CredctlError | None:
        # the JSON document lists the problems itself
        return ConfigError(self.problems) if self.problems and fmt != "json" else None


def validate(project: Project, environments: Sequence[str] = ()) -> Validation:
    """Check everything that needs no network; unknown environment names are usage errors."""
    for name in environments:
        project.environment(name)
    problems = project.problems()
    try:  # reminders and the audit read it: a mistake in it is found here first
        load_owners(project.root)
    except ConfigError as error:
        problems.extend(error.problems)
    warnings = provider_warnings(project.policy)
    for credential in project.credentials:
        if credential.type_policy is None:
            continue
        warning = schedule_warning(credential, credential.policy)
        if warning is not None:
            warnings.append(f"{credential.file}:{credential.line}: {warning}")
    return Validation(project, problems, warnings)
