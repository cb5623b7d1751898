"""What the shell completes from the project: environment names, credential ids, services
and credential types. Read from the project's files only: no store is opened, nothing goes
over the network, and a project that does not load completes what its folder still tells
(or nothing) instead of failing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from credctl.credential import Credential
from credctl.errors import CredctlError
from credctl.model import slugify
from credctl.project import Project, load_project
from credctl.settings import find_project_dir, load_settings


@dataclass(frozen=True)
class Candidate:
    """One completion: the word the shell inserts and what zsh and fish show beside it."""

    value: str
    help: str = ""


def _project(project_dir: Path | None, table: str | None) -> Project:
    return load_project(load_settings(project_dir, table=table))


def environments(project_dir: Path | None, table: str | None) -> list[Candidate]:
    """The environments' names, with their store type; from the folder when they do not load."""
    try:
        project = _project(project_dir, table)
    except CredctlError:
        try:
            folder = find_project_dir(project_dir) / "environments"
        except CredctlError:
            return []
        names = {path.stem for pattern in ("*.yaml", "*.yml") for path in folder.glob(pattern)}
        return [Candidate(name) for name in sorted(names)]
    return [
        Candidate(name, f"{environment.backend.type} store")
        for name, environment in sorted(project.environments.items())
    ]


def credential_ids(project_dir: Path | None, table: str | None) -> list[Candidate]:
    """Every credential's id in its slug form (`prod/stripe/api-key`), with its owner."""
    return [
        Candidate(credential.id, _described(credential))
        for credential in _credentials(project_dir, table)
    ]


def secret_credential_ids(project_dir: Path | None, table: str | None) -> list[Candidate]:
    """The ids of the credentials with a value in a store (what `set` and `rotate` take)."""
    return [
        Candidate(credential.id, _described(credential))
        for credential in _credentials(project_dir, table)
        if not credential.is_config
    ]


def services(project_dir: Path | None, table: str | None) -> list[Candidate]:
    """The services of the table, as `--service` takes them (slugs: no quoting needed)."""
    return _distinct(_credentials(project_dir, table), lambda credential: credential.service)


def credential_types(project_dir: Path | None, table: str | None) -> list[Candidate]:
    """The credential types of the table and the policies, as `--type` takes them (slugs)."""
    try:
        project = _project(project_dir, table)
    except CredctlError:
        return []
    named = [*project.policy.type_names(), *(c.credential_type for c in project.credentials)]
    return _distinct_names(named)


def _credentials(project_dir: Path | None, table: str | None) -> list[Credential]:
    try:
        return list(_project(project_dir, table).credentials)
    except CredctlError:
        return []


def _described(credential: Credential) -> str:
    owner = credential.owner.strip() or "no owner"
    return f"{credential.service} {credential.credential_type} ({owner})"


def _distinct(credentials: list[Credential], name: Callable[[Credential], str]) -> list[Candidate]:
    return _distinct_names([name(credential) for credential in credentials])


def _distinct_names(names: list[str]) -> list[Candidate]:
    """One candidate per slug, shown with the first spelling met."""
    found: dict[str, str] = {}
    for name in names:
        slug = slugify(name)
        if slug:
            found.setdefault(slug, name)
    return [Candidate(slug, shown) for slug, shown in sorted(found.items())]
