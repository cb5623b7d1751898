"""credctl commands on AWS, in-process under moto: API calls counted, faults injected.

The Secrets Manager client credctl builds from the environment file is wrapped
so botocore event hooks can count its calls by operation (`before-call`) and
answer chosen operations with an AWS error instead of sending them (`before-send`).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws

from credctl.backends import aws
from credctl.backends.config import AwsBackendConfig
from credctl.cli import main
from credctl.model import EnvironmentConfig
from credctl.staging import host_label
from tests.support.canned import RawBody
from tests.support.contract import CANARY, MANAGED
from tests.support.dates import stamp
from tests.support.projects import make_project, row
from tests.support.runner import Result, inherited_environment

PREFIX = "prod/"
ENVIRONMENT = "backend: {type: aws, region: us-east-1, prefix: prod/}\n"
FAST_RETRY = "retry: {max_attempts: 5, base_delay: 5ms, max_delay: 20ms}\n"
SMALL_RETRY = "retry: {max_attempts: 2, base_delay: 5ms}\n"
FRESH = {**MANAGED, "credctl:last-rotated": stamp(1)}


class Calls:
    """Every Secrets Manager client credctl builds: its calls counted, faults injected."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._faults: dict[str, list[Any]] = {}
        self._lock = threading.Lock()

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-call.secrets-manager.*", self._record)
        client.meta.events.register_first("before-send.secrets-manager.*", self._answer)
        return client

    def fail(self, operation: str, code: str, times: int | None = None, status: int = 400) -> None:
        """Answer `operation` with the AWS error `code`, `times` times (None: always)."""
        self._faults[operation] = [code, times, status]

    def clear(self) -> None:
        with self._lock:
            self.counts.clear()

    def _record(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.counts[model.name] += 1

    def _answer(self, event_name: str, **_: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        with self._lock:
            fault = self._faults.get(operation)
            if fault is None or fault[1] == 0:
                return None
            code, times, status = fault
            if times is not None:
                fault[1] = times - 1
        body = json.dumps({"__type": code, "message": f"{code} (injected)"}).encode()
        headers = HTTPHeaders()
        headers["x-amzn-errortype"] = code
        return AWSResponse("https://injected", status, headers, RawBody(body))


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    """In-process moto, and a hook on each client credctl builds through `make_client`."""
    recorder = Calls()
    build = aws.make_client

    def make_client(environment: EnvironmentConfig, config: AwsBackendConfig) -> Any:
        return recorder.attach(build(environment, config))

    monkeypatch.setattr(aws, "make_client", make_client)
    with mock_aws():
        yield recorder


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """credctl's own entry point (`main`) in this process, in a project folder."""
    for name in [name for name in os.environ if name not in inherited_environment()]:
        monkeypatch.delenv(name)

    def invoke(project: Path, *args: str) -> Result:
        monkeypatch.chdir(project)
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


def seed(count: int, tags: dict[str, str] = FRESH) -> Any:
    """`count` managed secrets prod/svcNNN/api-key in moto, and the client that made them."""
    client = boto3.client("secretsmanager", region_name="us-east-1")
    for index in range(count):
        client.create_secret(
            Name=f"{PREFIX}svc{index:03d}/api-key",
            SecretString=f"value-{index}",
            Tags=[{"Key": key, "Value": text} for key, text in tags.items()],
        )
    return client


def project_of(tmp_path: Path, count: int, extra: str = "") -> Path:
    rows = [row(service=f"Svc{index:03d}") for index in range(count)]
    return make_project(tmp_path, rows, environments={"prod": ENVIRONMENT + extra})


def one_error_line(result: Result) -> str:
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    return result.stderr


# ------------------------------------------------------------------ clients


def test_environments_of_one_account_and_region_share_one_client_closed_once(
    tmp_path: Path, calls: Calls, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty environments under prefixes of one account build one client, not twenty (each
    is ~25 ms of CPU); another region is another client. The run closes each once."""
    built: list[str] = []
    closed: list[str] = []
    build = aws.make_client

    def make_client(environment: EnvironmentConfig, config: AwsBackendConfig) -> Any:
        client = build(environment, config)
        built.append(str(config.region))
        close = client.close

        def closing() -> None:
            closed.append(str(config.region))
            close()

        client.close = closing
        return client

    monkeypatch.setattr(aws, "make_client", make_client)
    regions = {"prod": "us-east-1", "staging": "us-east-1", "qa": "us-east-1", "eu": "eu-west-1"}
    environments = {
        name: f"backend: {{type: aws, region: {region}, prefix: {name}/}}\n"
        for name, region in regions.items()
    }
    project = make_project(
        tmp_path, [row(environment=name) for name in regions], environments=environments
    )
    result = run(project, "audit", "--format", "json", "--fail-on", "never")
    assert result.exit_code == 0, result.output
    assert sorted(built) == ["eu-west-1", "us-east-1"]
    assert sorted(closed) == ["eu-west-1", "us-east-1"]
    assert calls.counts["ListSecrets"] == 4  # each environment still lists its own prefix
    statuses = {c["environment"]: c["status"] for c in json.loads(result.stdout)["credentials"]}
    assert statuses == dict.fromkeys(regions, "missing")


# ------------------------------------------------------------------ call counts


@pytest.mark.parametrize("count", [1, 100, 250])
def test_cli_audit_lists_per_hundred_and_env_batches_per_twenty(
    tmp_path: Path, calls: Calls, run: Any, count: int
) -> None:
    """audit: ceil(N/100) ListSecrets and no per-secret call; env: ceil(N/20) batch reads only."""
    seed(count)
    project = project_of(tmp_path, count)
    calls.clear()
    audit = run(project, "audit", "--format", "json", "--fail-on", "never")
    assert audit.exit_code == 0, audit.output
    report = json.loads(audit.stdout)
    assert len(report["credentials"]) == count
    assert {credential["status"] for credential in report["credentials"]} == {"ok"}
    assert calls.counts == Counter({"ListSecrets": math.ceil(count / 100)})

    calls.clear()
    env = run(project, "env", "--env", "prod", "--format", "json", "-o", "-")
    assert env.exit_code == 0, env.output
    values = json.loads(env.stdout)
    assert values == {f"SVC{index:03d}_API_KEY": f"value-{index}" for index in range(count)}
    assert calls.counts == Counter({"BatchGetSecretValue": math.ceil(count / 20)})


# ------------------------------------------------------------------- throttling


def test_cli_audit_rides_out_throttling_within_the_retry_budget(
    tmp_path: Path, calls: Calls, run: Any
) -> None:
    seed(3)
    project = project_of(tmp_path, 3, FAST_RETRY)
    calls.fail("ListSecrets", "ThrottlingException", times=3)
    result = run(project, "audit", "--fail-on", "never")
    assert result.exit_code == 0, result.output
    assert calls.counts["ListSecrets"] == 4  # three throttled, then the answer


def test_cli_audit_throttled_past_the_retry_budget_exits_3_naming_the_environment(
    tmp_path: Path, calls: Calls, run: Any
) -> None:
    seed(3)
    project = project_of(tmp_path, 3, SMALL_RETRY)
    calls.fail("ListSecrets", "ThrottlingException")
    result = run(project, "audit")
    assert result.exit_code == 3, result.output
    line = one_error_line(result)
    assert "environment prod: AWS still throttling ListSecrets prod/* after 2 attempts" in line
    assert calls.counts["ListSecrets"] == 2


def test_cli_env_rides_out_throttled_batch_reads(tmp_path: Path, calls: Calls, run: Any) -> None:
    seed(45)
    project = project_of(tmp_path, 45, FAST_RETRY)
    calls.fail("BatchGetSecretValue", "ThrottlingException", times=3)
    result = run(project, "env", "--env", "prod", "--format", "json", "-o", "-")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 45
    assert calls.counts["BatchGetSecretValue"] == 3 + 3  # three batches, three throttled answers


def test_cli_env_throttled_past_the_retry_budget_exits_3_without_values(
    tmp_path: Path, calls: Calls, run: Any
) -> None:
    client = seed(0)
    client.create_secret(Name=f"{PREFIX}svc000/api-key", SecretString=CANARY)
    project = project_of(tmp_path, 1, SMALL_RETRY)
    calls.fail("BatchGetSecretValue", "ThrottlingException")
    result = run(project, "env", "--env", "prod", "-o", "-")
    assert result.exit_code == 3, result.output
    line = one_error_line(result)
    assert "cannot read 1 credential(s) of prod, no file written" in line
    assert "environment prod: AWS still throttling BatchGetSecretValue" in line
    assert CANARY not in result.output


# ---------------------------------------------------------------- errors (CLI)


def test_cli_expired_token_exits_3_with_the_login_hint(
    tmp_path: Path, calls: Calls, run: Any
) -> None:
    seed(1)
    project = project_of(tmp_path, 1)
    calls.fail("ListSecrets", "ExpiredTokenException")
    result = run(project, "audit")
    assert result.exit_code == 3, result.output
    line = one_error_line(result)
    assert "environment prod: AWS rejected the credentials (ExpiredTokenException)" in line
    assert "aws sso login" in line


def test_cli_access_denied_exits_3_in_one_line(tmp_path: Path, calls: Calls, run: Any) -> None:
    seed(1)
    project = project_of(tmp_path, 1)
    calls.fail("ListSecrets", "AccessDeniedException")
    result = run(project, "audit")
    assert result.exit_code == 3, result.output
    line = one_error_line(result)
    assert "environment prod: access denied for ListSecrets prod/*" in line
    assert calls.counts["ListSecrets"] == 1  # a denial is not retried


@pytest.mark.store_clock  # moto dates the secret by its own clock
def test_cli_never_rotated_secret_is_aged_from_its_creation(
    tmp_path: Path, calls: Calls, run: Any
) -> None:
    from moto.secretsmanager.models import secretsmanager_backends

    seed(1, tags=MANAGED)  # no credctl:last-rotated tag, never rotated by AWS
    created: Any = secretsmanager_backends["123456789012"]["us-east-1"].secrets[
        f"{PREFIX}svc000/api-key"
    ]
    created.created_date -= 100 * 86400
    project = project_of(tmp_path, 1)
    result = run(project, "audit", "--format", "json", "--fail-on", "never")
    assert result.exit_code == 0, result.output
    [credential] = json.loads(result.stdout)["credentials"]
    assert credential["last_rotated"] is None
    assert credential["age_days"] == 100
    assert credential["status"] == "overdue"  # 100 days old against a 90-day schedule
    codes = {finding["code"] for finding in credential["findings"]}
    assert {"never-rotated", "overdue"} <= codes


# -------------------------------------------------------- half-finished promote


def _dead_pid() -> int:
    finished = subprocess.Popen(["true"])
    finished.wait()
    return finished.pid


def test_cli_rotate_finishes_a_promote_whose_answer_was_lost(
    tmp_path: Path, calls: Calls, run: Any
) -> None:
    """AWSCURRENT moved onto the staged version, AWSPENDING still on it: rotate resumes it."""
    client = seed(1)
    name = f"{PREFIX}svc000/api-key"
    old_version = client.describe_secret(SecretId=name)["VersionIdsToStages"]
    [old] = list(old_version)
    project = project_of(tmp_path, 1)
    backend = aws.AwsBackend(
        EnvironmentConfig.model_validate(
            {"name": "prod", "backend": {"type": "aws", "prefix": PREFIX}}
        ),
        client,
    )
    token = f"r-{'a' * 16}-{_dead_pid()}-{host_label()}"
    from credctl.secret import Secret

    backend.put_pending(name, Secret(CANARY), token)
    staged = aws.version_id(token)
    # the promote reached AWS, its answer did not reach credctl
    client.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=staged, RemoveFromVersionId=old
    )
    assert sorted(client.describe_secret(SecretId=name)["VersionIdsToStages"][staged]) == [
        "AWSCURRENT",
        "AWSPENDING",
    ]
    [listed] = backend.list_secrets()
    assert listed.pending is not None
    assert listed.pending.token == token

    result = run(project, "rotate", "prod/svc000/api-key", "--actor", "ci", "--format", "json")
    assert result.exit_code == 0, result.output
    [outcome] = json.loads(result.stdout)["results"]
    assert (outcome["outcome"], outcome["version"]) == ("resumed", staged)
    stages = client.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages == {staged: ["AWSCURRENT"], old: ["AWSPREVIOUS"]}
    assert client.get_secret_value(SecretId=name)["SecretString"] == CANARY  # the value kept
    tags = {tag["Key"]: tag["Value"] for tag in client.describe_secret(SecretId=name)["Tags"]}
    assert tags["credctl:rotated-by"] == "ci"
    assert "credctl:pending" not in tags
    assert CANARY not in result.output


# ---------------------------------------------------------- AWS's own rotation


def test_a_secret_aws_rotates_itself_is_not_rotated_by_credctl_too(
    tmp_path: Path, calls: Calls, run: Any
) -> None:
    """RotationEnabled comes with the listing; credctl's own rotator would race AWS's."""
    seed(1, MANAGED)

    def rotation_on(parsed: dict[str, Any], **_: Any) -> None:
        for entry in parsed.get("SecretList", [parsed]):
            entry["RotationEnabled"] = True

    build = aws.make_client

    def make_client(environment: EnvironmentConfig, config: AwsBackendConfig) -> Any:
        client = build(environment, config)
        client.meta.events.register("after-call.secrets-manager.ListSecrets", rotation_on)
        client.meta.events.register("after-call.secrets-manager.DescribeSecret", rotation_on)
        return client

    aws.make_client = make_client  # undone by the calls fixture's monkeypatch
    project = project_of(tmp_path, 1)
    result = run(project, "rotate", "prod/svc000/api-key", "--format", "json")
    assert result.exit_code == 2, result.output
    [outcome] = json.loads(result.stdout)["results"]
    assert outcome["outcome"] == "failed"
    assert "AWS rotates this secret itself (RotationEnabled)" in outcome["message"]
    assert calls.counts["PutSecretValue"] == 0
