"""Every bad input gets exit 2 and one line naming the file and line (or key)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.projects import HEADER, LOCAL_ENV, POLICY, make_project, row
from tests.support.runner import REPO, credctl

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
                    "secret: true, max_age: 90d", "secret: maybe, max_age: 90d"
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
    assert "OK: 27 credentials, 3 environments (dev, prod, staging)" in result.stderr


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


# ------------------------------------- inputs that used to crash or pass unnoticed


def exact_error(project: Path, env: dict[str, str] | None = None, *args: str) -> str:
    result = credctl(project, *(args or ("validate",)), env=env)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    [line] = errors(result.stderr)
    return line


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("99999999999d", "duration '99999999999d' is longer than 100 years"),
        ("P99999999999Y", "duration 'P99999999999Y' is longer than 100 years"),
        ("PT99999999999H", "duration 'PT99999999999H' is longer than 100 years"),
        ("P101Y", "duration 'P101Y' is longer than 100 years"),
    ],
)
def test_schedules_too_large_for_a_date(tmp_path: Path, schedule: str, expected: str) -> None:
    project = make_project(tmp_path, [row(schedule=schedule)])
    assert exact_error(project) == f"Error: credentials.md:5: Rotation Schedule: {expected}"


def test_a_hundred_years_is_the_longest_schedule(tmp_path: Path) -> None:
    longest = POLICY.replace("max_age: 90d, warn", "max_age: P100Y, warn")
    project = make_project(tmp_path, [row(schedule="36500d")], policies={"default.yaml": longest})
    assert credctl(project, "audit", "--fail-on", "never").exit_code == 0


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("lock_timeout: 99999999999d", "lock_timeout: Value error, duration '99999999999d' is"),
        ("lock_timeout: P99999999999Y", "lock_timeout: Value error, duration 'P99999999999Y' is"),
        ("lock_timeout: .inf", "lock_timeout: Value error, duration of inf seconds is"),
        ("lock_timeout: 0s", "lock_timeout: Value error, must be longer than 0 (e.g. 60s)"),
        ("retry: {base_delay: -1}", "retry.base_delay: Value error, a duration cannot be negative"),
        (
            "rate_limit: 0/s",
            "rate_limit: Value error, rate '0/s' must be more than 0 per second (use e.g. 50/s)",
        ),
        ("rate_limit: 0", "rate_limit: Value error, rate 0 must be more than 0 per second"),
        ("naming: '{team}'", "naming: Value error, unknown field {team} in '{team}'"),
        ("naming: '{0}'", "naming: Value error, unknown field {0} in '{0}'"),
        ("naming: '{}'", "naming: Value error, unknown field {} in '{}'"),
        (
            "naming: '{service.__class__}'",
            "naming: Value error, unknown field {service.__class__} in '{service.__class__}'",
        ),
        (
            "naming: '{service[0]}'",
            "naming: Value error, unknown field {service[0]} in '{service[0]}'",
        ),
        (
            "naming: '{service'",
            "naming: Value error, malformed template '{service' (expected '}' before end of "
            "string; use {service}, {credential}, {environment})",
        ),
        (
            "naming: '{service!r}/{credential}'",
            "naming: Value error, {service} in '{service!r}/{credential}' has a conversion or "
            "format spec (write it as plain {service})",
        ),
        (
            "naming: '{service:>20}'",
            "naming: Value error, {service} in '{service:>20}' has a conversion or format spec",
        ),
    ],
)
def test_environment_values_that_crashed(tmp_path: Path, line: str, expected: str) -> None:
    project = make_project(
        tmp_path, environments={"prod": LOCAL_ENV + line + "\n", "dev": LOCAL_ENV}
    )
    message = exact_error(project)
    assert message.startswith(f"Error: environments/prod.yaml:3: {expected}"), message
    if "unknown field" in expected:
        assert message.endswith("(use only {service}, {credential}, {environment})")


@pytest.mark.parametrize("key", ["url", "endpoint_url"])
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("vault.example.com:8200", "not an http:// or https:// URL"),
        ("ftp://vault.example.com", "not an http:// or https:// URL"),
        ("https://", "not an http:// or https:// URL"),
        ("http://[::1", "not a valid URL"),
        ("http://localhost:99999", "not a valid URL"),
        ("http://local host:8200", "a URL cannot hold spaces or control characters"),
    ],
)
def test_urls_that_are_not_http_urls(tmp_path: Path, key: str, url: str, expected: str) -> None:
    backend = "vault" if key == "url" else "aws, region: eu-west-1"
    environment = f"backend: {{type: {backend}, {key}: '{url}'}}\n"
    project = make_project(tmp_path, environments={"prod": environment, "dev": LOCAL_ENV})
    assert exact_error(project) == (
        f"Error: environments/prod.yaml:1: backend.{key}: Value error, {expected} (use e.g. "
        "https://vault.example.com:8200 or http://localhost:4566)"
    )


def test_vault_addr_that_is_not_a_url_is_a_config_error(tmp_path: Path) -> None:
    environment = "backend: {type: vault}\n"
    project = make_project(tmp_path, environments={"prod": environment, "dev": LOCAL_ENV})
    variables = {"VAULT_ADDR": "vault.example.com:8200", "VAULT_TOKEN": "x"}
    assert exact_error(project, variables, "get", "prod/stripe/api-key") == (
        "Error: VAULT_ADDR: not an http:// or https:// URL (use e.g. "
        "https://vault.example.com:8200 or http://localhost:4566) (hint: or set 'url' in "
        "environments/prod.yaml)"
    )


def with_type(definition: str) -> dict[str, str]:
    """The standard policy plus a credential type `DB` defined by `definition`."""
    return {
        "default.yaml": POLICY.replace("environments:\n", f"  DB: {definition}\nenvironments:\n")
    }


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        (
            "{rotator: generate, generator: {kind: password, alphabet: Z-A}}",
            "credential_types.DB.generator.alphabet: Value error, the range Z-A is backwards "
            "(write A-Z; a literal - goes first or last)",
        ),
        (
            "{rotator: generate, generator: {kind: password, alphabet: ''}}",
            "credential_types.DB.generator.alphabet: Value error, '' names 0 characters; a "
            "password needs at least 2 (e.g. A-Za-z0-9)",
        ),
        (
            "{rotator: generate, generator: {kind: password, alphabet: xxx}}",
            "credential_types.DB.generator.alphabet: Value error, 'xxx' names 1 character; a "
            "password needs at least 2 (e.g. A-Za-z0-9)",
        ),
        (
            "{rotator: generate}",
            "credential_types.DB: Value error, rotator 'generate' needs 'generator' (e.g. "
            "generator: {kind: token, bytes: 32})",
        ),
        (
            "{rotator: command}",
            "credential_types.DB: Value error, rotator 'command' needs 'command' (e.g. "
            "command: [./rotate.sh])",
        ),
        (
            "{rotator: command, command: []}",
            "credential_types.DB.command: Value error, must name a program to run, e.g. "
            "[./rotate-stripe.sh]",
        ),
        (
            "{rotator: manual, verify: ['']}",
            "credential_types.DB.verify: Value error, must name a program to run, e.g. "
            "[./rotate-stripe.sh]",
        ),
        (
            "{rotator: aws-lambda}",
            "credential_types.DB: Value error, rotator 'aws-lambda' needs 'lambda_arn' (e.g. "
            "lambda_arn: arn:aws:lambda:…)",
        ),
        (
            "{rotator: manual, timeout: 0s}",
            "credential_types.DB.timeout: Value error, must be longer than 0 (e.g. 60s)",
        ),
        (
            "{rotator: manual, timeout: -5}",
            "credential_types.DB.timeout: Value error, must be longer than 0 (e.g. 60s)",
        ),
        (
            "{max_age: P99999999999Y}",
            "credential_types.DB.max_age: Value error, duration 'P99999999999Y' is longer than "
            "100 years",
        ),
    ],
)
def test_credential_types_that_cannot_rotate(
    tmp_path: Path, definition: str, expected: str
) -> None:
    project = make_project(tmp_path, policies=with_type(definition))
    assert exact_error(project) == f"Error: policies/default.yaml:11: {expected}"


def test_aws_lambda_rotator_needs_an_aws_environment(tmp_path: Path) -> None:
    lambda_type = "{rotator: aws-lambda, lambda_arn: 'arn:aws:lambda:eu-west-1:1:function:r'}"
    project = make_project(tmp_path, [row(credential_type="DB")], policies=with_type(lambda_type))
    assert exact_error(project) == (
        "Error: credentials.md:5: prod/stripe/db: DB rotates with 'aws-lambda', which needs an "
        "aws environment, but prod uses the local backend; give the row a type with another "
        "rotator"
    )


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (
            {"service": "€€"},
            "Service '€€' has no ASCII letter or digit, so its id and store name would be empty "
            "(prod//api-key); give it one",
        ),
        (
            {"service": "Stripe", "credential_type": "—"},
            "Credential Type '—' has no ASCII letter or digit, so its id and store name would "
            "be empty (prod/stripe/); give it one",
        ),
    ],
)
def test_names_without_ascii_letters_or_digits(
    tmp_path: Path, cells: dict[str, str], expected: str
) -> None:
    policy = POLICY.replace("environments:\n", "  —: {secret: true}\nenvironments:\n")
    project = make_project(tmp_path, [row(**cells)], policies={"default.yaml": policy})
    assert exact_error(project) == f"Error: credentials.md:5: {expected}"


def test_environment_files_whose_names_slugify_the_same(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (project / "environments" / "Prod.yaml").write_text(LOCAL_ENV)
    assert exact_error(project) == (
        "Error: environments/prod.yaml: environment 'prod' is also defined by "
        "environments/Prod.yaml (names are compared without case and punctuation); remove or "
        "rename one"
    )
    (project / "environments" / "Prod.yaml").unlink()
    (project / "environments" / "prod.yml").write_text(LOCAL_ENV)
    assert exact_error(project) == (
        "Error: environments/prod.yml: environment 'prod' is also defined by "
        "environments/prod.yaml (names are compared without case and punctuation); remove or "
        "rename one"
    )


@pytest.mark.parametrize(
    ("folder", "text", "expected"),
    [
        (
            "environments/prod.yaml",
            "backend:\n  type: local\n  prefix: prod/\n  prefix: dev/\n",
            "environments/prod.yaml:4: duplicate key 'prefix' (first at line 3); remove one",
        ),
        (
            "environments/prod.yaml",
            "backend: {type: local}\nconcurrency: 4\nconcurrency: 8\n",
            "environments/prod.yaml:3: duplicate key 'concurrency' (first at line 2); remove one",
        ),
        (
            "policies/default.yaml",
            POLICY.replace(
                "Client ID: {secret: false,", "Client ID: {secret: false, secret: true,"
            ),
            "policies/default.yaml:9: duplicate key 'secret' (twice on this line); remove one",
        ),
        (
            "policies/default.yaml",
            POLICY + "environments:\n  prod: {max_age: 30d}\n",
            "policies/default.yaml:13: duplicate key 'environments' (first at line 11); remove one",
        ),
    ],
)
def test_duplicate_yaml_keys(tmp_path: Path, folder: str, text: str, expected: str) -> None:
    project = make_project(tmp_path)
    (project / folder).write_text(text)
    assert exact_error(project) == f"Error: {expected}"
