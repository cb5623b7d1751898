"""References stay inside their environment's store prefix, and one secret belongs to one row."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from credctl.backends.aws import AwsBackend
from credctl.backends.base import BackendContext
from credctl.backends.local import LocalBackend
from credctl.backends.pool import open_backend
from credctl.backends.vault import VaultBackend
from credctl.errors import UsageError
from credctl.model import EnvironmentConfig, Ref
from credctl.secret import Secret
from tests.support.fixtures import Store, project_env, vault_environment_yaml
from tests.support.projects import HEADER, LOCAL_ENV, make_project, row
from tests.support.runner import credctl
from tests.support.servers import OpenBao

CANARY = "sk_live_Canary0123456789abcdefXYZ"


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error: ")]


def validate_errors(project: Path) -> list[str]:
    result = credctl(project, "validate")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return errors(result.stderr)


def _store(project: Path) -> Any:
    environment = EnvironmentConfig.model_validate(
        {"name": "seed", "backend": {"type": "local", "prefix": ""}}
    )
    return open_backend(environment, BackendContext(project_dir=project))


def seed(project: Path, name: str, value: str) -> None:
    _store(project).create(name, {"credctl:managed": "true"}, Secret(value))


def stored(project: Path, name: str) -> str:
    ref = Ref("local", name)
    return str(_store(project).read_values([ref])[ref].reveal())


@pytest.fixture(autouse=True)
def _no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDCTL_LOCAL_KEY", raising=False)


# ------------------------------------------------------- names that could escape

ESCAPES = "credctl never follows it, as the store would resolve it to another place"


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        ("local://../../x", "has a '..' path segment"),
        ("local://prod/../dev/stripe/api-key", "has a '..' path segment"),
        ("local://prod/./stripe/api-key", "has a '.' path segment"),
        ("local://prod//stripe/api-key", "has an empty path segment"),
        ("local:///prod/stripe/api-key", "has an empty path segment"),
        ("local://prod/stripe/", "has an empty path segment"),
        ("local://prod\\stripe\\api-key", "has a backslash"),
    ],
)
def test_references_with_segments_that_escape_are_refused(
    tmp_path: Path, reference: str, problem: str
) -> None:
    project = make_project(tmp_path, [row(reference=reference)])
    assert validate_errors(project) == [
        f"Error: credentials.md:5: reference {reference} {problem}"
        + (" (a leading, trailing or doubled /)" if "empty" in problem else "")
        + f": {ESCAPES}"
    ]


def test_a_control_character_in_a_reference_is_refused_without_echoing_it(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path, [row(reference="local://prod/stripe\x1b[2J/api-key")])
    result = credctl(project, "validate")
    assert result.exit_code == 2
    assert errors(result.stderr) == [
        "Error: credentials.md:5: Value/Reference has a control character"
    ]
    assert "\x1b" not in result.output


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        (
            "backend: {type: local, prefix: ../../sys/}\n",
            "environments/prod.yaml:1: backend.prefix: Value error, '../../sys/' has a '..' "
            "path segment",
        ),
        (
            "backend: {type: aws, region: eu-west-1, prefix: /prod/}\n",
            "environments/prod.yaml:1: backend.prefix: Value error, '/prod/' has an empty path "
            "segment (a leading, trailing or doubled /)",
        ),
        (
            "backend: {type: vault, url: 'http://127.0.0.1:8200', path_prefix: ../../sys/}\n",
            "environments/prod.yaml:1: backend.path_prefix: Value error, '../../sys/' has a "
            "'..' path segment",
        ),
        (
            "backend:\n  type: vault\n  url: http://127.0.0.1:8200\n  mount: secret/../sys\n",
            "environments/prod.yaml:4: backend.mount: Value error, 'secret/../sys' has a '..' "
            "path segment",
        ),
        (
            "backend: {type: local, prefix: 'prod\\x/'}\n",
            "environments/prod.yaml:1: backend.prefix: Value error, 'prod\\\\x/' has a backslash",
        ),
        (
            LOCAL_ENV + "naming: '{service}/../{credential}'\n",
            "environments/prod.yaml:3: naming: Value error, '{service}/../{credential}' has a "
            "'..' path segment",
        ),
        (
            LOCAL_ENV + "naming: '{service}//{credential}'\n",
            "environments/prod.yaml:3: naming: Value error, '{service}//{credential}' has an "
            "empty path segment (a leading, trailing or doubled /)",
        ),
        (
            LOCAL_ENV + "external: ['../other/']\n",
            "environments/prod.yaml:3: external: Value error, entry '../other/' has a '..' "
            "path segment",
        ),
    ],
)
def test_prefixes_mounts_and_naming_that_escape_are_refused(
    tmp_path: Path, environment: str, expected: str
) -> None:
    project = make_project(tmp_path, environments={"prod": environment, "dev": LOCAL_ENV})
    assert validate_errors(project) == ["Error: " + expected]


def _backends(tmp_path: Path) -> list[Any]:
    def environment(backend: dict[str, str]) -> EnvironmentConfig:
        return EnvironmentConfig.model_validate({"name": "prod", "backend": backend})

    return [
        LocalBackend(environment({"type": "local"}), tmp_path, bytes(32)),
        AwsBackend(environment({"type": "aws", "region": "eu-west-1"}), client=None),
        VaultBackend(environment({"type": "vault"}), "http://127.0.0.1:8200"),
    ]


@pytest.mark.parametrize("name", ["../../other/data/team-b/db", "prod//x", "prod/./x", "a\\b"])
def test_no_backend_builds_a_name_that_escapes(tmp_path: Path, name: str) -> None:
    for backend in _backends(tmp_path):
        scheme = backend.reference("x").split("://")[0]
        mount = "secret/" if scheme == "vault" else ""
        with pytest.raises(UsageError, match="credctl never follows it"):
            backend.name_for(Ref(scheme, mount + name, "password"))
        assert backend.name_for(Ref(scheme, mount + "prod/x")) == "prod/x"


def test_a_naming_result_that_escapes_is_never_built() -> None:
    environment = EnvironmentConfig.model_validate({"name": "dev", "backend": {"type": "local"}})
    with pytest.raises(ValueError, match="'dev//api-key' for €€ / API Key has an empty path"):
        environment.secret_name("€€", "API Key")


@pytest.mark.integration
def test_vault_reference_into_another_mount_never_reads_it(
    tmp_path: Path, openbao: OpenBao
) -> None:
    mount = f"other-{uuid.uuid4().hex[:6]}"
    openbao.bao("secrets", "enable", f"-path={mount}", "kv-v2")
    openbao.bao("kv", "put", f"-mount={mount}", "team-b/db", f"password={CANARY}")
    reference = f"vault://secret/../../{mount}/data/team-b/db#password"
    project = make_project(
        tmp_path,
        [row(reference=reference)],
        environments={"prod": vault_environment_yaml(openbao.url, "prod/")},
    )
    env = project_env(openbao)
    checked = credctl(project, "validate", env=env)
    assert checked.exit_code == 2
    assert errors(checked.stderr) == [
        f"Error: credentials.md:5: reference {reference} has a '..' path segment: {ESCAPES}"
    ]
    for command in (["get", "prod/stripe/api-key"], ["env", "--env", "prod", "-o", "-"]):
        result = credctl(project, *command, env=env)
        assert result.exit_code == 2, result.output
        assert CANARY not in result.output
        assert errors(result.stderr) == errors(checked.stderr)


# ------------------------------------------------- inside the environment's prefix


def test_a_row_cannot_point_into_another_environments_prefix(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        [row(environment="dev", reference="local://prod/stripe/api-key", owner="")],
        # listing it as external does not help: prod's prefix belongs to prod
        environments={"prod": LOCAL_ENV, "dev": LOCAL_ENV + "external: ['prod/']\n"},
    )
    seed(project, "prod/stripe/api-key", CANARY)
    message = (
        "Error: credentials.md:5: reference local://prod/stripe/api-key of dev/stripe/api-key is "
        "in environment prod's prefix 'prod/' on the same store: a dev row cannot point into "
        "prod (use a name under 'dev/', or make it a prod row)"
    )
    assert validate_errors(project) == [message]
    commands = (
        ["sync"],
        ["set", "dev/stripe/api-key"],
        ["rotate", "dev/stripe/api-key"],
        ["get", "dev/stripe/api-key"],
        ["env", "--env", "dev", "-o", "-"],
        ["run", "--env", "dev", "--", "true"],
    )
    for command in commands:
        result = credctl(project, *command, input="new-value")
        assert result.exit_code == 2, result.output
        assert errors(result.stderr) == [message]
        assert CANARY not in result.output
    assert stored(project, "prod/stripe/api-key") == CANARY  # prod's value untouched


@pytest.mark.integration
def test_a_row_pointing_into_another_environment_writes_nothing_on_any_store(
    tmp_path: Path, store: Store
) -> None:
    prod, dev = (f"{name}-{uuid.uuid4().hex[:6]}/" for name in ("prod", "dev"))
    reference = f"{store.scheme_prefix()}{prod}stripe/api-key"
    project = make_project(
        tmp_path,
        [row(environment="dev", reference=reference, owner="")],
        environments={"prod": store.environment_yaml(prod), "dev": store.environment_yaml(dev)},
    )
    for command in (["validate"], ["sync"], ["set", "dev/stripe/api-key"]):
        result = credctl(project, *command, input="new-value", env=store.env)
        assert result.exit_code == 2, result.output
        assert f"is in environment prod's prefix '{prod}' on the same store" in result.stderr
    # nothing was written into prod: its own row finds no secret there
    (project / "credentials.md").write_text("# Credentials\n\n" + HEADER + row(reference=reference))
    missing = credctl(project, "get", "prod/stripe/api-key", env=store.env)
    assert missing.exit_code == 3, missing.output  # "does not exist" / "has no value"
    assert "new-value" not in missing.output


@pytest.mark.integration
def test_external_rows_validate_and_read_on_every_store(tmp_path: Path, store: Store) -> None:
    prefix, shared = (f"{name}-{uuid.uuid4().hex[:6]}/" for name in ("prod", "shared"))
    store.put_unmanaged(str(tmp_path), f"{shared}db", CANARY)
    reference = f"{store.scheme_prefix()}{shared}db"
    project = make_project(
        tmp_path, [row(reference=reference)], environments={"prod": store.environment_yaml(prefix)}
    )
    refused = credctl(project, "validate", env=store.env)
    assert errors(refused.stderr) == [
        f"Error: credentials.md:5: reference {reference} is outside environment prod's prefix "
        f"'{prefix}'; if prod/stripe/api-key really lives there, add '{shared}db' to external: "
        "in environments/prod.yaml"
    ]
    environment = store.environment_yaml(prefix, external=f"['{shared}*']")
    (project / "environments" / "prod.yaml").write_text(environment)
    assert credctl(project, "validate", env=store.env).exit_code == 0
    got = credctl(project, "get", "prod/stripe/api-key", env=store.env)
    assert (got.exit_code, got.stdout) == (0, CANARY), got.output
    written = credctl(project, "env", "--env", "prod", "-o", "-", "--format", "json", env=store.env)
    assert json.loads(written.stdout) == {"STRIPE_API_KEY": CANARY}


@pytest.mark.integration
def test_a_reference_that_escapes_is_never_read_on_any_store(tmp_path: Path, store: Store) -> None:
    prefix, shared = (f"{name}-{uuid.uuid4().hex[:6]}/" for name in ("prod", "shared"))
    store.put_unmanaged(str(tmp_path), f"{shared}db", CANARY)
    reference = f"{store.scheme_prefix()}{prefix}../{shared}db"
    project = make_project(
        tmp_path, [row(reference=reference)], environments={"prod": store.environment_yaml(prefix)}
    )
    for command in (["validate"], ["get", "prod/stripe/api-key"], ["env", "-o", "-"]):
        result = credctl(project, *command, env=store.env)
        assert result.exit_code == 2, result.output
        assert f"reference {reference} has a '..' path segment" in result.stderr
        assert CANARY not in result.output


def test_other_stores_are_not_other_environments(tmp_path: Path) -> None:
    elsewhere = "backend: {type: local, path: .credctl/other-store}\n"
    project = make_project(
        tmp_path,
        [row(environment="dev", reference="local://prod/stripe/api-key", owner="")],
        environments={"prod": elsewhere, "dev": LOCAL_ENV + "external: ['prod/']\n"},
    )
    assert credctl(project, "validate").exit_code == 0


def test_outside_the_prefix_needs_external_and_the_hint_says_where(tmp_path: Path) -> None:
    project = make_project(tmp_path, [row(reference="local://shared/stripe#api_key")])
    seed(project, "shared/stripe", json.dumps({"api_key": CANARY}))
    assert validate_errors(project) == [
        "Error: credentials.md:5: reference local://shared/stripe#api_key is outside "
        "environment prod's prefix 'prod/'; if prod/stripe/api-key really lives there, add "
        "'shared/stripe' to external: in environments/prod.yaml"
    ]
    (project / "environments" / "prod.yaml").write_text(LOCAL_ENV + "external: [shared/stripe]\n")
    assert credctl(project, "validate").exit_code == 0
    assert credctl(project, "get", "prod/stripe/api-key").stdout == CANARY
    written = credctl(project, "env", "--env", "prod", "-o", "-", "--format", "json")
    assert json.loads(written.stdout) == {"STRIPE_API_KEY": CANARY}


@pytest.mark.parametrize(
    ("external", "ok"),
    [
        ("['rds!cluster-*']", True),
        ("['rds!']", True),
        ("['rds!cluster-[0-9]*']", True),
        ("['rds!instance-*']", False),
        ("['shared/']", False),
    ],
)
def test_external_entries_are_prefixes_or_globs(tmp_path: Path, external: str, ok: bool) -> None:
    project = make_project(
        tmp_path,
        [row(reference="local://rds!cluster-42#password")],
        environments={"prod": LOCAL_ENV + f"external: {external}\n", "dev": LOCAL_ENV},
    )
    assert credctl(project, "validate").exit_code == (0 if ok else 2)


def test_vault_reference_to_another_mount_is_an_error(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        [row(reference="vault://kv/prod/stripe/api-key")],
        environments={"prod": vault_environment_yaml("http://127.0.0.1:8200", "prod/")},
    )
    assert validate_errors(project) == [
        "Error: credentials.md:5: reference vault://kv/prod/stripe/api-key is not in "
        "environment prod's Vault mount (vault://secret/…, set in environments/prod.yaml); "
        "a secret of another mount needs an environment of its own"
    ]


def test_overlapping_prefixes_on_one_store_are_an_error(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        [row()],
        environments={"prod": LOCAL_ENV, "dev": "backend:\n  type: local\n  prefix: ''\n"},
    )
    assert validate_errors(project) == [
        "Error: environments/prod.yaml:1: prefix 'prod/' overlaps environment dev's prefix '' "
        "(environments/dev.yaml) on the same store, so each would take the other's secrets for its own; set "
        "backend.prefix so that neither contains the other"
    ]
    (project / "environments" / "dev.yaml").write_text("backend: {type: local, prefix: dev/}\n")
    assert credctl(project, "validate").exit_code == 0


# ---------------------------------------------------------- two rows, one secret


def test_two_rows_with_one_reference_are_an_error(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        [
            row(reference="local://prod/stripe/api-key"),
            row(credential_type="Client Secret", reference="local://prod/stripe/api-key"),
        ],
    )
    message = (
        "Error: credentials.md:6: prod/stripe/client-secret and prod/stripe/api-key (line 5) "
        "point at one secret, local://prod/stripe/api-key: a change to one would change the "
        "other; give each row its own secret, or a different #field of it"
    )
    assert validate_errors(project) == [message]
    for credential in ("prod/stripe/api-key", "prod/stripe/client-secret"):
        result = credctl(project, "set", credential, input="new-value")
        assert result.exit_code == 2, result.output
        assert errors(result.stderr) == [message]
    # the way out: a secret of its own
    own = row(credential_type="Client Secret", reference="local://prod/stripe/client-secret")
    (project / "credentials.md").write_text("# Credentials\n\n" + HEADER + row() + own)
    assert credctl(project, "validate").exit_code == 0


def test_a_naming_template_that_maps_rows_to_one_name_is_an_error(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        [row(), row(service="Twilio")],
        environments={"prod": LOCAL_ENV + "naming: same\n", "dev": LOCAL_ENV},
    )
    assert validate_errors(project) == [
        "Error: credentials.md:6: prod/twilio/api-key and prod/stripe/api-key (line 5) point at "
        "one secret, local://prod/same: a change to one would change the other; give each row "
        "its own secret, or a different #field of it"
    ]


def test_a_derived_name_and_a_reference_to_it_are_one_secret(tmp_path: Path) -> None:
    project = make_project(
        tmp_path, [row(), row(service="Twilio", reference="local://prod/stripe/api-key")]
    )
    assert len(validate_errors(project)) == 1


@pytest.mark.parametrize(
    ("first", "second", "ok"),
    [("#client_id", "#client_secret", True), ("#client_id", "", False), ("#a", "#a", False)],
)
def test_rows_may_share_a_secret_through_different_fields(
    tmp_path: Path, first: str, second: str, ok: bool
) -> None:
    project = make_project(
        tmp_path,
        [
            row(service="Google", reference=f"local://prod/google/oauth{first}"),
            row(
                service="Google",
                credential_type="Client Secret",
                reference=f"local://prod/google/oauth{second}",
            ),
        ],
    )
    result = credctl(project, "validate")
    assert result.exit_code == (0 if ok else 2), result.output
    if not ok:
        assert "point at one secret, local://prod/google/oauth:" in result.stderr


def test_two_environments_on_one_external_secret(tmp_path: Path) -> None:
    shared = LOCAL_ENV + "external: [shared/]\n"
    project = make_project(
        tmp_path,
        [row(reference="local://shared/db"), row(environment="dev", reference="local://shared/db")],
        environments={"prod": shared, "dev": shared},
    )
    assert validate_errors(project) == [
        "Error: credentials.md:6: dev/stripe/api-key and prod/stripe/api-key (line 5) point at "
        "one secret, local://shared/db: a change to one would change the other; give each row "
        "its own secret, or a different #field of it"
    ]
