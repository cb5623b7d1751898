"""Names: slugs, a row's store name and field, its environment variable."""

from __future__ import annotations

import re

from credctl.backends.base import Backend
from credctl.errors import UsageError
from credctl.model import EnvironmentConfig, Row, parse_reference, slugify


def secret_name(
    row: Row, environment: EnvironmentConfig, backend: Backend
) -> tuple[str, str | None]:
    """The store name (and field) a row points at: its reference, or the naming rule."""
    reference = parse_reference(row.reference)
    if reference is None:
        try:
            return environment.secret_name(row.service, row.credential_type), None
        except ValueError as error:
            raise UsageError(
                f"{row.id}: {error}", hint="'credctl validate' names the row to fix"
            ) from None
    return backend.name_for(reference), reference.field


def env_var_name(row: Row, environment: EnvironmentConfig) -> str:
    """`Env Var` column, else the environment file's mapping, else SERVICE_CREDENTIAL_TYPE."""
    if row.env_var:
        return row.env_var
    relative = f"{slugify(row.service)}/{slugify(row.credential_type)}"
    for key, name in environment.env_vars.items():
        if key in (relative, row.id) or slugify(key) == slugify(relative):
            return name
    return re.sub(r"[^A-Za-z0-9]+", "_", f"{row.service}_{row.credential_type}").strip("_").upper()
