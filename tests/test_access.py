"""credctl policy: the least access each command needs, proved on OpenBao with a token
holding exactly the generated policy, and linted for AWS with parliament."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.support.fixtures import aws_environment_yaml, project_env, vault_environment_yaml
from tests.support.projects import make_project, row
from tests.support.runner import credctl
from tests.support.servers import OpenBao

CANARY = "canary-Ac7Pq2Zx9Lm4Wv6Tb"
ROWS = [row(), row(service="Twilio", owner="@messaging")]


def vault_project(tmp_path: Path, openbao: OpenBao) -> tuple[Path, str]:
    prefix = f"p-{uuid.uuid4().hex[:8]}/"
    project = make_project(
        tmp_path, ROWS, environments={"prod": vault_environment_yaml(openbao.url, prefix)}
    )
    return project, prefix


def token_for(openbao: OpenBao, project: Path, command: str) -> dict[str, str]:
    """The variables of a credctl process whose token holds exactly `command`'s policy."""
    generated = credctl(project, "policy", "--env", "prod", "--for", command, env=openbao.env)
    assert generated.exit_code == 0, generated.output
    name = f"credctl-{command}-{uuid.uuid4().hex[:6]}"
    openbao.bao("policy", "write", name, "-", input=generated.stdout)
    token = openbao.bao("token", "create", f"-policy={name}", "-field=token").stdout.strip()
    return {**project_env(openbao), "VAULT_TOKEN": token}


@pytest.mark.integration
def test_each_vault_policy_runs_its_command_and_not_the_next(
    tmp_path: Path, openbao: OpenBao
) -> None:
    project, prefix = vault_project(tmp_path, openbao)
    admin = project_env(openbao)
    assert credctl(project, "sync", env=admin).exit_code == 0
    assert credctl(project, "set", "prod/twilio/api-key", input=CANARY, env=admin).exit_code == 0

    audit = token_for(openbao, project, "audit")
    assert credctl(project, "audit", "--fail-on", "never", env=audit).exit_code == 0
    denied = credctl(project, "get", "prod/twilio/api-key", env=audit)
    assert denied.exit_code == 3
    assert f"permission denied: 'read' on secret/data/{prefix}twilio/api-key" in denied.stderr
    assert credctl(project, "env", "--env", "prod", "-o", "-", env=audit).exit_code == 3

    env = token_for(openbao, project, "env")
    written = credctl(project, "env", "--env", "prod", "-o", "-", env=env)
    assert written.exit_code == 0, written.output
    assert CANARY in written.stdout
    refused = credctl(project, "rotate", "prod/stripe/api-key", env=env)
    assert refused.exit_code == 3
    assert "permission denied: 'create' on secret/data/" in refused.stdout

    rotate = token_for(openbao, project, "rotate")
    rotated = credctl(project, "rotate", "prod/stripe/api-key", "--format", "json", env=rotate)
    assert rotated.exit_code == 0, rotated.output
    assert json.loads(rotated.stdout)["results"][0]["outcome"] == "rotated"
    # the next rung, sync, schedules deletions: --prune of an orphan is denied
    table = project / "credentials.md"
    table.write_text(
        "".join(line for line in table.read_text().splitlines(True) if "Twilio" not in line)
    )
    pruned = credctl(project, "sync", "--prune", env=rotate)
    assert pruned.exit_code == 3
    assert "permission denied: 'delete'" in pruned.output
    assert CANARY not in denied.output + refused.output + rotated.output + pruned.output


def test_the_iam_policies_pass_parliament_and_star_only_for_list_and_batch(tmp_path: Path) -> None:
    from parliament import analyze_policy_string

    environment = aws_environment_yaml("http://127.0.0.1:1", "prod/", **{})
    environment = environment.replace("endpoint_url:", "kms_key_id: alias/credctl, endpoint_url:")
    project = make_project(tmp_path, ROWS, environments={"prod": environment})
    for command in ("audit", "env", "rotate", "sync"):
        result = credctl(project, "policy", "--env", "prod", "--for", command)
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        findings = analyze_policy_string(result.stdout).findings
        above_low = [f for f in findings if f.severity not in ("LOW", "INFO")]
        assert not above_low, (command, [f.issue for f in above_low])
        for statement in document["Statement"]:
            if statement["Resource"] == ["*"]:
                assert set(statement["Action"]) <= {
                    "secretsmanager:ListSecrets",
                    "secretsmanager:BatchGetSecretValue",
                }, statement


def test_policy_errors_lead_out(tmp_path: Path) -> None:
    project = make_project(tmp_path, ROWS)
    local = credctl(project, "policy", "--env", "prod", "--for", "audit")
    assert local.exit_code == 2
    assert "uses the local store, which has no access policy" in local.stderr
    unknown = credctl(project, "policy", "--env", "prod", "--for", "audit", "--format", "rego")
    assert unknown.exit_code == 2
    assert "unknown policy format 'rego' (choose from iam, vault-hcl)" in unknown.stderr


@pytest.mark.integration
def test_doctor_with_a_metadata_only_token_says_which_commands_will_fail(
    tmp_path: Path, openbao: OpenBao
) -> None:
    project, prefix = vault_project(tmp_path, openbao)
    audit = token_for(openbao, project, "audit")
    result = credctl(project, "doctor", env=audit)
    assert result.exit_code == 3
    line = next(line for line in result.stdout.splitlines() if line.startswith("prod"))
    assert " limited " in line
    assert (
        f"env, rotate and sync will fail: the token lacks read on secret/data/{prefix}* "
        "(hint: credctl policy --env prod --for sync)"
    ) in line
    document = json.loads(credctl(project, "doctor", "--format", "json", env=audit).stdout)
    [check] = document["checks"]
    assert check["commands"] == {
        "audit": "ok",
        "env": f"denied: read on secret/data/{prefix}*",
        "rotate": f"denied: read on secret/data/{prefix}*",
        "sync": f"denied: read on secret/data/{prefix}*",
    }
    admin = credctl(project, "doctor", env=project_env(openbao))
    assert admin.exit_code == 0, admin.output
