"""credctl diff: environments side by side — states, same or different values, never a value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.fixtures import Store, unique_prefix
from tests.support.projects import make_project, row
from tests.support.runner import Result, credctl
from tests.support.seeding import CANARY

ENVIRONMENTS = {
    "staging": "backend: {type: local, prefix: staging/}\n",
    "prod": "backend: {type: local, prefix: prod/}\n",
}
AWS = "backend: {type: aws, region: eu-west-1, prefix: prod/}\n"


def synced(
    folder: Path,
    rows: list[str],
    environments: dict[str, str] = ENVIRONMENTS,
    env: dict[str, str] | None = None,
) -> Path:
    project = make_project(folder, rows, environments=environments)
    result = credctl(project, "sync", env=env)
    assert result.exit_code == 0, result.output
    return project


def set_value(
    project: Path, credential_id: str, value: str, env: dict[str, str] | None = None
) -> None:
    result = credctl(project, "set", credential_id, input=value, env=env)
    assert result.exit_code == 0, result.output


def diff(project: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    result = credctl(project, "diff", "--env", "staging", "--env", "prod", *args, env=env)
    assert CANARY not in result.output
    return result


def test_staging_and_prod_holding_one_value_are_the_same_and_exit_1(tmp_path: Path) -> None:
    project = synced(tmp_path, [row(environment="staging"), row(environment="prod")])
    set_value(project, "staging/stripe/api-key", CANARY)
    set_value(project, "prod/stripe/api-key", CANARY)
    result = diff(project)
    assert result.exit_code == 1, result.output
    assert result.stdout == (
        "CREDENTIAL      STAGING    PROD       VALUES\n"
        "--------------  ---------  ---------  ------\n"
        "stripe/api-key  present A  present A  same\n"
        "\n"
        "credentials.md:5: error [shared-value] staging/stripe/api-key holds the same value as "
        "prod/stripe/api-key (compared by keyed hash): a leak of one is a leak of all; give it a "
        "value of its own with 'credctl rotate staging/stripe/api-key'\n"
        "credentials.md:6: error [shared-value] prod/stripe/api-key holds the same value as "
        "staging/stripe/api-key (compared by keyed hash): a leak of one is a leak of all; give it "
        "a value of its own with 'credctl rotate prod/stripe/api-key'\n"
        "\n"
        "1 credential in staging, prod: 1 same; findings: 2 error(s), 0 warning(s)\n"
    )
    # following the fix ends it
    rotated = credctl(project, "rotate", "staging/stripe/api-key")
    assert rotated.exit_code == 0, rotated.output
    again = diff(project)
    assert again.exit_code == 0, again.output
    assert "stripe/api-key  present A  present B  different" in again.stdout


def test_a_credential_only_in_staging_is_missing_in_prod(tmp_path: Path) -> None:
    project = synced(
        tmp_path,
        [
            row(environment="staging"),
            row(environment="prod"),
            row(service="Twilio", environment="staging"),
        ],
    )
    result = diff(project)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[2:4] == [
        "stripe/api-key  present A  present B  different",
        "twilio/api-key  present A  no row     -",
    ]
    assert lines[5] == (
        "credentials.md:7: warning [missing-in-environment] prod/twilio/api-key: Twilio API Key "
        "has a row in staging but none in prod (add its row, or list where it belongs in the "
        "Environments column)"
    )
    assert lines[-1] == (
        "2 credentials in staging, prod: 1 different, 1 not compared; findings: 0 error(s), "
        "1 warning(s)"
    )


def test_the_json_document(tmp_path: Path) -> None:
    project = synced(
        tmp_path,
        [
            row(environment="staging"),
            row(environment="prod"),
            row(service="Google", environment="staging", credential_type="Client Secret"),
            row(service="Google", environment="prod", credential_type="Client Secret"),
        ],
    )
    set_value(project, "staging/stripe/api-key", CANARY)
    set_value(project, "prod/stripe/api-key", CANARY)
    (project / "credentials.md").write_text(
        (project / "credentials.md").read_text() + row(service="Twilio", environment="prod")
    )
    result = diff(project, "--format", "json")
    assert result.exit_code == 1, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    assert list(document) == [
        "schema_version",
        "environments",
        "credentials",
        "findings",
        "summary",
    ]
    assert document["environments"] == ["staging", "prod"]
    by_id = {item["id"]: item for item in document["credentials"]}
    assert by_id["stripe/api-key"] == {
        "id": "stripe/api-key",
        "service": "Stripe",
        "credential_type": "API Key",
        "environments": {
            "staging": {
                "id": "staging/stripe/api-key",
                "state": "present",
                "value": "A",
                "reason": None,
            },
            "prod": {"id": "prod/stripe/api-key", "state": "present", "value": "A", "reason": None},
        },
        "values": "same",
    }
    google = by_id["google/client-secret"]["environments"]  # a manual type: no value yet
    assert {name: side["state"] for name, side in google.items()} == {
        "staging": "no-value",
        "prod": "no-value",
    }
    twilio = by_id["twilio/api-key"]["environments"]  # a row not synced yet
    assert {name: side["state"] for name, side in twilio.items()} == {
        "staging": "no-row",
        "prod": "missing",
    }
    assert by_id["twilio/api-key"]["values"] is None
    assert [(f["code"], f["id"]) for f in document["findings"]] == [
        ("missing-in-environment", "staging/twilio/api-key"),
        ("shared-value", "staging/stripe/api-key"),
        ("shared-value", "prod/stripe/api-key"),
    ]
    assert document["summary"] == {"error": 2, "warning": 1, "info": 0}


def test_it_needs_two_environments(tmp_path: Path) -> None:
    project = synced(tmp_path, [row(environment="staging")])
    for args in (["--env", "prod"], ["--env", "prod", "--env", "prod"]):
        result = credctl(project, "diff", *args)
        assert result.exit_code == 2
        assert result.stderr == (
            "Error: diff compares two or more environments "
            "(hint: name them: credctl diff --env staging --env prod)\n"
        )


def test_its_access_is_envs_and_audits_is_unchanged(tmp_path: Path) -> None:
    project = make_project(tmp_path, [row()], environments={"prod": AWS})
    policies = {
        command: credctl(project, "policy", "--env", "prod", "--for", command)
        for command in ("audit", "env", "diff")
    }
    assert all(result.exit_code == 0 for result in policies.values())
    assert policies["diff"].stdout == policies["env"].stdout
    assert "the same as env's: it reads values" in policies["diff"].stderr
    audit = json.loads(policies["audit"].stdout)
    actions = {action for statement in audit["Statement"] for action in statement["Action"]}
    assert actions == {
        "secretsmanager:ListSecrets",
        "secretsmanager:DescribeSecret",
        "secretsmanager:ListSecretVersionIds",
    }


@pytest.mark.integration
def test_shared_values_on_every_store(tmp_path: Path, store: Store) -> None:
    project = synced(
        tmp_path,
        [row(environment="staging"), row(environment="prod")],
        {name: store.environment_yaml(unique_prefix()) for name in ("staging", "prod")},
        env=store.env,
    )
    set_value(project, "staging/stripe/api-key", CANARY, env=store.env)
    set_value(project, "prod/stripe/api-key", CANARY, env=store.env)
    result = diff(project, env=store.env)
    assert result.exit_code == 1, result.output
    assert "stripe/api-key  present A  present A  same" in result.stdout
    audit = credctl(project, "audit", "--compare-values", "--format", "json", env=store.env)
    assert CANARY not in audit.output
    codes = {(f["code"], f["id"]) for f in json.loads(audit.stdout)["findings"]}
    assert {
        ("shared-value", "staging/stripe/api-key"),
        ("shared-value", "prod/stripe/api-key"),
    } <= codes
