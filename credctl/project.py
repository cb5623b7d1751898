"""Load a user's project: environments, policies and the reference table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from credctl.checks import check_rows
from credctl.credential import Credential, parse_credentials
from credctl.errors import ConfigError, Problem, UsageError
from credctl.model import (
    EnvironmentConfig,
    EnvironmentPolicy,
    PolicyFile,
    slugify,
)
from credctl.policy import Policy
from credctl.settings import Settings
from credctl.table import LOCK_FILE, Table, read_table

M = TypeVar("M", bound=BaseModel)


@dataclass
class Project:
    """Everything credctl read from the project folder."""

    root: Path
    settings: Settings
    environments: dict[str, EnvironmentConfig]
    policy: Policy
    table: Table
    credentials: list[Credential] = field(default_factory=list)  # the table's rows, parsed
    # the rows by environment slug, for the list they were grouped from (credentials_in)
    _grouped: tuple[list[Credential], int, dict[str, list[Credential]]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def environment(self, name: str) -> EnvironmentConfig:
        for known_name, config in self.environments.items():
            if slugify(known_name) == slugify(name):
                return config
        known = ", ".join(sorted(self.environments)) or "none"
        raise UsageError(f"unknown environment {name!r} (known: {known})")

    def select(self, names: Sequence[str]) -> list[EnvironmentConfig]:
        """The environments asked for: the flags, else the settings, else all."""
        chosen = list(names) or list(self.settings.environments)
        if not chosen:
            return [self.environments[name] for name in sorted(self.environments)]
        return [self.environment(name) for name in chosen]

    def credentials_in(self, environment: EnvironmentConfig) -> list[Credential]:
        """The environment's rows, in the table's order (grouped in one pass over the
        table, not one pass per environment: 20 environments of 100 rows each)."""
        rows = self.credentials
        if self._grouped is None or self._grouped[0] is not rows or self._grouped[1] != len(rows):
            groups: dict[str, list[Credential]] = {}
            for credential in rows:
                groups.setdefault(slugify(credential.environment), []).append(credential)
            self._grouped = (rows, len(rows), groups)
        return list(self._grouped[2].get(slugify(environment.name), []))

    def find(self, credential_id: str) -> Credential:
        """A credential by `ENV/SERVICE/CREDENTIAL TYPE` or its slug form."""
        parts = credential_id.split("/")
        if len(parts) != 3:
            raise UsageError(
                f"invalid credential id {credential_id!r} "
                "(use ENV/SERVICE/CREDENTIAL TYPE, e.g. prod/stripe/api-key)"
            )
        wanted = tuple(slugify(part) for part in parts)
        for credential in self.credentials:
            if credential.key == wanted:
                return credential
        raise UsageError(f"no credential {credential_id!r} in {self.table.display}")

    def problems(self) -> list[Problem]:
        return check_rows(self.credentials, self.environments)


def load_project(settings: Settings) -> Project:
    """Read and check every file; all problems are reported together."""
    root = settings.project_dir
    problems: list[Problem] = []
    environments = _load_environments(root, problems)
    policy = _load_policies(root, problems, environments)
    table: Table | None = None
    hint = None
    try:
        path, display = _table_path(root, settings)
        table = read_table(path, display, lock_path=root / LOCK_FILE)
    except ConfigError as error:
        problems.extend(error.problems)
        hint = error.hint
    if problems or table is None:
        raise ConfigError(problems, hint=hint)
    credentials = parse_credentials(table.rows, environments, policy)
    return Project(root, settings, environments, policy, table, credentials)


def _table_path(root: Path, settings: Settings) -> tuple[Path, str]:
    if settings.table:
        path = Path(settings.table)
        path = path if path.is_absolute() else root / path
    else:
        markdown, listing = root / "credentials.md", root / "credentials.yaml"
        path = listing if listing.exists() and not markdown.exists() else markdown
    return path, _display(root, path)


def _display(root: Path, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def _yaml_files(folder: Path) -> list[Path]:
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def _read_yaml(path: Path, display: str) -> tuple[Any, yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(Problem(display, None, f"cannot read: {error.strerror}")) from None
    except UnicodeDecodeError:
        raise ConfigError(Problem(display, None, "not valid UTF-8")) from None
    try:
        data, node = yaml.safe_load(text), yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        reason = getattr(error, "problem", None) or "invalid YAML"
        raise ConfigError(
            Problem(display, mark.line + 1 if mark else None, f"invalid YAML: {reason}")
        ) from None
    duplicates = _duplicate_keys(node, display)
    if duplicates:
        raise ConfigError(duplicates)
    return data, node


def load_yaml_model(path: Path, display: str, model: type[M]) -> M:
    """A YAML file read as one model; every problem located by file, line and key."""
    data, node = _read_yaml(path, display)
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as error:
        raise ConfigError(_validation_problems(error, display, node)) from None


def _duplicate_keys(root: yaml.Node | None, display: str) -> list[Problem]:
    """Keys given twice in one mapping: YAML loaders silently keep the last."""
    problems = []
    pending, visited = [root], set()
    while pending:
        node = pending.pop()
        if node is None or id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                pending.append(value)
                if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                    continue
                line = key.start_mark.line + 1
                earlier = first.get((key.tag, key.value))
                if earlier is None:
                    first[key.tag, key.value] = line
                else:
                    where = "twice on this line" if earlier == line else f"first at line {earlier}"
                    problems.append(
                        Problem(
                            display,
                            line,
                            f"duplicate key {key.value!r} ({where}); remove one",
                            "duplicate",
                        )
                    )
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
    return sorted(problems, key=lambda problem: problem.line or 0)


def _line_of(node: yaml.Node | None, location: Iterable[int | str]) -> int | None:
    """The line of a key path in a composed YAML document (the deepest found)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in location:
        if isinstance(node, yaml.MappingNode):
            match = next((pair for pair in node.value if pair[0].value == part), None)
            if match is None:
                return line
            line = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _validation_problems(
    error: ValidationError, display: str, node: yaml.Node | None, strip: int = 0
) -> list[Problem]:
    problems = []
    for item in error.errors():
        location = [
            part for part in item["loc"] if not str(part).startswith(("function-", "tagged"))
        ]
        location = location[strip:]
        key = ".".join(str(part) for part in location) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "missing":
            message = "required key is missing"
        problems.append(Problem(display, _line_of(node, location), f"{key}: {message}"))
    return problems


