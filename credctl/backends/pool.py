"""Opening backends: one environment's (`open_backend`, from the registry's factory),
and every environment's of a run, each on first use (`Backends`)."""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from credctl.backends.base import Backend, BackendContext, BuiltOnce
from credctl.backends.registry import BACKENDS
from credctl.errors import ConfigError, Problem
from credctl.model import EnvironmentConfig


def open_backend(environment: EnvironmentConfig, context: BackendContext) -> Backend:
    """Build the backend of an environment, importing its module on first use."""
    entry = BACKENDS.get(environment.backend.type)
    if entry is None:
        raise ConfigError(
            Problem(
                f"environments/{environment.name}.yaml",
                None,
                f"unknown backend type {environment.backend.type!r}",
            )
        )
    module_name, factory_name = entry.factory.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(
            Problem(
                f"environments/{environment.name}.yaml",
                None,
                f"the {entry.type} backend cannot be loaded (missing module {error.name})",
            ),
            hint=_reinstall_hint(error.name or module_name),
        ) from None
    factory: Callable[[EnvironmentConfig, BackendContext], Backend] = getattr(module, factory_name)
    return factory(environment, context)


def _reinstall_hint(missing: str) -> str:
    """A vendor SDK left out of credctl's environment, or an incomplete copy of credctl."""
    package = missing.split(".")[0]
    if package == "credctl":
        return "reinstall credctl: this copy is incomplete (README: Install)"
    return f"install it where credctl runs: {sys.executable} -m pip install {package}"


class ProjectFolder(Protocol):
    """What the pool needs of a project: the folder relative store paths start from."""

    @property
    def root(self) -> Path: ...


class Backends:
    """Opens each environment's backend on first use and closes them all at the end; the
    vendor clients they share (`BackendContext.clients`) are closed after them."""

    def __init__(self, project: ProjectFolder) -> None:
        self.project = project
        # environments open their stores from their own threads, each once, at once
        self._open = BuiltOnce[Backend](lambda backend: backend.close())
        self._clients = BuiltOnce[Any](lambda client: client.close())

    def get(self, environment: EnvironmentConfig) -> Backend:
        context = BackendContext(project_dir=self.project.root, clients=self._clients)
        return self._open.get(environment.name, lambda: open_backend(environment, context))

    def close(self) -> None:
        try:
            self._open.close()
        finally:
            self._clients.close()


@contextlib.contextmanager
def backends_for(project: ProjectFolder) -> Iterator[Backends]:
    """A pool for the block, every backend it opened closed at its end."""
    backends = Backends(project)
    try:
        yield backends
    finally:
        backends.close()
