"""Values put in a project's local store directly, as if credctl had been in use."""

from __future__ import annotations

from pathlib import Path

from credctl.backends.base import BackendContext
from credctl.backends.pool import open_backend
from credctl.model import EnvironmentConfig
from credctl.secret import Secret

CANARY = "canary-Vq7Lx2Pz9Ws4Kd1Jm8Hb"


def seed(project: Path, name: str, value: str, **metadata: str) -> None:
    """A managed secret `name` with `value` in the project's local store (its `prod` folder)."""
    environment = EnvironmentConfig.model_validate({"name": "prod", "backend": {"type": "local"}})
    backend = open_backend(environment, BackendContext(project_dir=project))
    backend.create(name, {"credctl:managed": "true", **metadata}, Secret(value))