def _load_environments(root: Path, problems: list[Problem]) -> dict[str, EnvironmentConfig]:
    folder = root / "environments"
    environments: dict[str, EnvironmentConfig] = {}
    if not folder.is_dir():
        problems.append(Problem("environments/", None, "folder is missing"))
        return environments
    files: dict[str, str] = {}  # slug -> the file that defines it
    nodes: dict[str, tuple[str, yaml.Node | None]] = {}
    for path in _yaml_files(folder):
        display = f"environments/{path.name}"
        slug = slugify(path.stem)
        if not slug:
            problems.append(
                Problem(display, None, "the file name has no ASCII letter or digit; rename it")
            )
            continue
        if slug in files:
            problems.append(
                Problem(
                    display,
                    None,
                    f"environment {path.stem!r} is also defined by {files[slug]} (names are "
                    "compared without case and punctuation); remove or rename one",
                    "duplicate",
                )
            )
            continue
        files[slug] = display
        try:
            data, node = _read_yaml(path, display)
        except ConfigError as error:
            problems.extend(error.problems)
            continue
        if not isinstance(data, dict):
            problems.append(Problem(display, 1, "expected a mapping with at least 'backend'"))
            continue
        if "name" in data:
            problems.append(
                Problem(
                    display,
                    _line_of(node, ["name"]),
                    "name: unknown key (the file name is the environment name)",
                )
            )
            continue
        try:
            environments[path.stem] = EnvironmentConfig.model_validate({**data, "name": path.stem})
            nodes[path.stem] = (display, node)
        except ValidationError as error:
            problems.extend(_validation_problems(error, display, node))
    problems.extend(_overlapping_prefixes(environments, nodes))
    if not environments and not problems:
        problems.append(
            Problem("environments/", None, "no environment files (add environments/<name>.yaml)")
        )
    return environments


