"""Seed the demo's dev store as if it had been in use for a while.

Values are random; each secret's `credctl:last-rotated` is taken from the
table's Last Rotated, so the audit tells the table's story (some overdue,
some due soon). Used only by `make demo`; real projects use `credctl sync`.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from credctl.backends.pool import backends_for
from credctl.model import META_LAST_ROTATED, row_key
from credctl.project import load_project
from credctl.schedule import format_timestamp
from credctl.secret import Secret
from credctl.settings import load_settings
from credctl.staging import metadata_for


def main(project_dir: Path, environment_name: str) -> None:
    project = load_project(load_settings(project_dir))
    environment = project.environment(environment_name)
    with backends_for(project) as backends:
        backend = backends.get(environment)
        existing = {info.name for info in backend.list_secrets()}
        created = 0
        for credential in project.credentials_in(environment):
            if credential.is_config:
                continue
            name, _ = credential.target(environment)
            if name in existing:
                continue
            metadata = metadata_for(credential)
            if credential.rotated_on is not None:
                last_rotated = row_key(META_LAST_ROTATED, credential.field)
                metadata[last_rotated] = format_timestamp(credential.rotated_on)
            backend.create(name, metadata, Secret(secrets.token_urlsafe(24)))
            created += 1
    print(f"seeded {created} secrets in the {environment_name} store ({backend.describe()})")


def unmanaged(project_dir: Path, environment_name: str, name: str) -> None:
    """A secret another tool made under the prefix: credctl plan shows it as unmanaged."""
    project = load_project(load_settings(project_dir))
    with backends_for(project) as backends:
        backend = backends.get(project.environment(environment_name))
        backend.create(name, {"team:created-by": "terraform"}, Secret(secrets.token_urlsafe(24)))
    print(f"created {name} outside credctl")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[3] == "--unmanaged":
        unmanaged(Path(sys.argv[1]), sys.argv[2], sys.argv[4])
    else:
        main(Path(sys.argv[1]), sys.argv[2])
