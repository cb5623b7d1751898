"""Secrets put straight into a project's local store, as if credctl had made them earlier."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from credctl.backends.base import BackendContext, batched
from credctl.backends.pool import open_backend
from credctl.model import EnvironmentConfig
from credctl.secret import Secret

CANARY = "canary-Vq7Lx2Pz9Ws4Kd1Jm8Hb"


def seed(project: Path, name: str, value: str, **metadata: str) -> None:
    """One credctl-managed secret `name` with `value` in the project's local store (`prod`)."""
    seed_many(project, [(name, value)], **metadata)


def seed_many(project: Path, secrets: Iterable[tuple[str, str]], **metadata: str) -> None:
    """Many credctl-managed secrets, written to the local store's file once."""
    environment = EnvironmentConfig.model_validate({"name": "prod", "backend": {"type": "local"}})
    backend = open_backend(environment, BackendContext(project_dir=project))
    with batched(backend):
        for name, value in secrets:
            backend.create(name, {"credctl:managed": "true", **metadata}, Secret(value))
    backend.close()
