"""Settings: flags, then `CREDCTL_*` variables, then `credctl.toml`, then
`[tool.credctl]` in `pyproject.toml` (first wins). Built once, passed down."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    PyprojectTomlConfigSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from credctl.errors import ConfigError, Problem


class Settings(BaseSettings):
    """What a run of credctl is configured with."""

    model_config = SettingsConfigDict(
        env_prefix="CREDCTL_", extra="forbid", pyproject_toml_table_header=("tool", "credctl")
    )

    project_dir: Path
    table: str | None = None
    environments: Annotated[list[str], NoDecode] = []
    actor: str | None = None
    format: str | None = None

    @field_validator("environments", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        # CREDCTL_ENVIRONMENTS=dev,staging reads as a list, as people write it.
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str | None) -> str | None:
        from credctl.render import RENDERERS

        if value is not None and value not in RENDERERS:
            raise ValueError(f"unknown format {value!r} (choose from {', '.join(RENDERERS)})")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        project_dir = Path(_CONTEXT.get("project_dir", "."))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=project_dir / "credctl.toml"),
            PyprojectTomlConfigSettingsSource(
                settings_cls, toml_file=project_dir / "pyproject.toml"
            ),
        )


_CONTEXT: dict[str, Path] = {}


def find_project_dir(explicit: Path | None) -> Path:
    """`--project-dir`, else `CREDCTL_PROJECT_DIR`, else the nearest folder with `environments/`."""
    chosen = explicit or (
        Path(os.environ["CREDCTL_PROJECT_DIR"]) if os.environ.get("CREDCTL_PROJECT_DIR") else None
    )
    if chosen is not None:
        if not chosen.is_dir():
            raise ConfigError(Problem(str(chosen), None, "project folder does not exist"))
        return chosen.resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "environments").is_dir():
            return folder
    raise ConfigError(
        Problem(str(here), None, "no credctl project here (no environments/ folder at or above)"),
        hint="run 'credctl init' to create one, or pass --project-dir",
    )


def load_settings(project_dir: Path | None = None, **flags: Any) -> Settings:
    """Resolve the project folder, then read the settings sources in order."""
    folder = find_project_dir(project_dir)
    _CONTEXT["project_dir"] = folder
    given = {key: value for key, value in flags.items() if value not in (None, (), [])}
    try:
        return Settings(project_dir=folder, **given)
    except ValidationError as error:
        problems = [
            Problem(
                "settings",
                None,
                f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
                " (from flags, CREDCTL_* variables, credctl.toml or [tool.credctl])",
            )
            for item in error.errors()
        ]
        raise ConfigError(problems) from None
    except ValueError as error:  # a malformed TOML file
        raise ConfigError(Problem("credctl.toml or pyproject.toml", None, str(error))) from None
