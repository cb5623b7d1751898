"""Every bad input gets exit 2 and one line naming the file and line (or key)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.projects import HEADER, LOCAL_ENV, POLICY, REPO, credctl, make_project, row

CANARY = "sk_live_Canary0123456789abcdefXYZ"


def errors(result_stderr: str) -> list[str]:
    return [line for line in result_stderr.splitlines() if line.startswith("Error: ")]


def test_the_example_project_validates(tmp_path: Path) -> None:
    result = credctl(make_project(tmp_path), "validate")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("OK: 1 credentials, 2 environments (dev, prod)")


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [row(), row()],
            "credentials.md:6: duplicate credential prod/stripe/api-key (first at line 5)",
        ),
        (
            [row(environment="qa")],
            "credentials.md:5: unknown environment 'qa' (known: dev, prod; add environments/qa.yaml)",
        ),
        (
            [row(schedule="every so often")],
            "credentials.md:5: Rotation Schedule: invalid duration 'every so often'",
        ),
        (
            [row(schedule="never")],
            "credentials.md:5: Rotation Schedule 'never' is not allowed for API Key",
        ),
        ([row(owner="")], "credentials.md:5: prod/stripe/api-key has no owner"),
        (
            [row(credential_type="Pigeon Key")],
            "credentials.md:5: credential type 'Pigeon Key' is not defined in any policy",
        ),
        ([row(last_rotated="last tuesday")], "credentials.md:5: Last Rotated: invalid date"),
        (
            [row(reference="vault://secret/prod/stripe")],
            "credentials.md:5: reference vault://secret/prod/stripe is a vault:// reference but "
            "environment prod uses the local backend",
        ),
        (
            [row(reference="s3://bucket/key")],
            "credentials.md:5: Value/Reference is not a valid reference",
        ),
    ],
)
def test_bad_rows(tmp_path: Path, rows: list[str], expected: str) -> None:
    result = credctl(make_project(tmp_path, rows), "validate")
    assert result.exit_code == 2
    assert len(errors(result.stderr)) == 1, result.stderr
    assert errors(result.stderr)[0].startswith("Error: " + expected), result.stderr
    assert "Traceback" not in result.output


def test_missing_owner_is_fine_where_policy_allows(tmp_path: Path) -> None:
    result = credctl(make_project(tmp_path, [row(environment="dev", owner="")]), "validate")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "literal",
    [CANARY, "hunter2-but-longer", "aB3$kL9!mN2@pQ5#", "AKIAIOSFODNN7EXAMPLE"],
)
def test_literal_in_a_secret_row_is_an_error_that_never_echoes_it(
    tmp_path: Path, literal: str
) -> None:
    result = credctl(make_project(tmp_path, [row(reference=literal)]), "validate")
    assert result.exit_code == 2
    [line] = errors(result.stderr)
    assert line.startswith("Error: credentials.md:5: prod/stripe/api-key: Value/Reference holds")
    assert literal not in result.output


@pytest.mark.parametrize(
    ("credential_type", "value", "ok"),
    [
        ("Redirect URI", "https://app.example.com/oauth/callback", True),
        ("Client ID", "1234567890-abc.apps.googleusercontent.com", True),
        ("Client ID", "0f8fad5b-d9cb-469f-a165-70867728950e", True),
        ("Client ID", "my-client", True),
        ("Client ID", CANARY, False),
        ("Client ID", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", False),
        ("Client ID", "Zx8#Lq2!vB7$Np4^Tr9&", False),
        ("Redirect URI", "https://user:pa55word@example.com/cb", False),
    ],
)
def test_non_secret_types_accept_obvious_config_only(
    tmp_path: Path, credential_type: str, value: str, ok: bool
) -> None:
    project = make_project(
        tmp_path, [row(service="Google", credential_type=credential_type, reference=value)]
    )
    result = credctl(project, "validate")
    assert result.exit_code == (0 if ok else 2), result.output
    if not ok:
        assert "looks like a secret" in result.stderr
        assert value not in result.output


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    rows = [row(), row(), row(service="Twilio", schedule="soon"), row(service="X", owner="")]
    result = credctl(make_project(tmp_path, rows), "validate")
    assert result.exit_code == 2
    assert len(errors(result.stderr)) == 3


def test_validate_json_lists_problems(tmp_path: Path) -> None:
    import json

    result = credctl(make_project(tmp_path, [row(), row()]), "validate", "--format", "json")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["valid"] is False
    assert document["problems"][0]["line"] == 6
    assert document["problems"][0]["code"] == "duplicate"


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ("backend: {type: local}\ncolour: blue\n", "environments/prod.yaml:2: colour: unknown key"),
        (
            "backend:\n  type: local\n  pathh: x\n",
            "environments/prod.yaml:3: backend.pathh: unknown key",
        ),
        ("backend: {type: gcp}\n", "environments/prod.yaml:1: backend: Input tag 'gcp'"),
        (
            "backend: {type: local}\nconcurrency: lots\n",
            "environments/prod.yaml:2: concurrency: Input should be a valid integer",
        ),
        (
            "backend: {type: local}\nretry: {base_delay: soon}\n",
            "environments/prod.yaml:2: retry.base_delay: Value error, invalid duration 'soon'",
        ),
        (
            "backend: {type: local}\nrate_limit: fast\n",
            "environments/prod.yaml:2: rate_limit: Value error, invalid rate 'fast'",
        ),
        ("concurrency: 4\n", "environments/prod.yaml:1: backend: required key is missing"),
        ("backend: [unclosed\n", "environments/prod.yaml:2: invalid YAML"),
        ("- just\n- a list\n", "environments/prod.yaml:1: expected a mapping"),
    ],
)
def test_bad_environment_files(tmp_path: Path, environment: str, expected: str) -> None:
    project = make_project(tmp_path, environments={"prod": environment, "dev": LOCAL_ENV})
    result = credctl(project, "validate")
    assert result.exit_code == 2
    assert errors(result.stderr)[0].startswith("Error: " + expected), result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("policies", "expected"),
    [
        (
            {"default.yaml": POLICY + "rotation: fast\n"},
            "policies/default.yaml:13: rotation: unknown key",
        ),
        (
            {
                "default.yaml": POLICY.replace(
                    "secret: true\n    max_age: 90d", "secret: maybe\n    max_age: 90d"
                )
            },
            "policies/default.yaml:4: credential_types.API Key.secret: Input should be a valid boolean",
        ),
        (
            {
                "default.yaml": POLICY,
                "extra.yaml": "credential_types:\n  API Key: {secret: true}\n",
            },
            "policies/extra.yaml:2: credential_types.API Key is also defined in policies/default.yaml",
        ),
        (
            {"default.yaml": POLICY.replace("max_age: 90d, warn", "max_age: ninety, warn")},
            "policies/default.yaml:1: defaults.max_age: Value error, invalid duration 'ninety'",
        ),
        (
            {"default.yaml": POLICY.replace("  dev: {max_age", "  dve: {max_age")},
            "policies/default.yaml:12: environments.dve: no such environment; did you mean 'dev'?",
        ),
    ],
)
def test_bad_policy_files(tmp_path: Path, policies: dict[str, str], expected: str) -> None:
    result = credctl(make_project(tmp_path, policies=policies), "validate")
    assert result.exit_code == 2
    assert len(errors(result.stderr)) == 1, result.stderr
    assert errors(result.stderr)[0].startswith("Error: " + expected), result.stderr


def test_policy_rules_for_environments_this_project_lacks_are_fine(tmp_path: Path) -> None:
    shared = POLICY + (
        "  staging-eu: {max_age: 60d}\n  qa: {max_age: 30d}\n"
        "  prod: {max_age: 90d}\n  prod2: {max_age: 30d}\n"  # close to prod, which has its own
    )
    result = credctl(make_project(tmp_path, policies={"default.yaml": shared}), "validate")
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    ("table_name", "text", "expected"),
    [
        (
            "credentials.md",
            "# Credentials\n\n| Service | Environment | Owner |\n|---|---|---|\n| Stripe | prod | @p |\n",
            "Error: credentials.md",
        ),
        ("credentials.md", "# Credentials\n\nNo table here yet.\n", "Error: credentials.md"),
        (
            "credentials.yaml",
            "- {service: Stripe, environment: prod, credential_type: API Key, "
            "rotation_schedule: 90d, owner: '@payments'}\n"
            "- {service: Stripe, environment: prod, credential_type: API Key, "
            "rotation_schedule: 90d, owner: '@payments'}\n",
            "Error: credentials.yaml:2: duplicate credential prod/stripe/api-key (first at line 1)",
        ),
        (
            "credentials.yaml",
            "- {service: Stripe, environment: prod, credential_type: API Key, "
            "rotation_schedule: sometimes, owner: '@payments'}\n",
            "Error: credentials.yaml:1: ",
        ),
        (
            "credentials.md",
            "# Credentials\n\n" + HEADER + row(owner="@payments | @identity"),
            "Error: credentials.md:5: row has more cells than the header (8, the header has 7; "
            "write a | inside a cell as \\|)",
        ),
        (
            "credentials.yaml",
            "- service: Stripe\n  environment: prod\n  credential_type: API Key\n"
            "  rotation_schedule: 90d\n  owner: '@payments'\n  owner: '@identity'\n",
            "Error: credentials.yaml:6: duplicate key 'owner' (first at line 5)",
        ),
        (
            "credentials.yaml",
            "- service: Stripe\n  environment: prod\n  credential_type: API Key\n"
            "  value_reference: local://prod/stripe/api-key\n  rotation_schedule: 90d\n"
            "  reference: local://prod/other\n  owner: '@payments'\n",
            "Error: credentials.yaml:6: duplicate key 'reference' (first at line 4, the same "
            "field as 'value_reference')",
        ),
        (
            "credentials.yaml",
            "credentials: []\ncredentials:\n- {service: Stripe, environment: prod, "
            "credential_type: API Key, rotation_schedule: 90d, owner: '@payments'}\n",
            "Error: credentials.yaml:2: duplicate key 'credentials' (first at line 1)",
        ),
    ],
)
def test_bad_table_files_are_one_line_errors(
    tmp_path: Path, table_name: str, text: str, expected: str
) -> None:
    project = make_project(tmp_path)
    (project / "credentials.md").unlink()
    (project / table_name).write_text(text)
    result = credctl(project, "validate")
    assert result.exit_code == 2, result.output
    assert len(errors(result.stderr)) == 1, result.stderr
    assert errors(result.stderr)[0].startswith(expected), result.stderr
    assert "Traceback" not in result.output


def test_a_byte_order_mark_before_the_header_validates(tmp_path: Path) -> None:
    project = make_project(tmp_path, table_text="\ufeff" + HEADER + row())
    result = credctl(project, "validate")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("OK: 1 credentials")


def test_the_repository_example_validates() -> None:
    result = credctl(REPO, "validate")
    assert result.exit_code == 0, result.output
    assert "OK: 25 credentials, 3 environments (dev, prod, staging)" in result.stderr


def test_unreadable_table_is_a_one_line_error(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (project / "credentials.md").unlink()
    (project / "credentials.md").mkdir()
    result = credctl(project, "validate")
    assert result.exit_code == 2
    assert errors(result.stderr) == ["Error: credentials.md: cannot read: Is a directory"]


def test_missing_table_has_a_hint(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (project / "credentials.md").unlink()
    result = credctl(project, "validate")
    assert result.exit_code == 2
    assert "credentials.md: the reference table does not exist (hint:" in result.stderr


def test_unknown_environment_flag_is_a_usage_error(tmp_path: Path) -> None:
    result = credctl(make_project(tmp_path), "audit", "--env", "qa")
    assert result.exit_code == 2
    assert errors(result.stderr) == ["Error: unknown environment 'qa' (known: dev, prod)"]


def test_no_project_says_how_to_start(tmp_path: Path) -> None:
    result = credctl(tmp_path, "validate")
    assert result.exit_code == 2
    assert "no credctl project here" in result.stderr
    assert "credctl init" in result.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = credctl(make_project(tmp_path, [row(), row()]), "validate", "--debug")
    assert result.exit_code != 0
    assert "Traceback" in result.stderr


def test_init_scaffolds_a_project_that_validates(tmp_path: Path) -> None:
    result = credctl(tmp_path, "init", "--project-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / ".gitignore").read_text().count(".credctl/") == 1
    assert credctl(tmp_path, "validate").exit_code == 0
    again = credctl(tmp_path, "init", "--project-dir", str(tmp_path))
    assert "kept credentials.md (exists)" in again.stderr