def _overlapping_prefixes(
    environments: dict[str, EnvironmentConfig], nodes: dict[str, tuple[str, yaml.Node | None]]
) -> list[Problem]:
    """Two environments whose prefixes overlap on one store would list, sync and prune each
    other's secrets as their own."""
    problems = []
    checked: list[EnvironmentConfig] = []
    for name in sorted(environments):
        environment = environments[name]
        for other in checked:
            if environment.store != other.store:
                continue
            if not (
                environment.prefix.startswith(other.prefix)
                or other.prefix.startswith(environment.prefix)
            ):
                continue
            display, node = nodes[name]
            key = environment.backend.prefix_key
            problems.append(
                Problem(
                    display,
                    _line_of(node, ["backend", key]),
                    f"prefix {environment.prefix!r} overlaps environment {other.name}'s prefix "
                    f"{other.prefix!r} ({nodes[other.name][0]}) on the same store, so each would "
                    "take the other's "
                    f"secrets for its own; set backend.{key} so that neither contains the other",
                    "overlapping-prefix",
                )
            )
            break
        checked.append(environment)
    return problems


def _near_miss(name: str, known: dict[str, EnvironmentConfig]) -> str | None:
    """The known environment `name` is one typo away from (prdo -> prod), if any."""
    wanted = slugify(name)
    slugs = {slugify(known_name): known_name for known_name in known}
    if wanted in slugs:
        return None
    for slug, known_name in sorted(slugs.items()):
        if min(len(slug), len(wanted)) >= 3 and _one_edit_apart(wanted, slug):
            return known_name
    return None


def _one_edit_apart(first: str, second: str) -> bool:
    """One insertion, deletion, substitution or swap of neighbours turns one into the other."""
    if abs(len(first) - len(second)) > 1:
        return False
    if len(first) == len(second):
        diffs = [i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b]
        if len(diffs) == 1:
            return True
        i = diffs[0] if len(diffs) == 2 else -1
        return diffs == [i, i + 1] and first[i] == second[i + 1] and first[i + 1] == second[i]
    shorter, longer = sorted((first, second), key=len)
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


def _load_policies(
    root: Path, problems: list[Problem], known: dict[str, EnvironmentConfig]
) -> Policy:
    folder = root / "policies"
    defaults: dict[str, Any] = {}
    defined: dict[str, str] = {}  # "section.key" -> file that defined it
    types: dict[str, tuple[str, Any]] = {}
    type_locations: dict[str, tuple[str, int | None]] = {}
    environments: dict[str, EnvironmentPolicy] = {}
    environment_rules: list[tuple[str, str, int | None]] = []  # (key, file, line)
    files = _yaml_files(folder) if folder.is_dir() else []
    for path in files:
        display = f"policies/{path.name}"
        try:
            data, node = _read_yaml(path, display)
        except ConfigError as error:
            problems.extend(error.problems)
            continue
        if data is None:
            continue
        try:
            parsed = PolicyFile.model_validate(data)
        except ValidationError as error:
            problems.extend(_validation_problems(error, display, node))
            continue
        sections: list[tuple[str, str, object, BaseModel | None]] = [
            ("defaults", key, value, None)
            for key, value in parsed.defaults.model_dump(exclude_unset=True).items()
        ]
        sections += [("credential_types", k, v, v) for k, v in parsed.credential_types.items()]
        sections += [("environments", k, v, v) for k, v in parsed.environments.items()]
        for section, key, value, _ in sections:
            slug = f"{section}.{slugify(key) if section != 'defaults' else key}"
            if slug in defined:
                problems.append(
                    Problem(
                        display,
                        _line_of(node, [section, key]),
                        f"{section}.{key} is also defined in {defined[slug]}",
                        "duplicate",
                    )
                )
                continue
            defined[slug] = display
            if section == "defaults":
                defaults[key] = value
            elif section == "credential_types":
                types[slugify(key)] = (key, value)
                type_locations[slugify(key)] = (display, _line_of(node, [section, key]))
            else:
                assert isinstance(value, EnvironmentPolicy)
                environments[slugify(key)] = value
                environment_rules.append((key, display, _line_of(node, [section, key])))
    # A misspelt environment (prdo) would silently leave prod without rules. Rules for
    # environments this project lacks are fine (policies are shared), and so is a name
    # close to one that has rules of its own (prod and prod2).
    for key, display, line in environment_rules:
        typo_of = _near_miss(key, known)
        if typo_of is not None and slugify(typo_of) not in environments:
            problems.append(
                Problem(
                    display,
                    line,
                    f"environments.{key}: no such environment; did you mean {typo_of!r}?",
                )
            )
    return Policy(
        defaults=EnvironmentPolicy.model_validate(defaults),
        credential_types=types,
        environments=environments,
        type_locations=type_locations,
    )
