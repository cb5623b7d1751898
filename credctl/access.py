"""`credctl policy`: the least access a command needs on one environment's store, written
as that store's policy language (AWS IAM JSON, Vault/OpenBao HCL)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from credctl.backends.access import LADDER, SAME_ACCESS
from credctl.errors import UsageError
from credctl.model import EnvironmentConfig
from credctl.project import Project
from credctl.render import Styler
from credctl.results import Result
from credctl.rotation.rotators import rotator_type

Generator = Callable[[EnvironmentConfig, str, Sequence[str], set[str]], str]


@dataclass
class AccessPolicy(Result):
    """One policy document, printed as the store reads it."""

    environment: str
    command: str
    format: str
    document: str
    formats = ("table",)

    def as_text(self, style: Styler) -> str:
        return self.document

    def notes(self) -> list[str]:
        rung = SAME_ACCESS.get(self.command)
        same = f", the same as {rung}'s: it reads values" if rung else ""
        return [
            f"the {self.format} policy for credctl {self.command} on {self.environment}{same} "
            f"(each command's policy includes those below it: {' < '.join(LADDER)})"
        ]


def access_policy(
    project: Project, environment: EnvironmentConfig, command: str, fmt: str | None
) -> AccessPolicy:
    """The least-privilege policy `command` needs on `environment`'s store."""
    if command not in LADDER and command not in SAME_ACCESS:
        choices = ", ".join([*LADDER, *SAME_ACCESS])
        raise UsageError(f"no policy for {command!r} (choose from {choices})")
    if fmt is not None and fmt not in policy_formats():
        choices = ", ".join(policy_formats())
        raise UsageError(f"unknown policy format {fmt!r} (choose from {choices})")
    store = environment.backend_type
    if store.access is None:
        raise UsageError(
            f"environment {environment.name} uses the {store.type} store, which has no access "
            "policy: its files' permissions (0600, under .credctl/) are its policy"
        )
    kind, target = store.access
    if fmt is not None and fmt not in policy_formats():
        raise UsageError(
            f"unknown policy format {fmt!r} (choose from {', '.join(policy_formats())})"
        )
    if fmt is not None and fmt != kind:
        raise UsageError(
            f"environment {environment.name} uses the {store.type} store, whose policies are "
            f"{kind}, not {fmt}",
            hint=f"credctl policy --env {environment.name} --for {command} --format {kind}",
        )
    module, function = target.split(":")
    generate: Generator = getattr(importlib.import_module(module), function)
    credentials = project.credentials_in(environment)
    external = sorted(
        {
            credential.target(environment)[0]
            for credential in credentials
            if not credential.is_config
            and credential.ref is not None
            and not environment.owns(credential.target(environment)[0])
        }
    )
    rotators = {rotator_type(c.type_policy).name for c in credentials if c.type_policy}
    document = generate(environment, SAME_ACCESS.get(command, command), external, rotators)
    return AccessPolicy(environment.name, command, kind, document)


def policy_formats() -> list[str]:
    """Every policy format a store type writes (for --format's choices)."""
    from credctl.backends.registry import BACKENDS

    return sorted({entry.access[0] for entry in BACKENDS.values() if entry.access})
