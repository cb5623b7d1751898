"""AWS Secrets Manager: the contract on moto in-process and on moto_server, call counts, errors."""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from credctl.backends.aws import AwsBackend, botocore_config
from credctl.backends.base import BackendContext
from credctl.backends.pool import open_backend
from credctl.model import EnvironmentConfig
from credctl.secret import Secret
from tests.support.canned import RawBody
from tests.support.contract import CANARY, MANAGED, BackendContract
from tests.support.dates import stamp
from tests.support.fixtures import aws_environment_yaml, project_env
from tests.support.projects import make_project, row
from tests.support.runner import credctl
from tests.support.servers import MotoServer


def make_aws(client: Any, prefix: str, **options: Any) -> AwsBackend:
    environment = EnvironmentConfig.model_validate(
        {"name": "prod", "backend": {"type": "aws", "prefix": prefix}, **options}
    )
    backend = open_backend(environment, BackendContext(project_dir=Path("."), client=client))
    assert isinstance(backend, AwsBackend)
    return backend


class TestMotoInProcess(BackendContract):
    @pytest.fixture
    def backend(self) -> Iterator[AwsBackend]:
        with mock_aws():
            client = boto3.client("secretsmanager", region_name="us-east-1")
            yield make_aws(client, f"t-{uuid.uuid4().hex[:8]}/")


@pytest.mark.integration
class TestMotoServer(BackendContract):
    @pytest.fixture
    def backend(self, moto_server: MotoServer) -> AwsBackend:
        return make_aws(moto_server.client(), f"t-{uuid.uuid4().hex[:8]}/")


def count_calls(client: Any) -> Counter[str]:
    calls: Counter[str] = Counter()

    def record(event_name: str, **_: Any) -> None:
        calls[event_name.rsplit(".", 1)[-1]] += 1

    client.meta.events.register("before-call.secrets-manager.*", record)
    return calls


@pytest.mark.parametrize("count", [1, 100, 250])
def test_listing_makes_one_call_per_hundred_and_values_one_per_twenty(count: int) -> None:
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        backend = make_aws(client, "prod/")
        for index in range(count):
            client.create_secret(
                Name=f"prod/svc{index}/api-key",
                SecretString=f"v{index}",
                Tags=[{"Key": "credctl:managed", "Value": "true"}],
            )
        client.create_secret(Name="other/x", SecretString="x")
        calls = count_calls(client)
        listed = backend.list_secrets()
        assert len(listed) == count
        assert calls == Counter({"ListSecrets": math.ceil(count / 100)})
        calls.clear()
        refs = [backend_ref for backend_ref in (_ref(info.name) for info in listed)]
        values = backend.read_values(refs)
        assert all(not isinstance(v, Exception) for v in values.values())
        assert calls == Counter({"BatchGetSecretValue": math.ceil(count / 20)})


def _ref(name: str) -> Any:
    from credctl.model import Ref

    return Ref("aws-sm", name)


def test_throttling_is_retried_then_exit_3() -> None:
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    with mock_aws():
        retry = {"max_attempts": 4, "base_delay": "1ms", "max_delay": "5ms"}
        config = botocore_config(
            EnvironmentConfig.model_validate({"name": "prod", "backend": {"type": "aws"}})
        )
        client = boto3.client("secretsmanager", region_name="us-east-1", config=config)
        backend = make_aws(client, "prod/", retry=retry)
        client.create_secret(Name="prod/a/b", SecretString="v")
        remaining = {"throttles": 3}

        def throttle(**_: Any) -> Any:
            if remaining["throttles"] > 0:
                remaining["throttles"] -= 1
                body = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
                headers = HTTPHeaders()
                headers["x-amzn-errortype"] = "ThrottlingException"
                return AWSResponse(
                    "https://x",
                    400,
                    headers,
                    RawBody(body),
                )
            return None

        client.meta.events.register_first("before-send.secrets-manager.ListSecrets", throttle)
        assert [info.name for info in backend.list_secrets()] == ["prod/a/b"]
        assert remaining["throttles"] == 0  # three throttled answers, then success
        remaining["throttles"] = 10
        from credctl.errors import ThrottledError

        with pytest.raises(ThrottledError, match="after 4 attempts"):
            backend.list_secrets()


# ------------------------------------------------------------- end to end (CLI)


def aws_project(tmp_path: Path, url: str, prefix: str, rows: list[str], **options: object) -> Path:
    return make_project(
        tmp_path, rows, environments={"prod": aws_environment_yaml(url, prefix, **options)}
    )


@pytest.mark.integration
def test_cli_audit_env_get_set_on_moto_server(tmp_path: Path, moto_server: MotoServer) -> None:
    prefix = f"e2e-{uuid.uuid4().hex[:8]}/"
    project = aws_project(
        tmp_path, moto_server.url, prefix, [row(reference=f"aws-sm://{prefix}stripe/api-key")]
    )
    env = project_env(moto_server)
    client = moto_server.client()
    client.create_secret(
        Name=f"{prefix}stripe/api-key",
        SecretString=CANARY,
        Tags=[
            {"Key": k, "Value": v}
            for k, v in {**MANAGED, "credctl:last-rotated": stamp(10)}.items()
        ],
    )
    audit = credctl(project, "audit", "--format", "json", "--fail-on", "never", env=env)
    assert audit.exit_code == 0, audit.output
    assert '"status": "ok"' in audit.stdout
    written = credctl(project, "env", "--env", "prod", "-o", "-", env=env)
    assert written.exit_code == 0, written.output
    assert CANARY in written.stdout
    assert credctl(project, "set", "prod/stripe/api-key", input="new-value", env=env).exit_code == 0
    got = credctl(project, "get", "prod/stripe/api-key", env=env)
    assert got.stdout == "new-value"
    versions = client.list_secret_version_ids(SecretId=f"{prefix}stripe/api-key")["Versions"]
    stages = sorted(label for version in versions for label in version.get("VersionStages", []))
    assert stages == ["AWSCURRENT", "AWSPREVIOUS"]
    for result in (audit,):
        assert CANARY not in result.output


def test_cli_unreachable_endpoint_is_one_line_exit_3(tmp_path: Path) -> None:
    from tests.support.servers import free_port

    url = f"http://127.0.0.1:{free_port()}"
    project = aws_project(
        tmp_path, url, "prod/", [row()], retry="{max_attempts: 2, base_delay: 1ms, max_delay: 2ms}"
    )
    result = credctl(project, "audit", env=project_env())
    assert result.exit_code == 3, result.output
    assert result.stderr.count("\n") == 1
    assert "environment prod: cannot reach AWS Secrets Manager at " + url in result.stderr
    assert "Traceback" not in result.output


def test_cli_without_credentials_hints_to_log_in(tmp_path: Path, moto_server: MotoServer) -> None:
    project = aws_project(tmp_path, moto_server.url, "prod/", [row()])
    env = {
        **project_env(),
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_SESSION_TOKEN": "",
    }
    result = credctl(project, "audit", env=env)
    assert result.exit_code == 3, result.output
    assert "no usable AWS credentials" in result.stderr
    assert "aws sso login" in result.stderr


def test_value_in_flight_never_reaches_the_error_when_aws_echoes_it() -> None:
    """A PutSecretValue refused with a message quoting the value: the error leaves it out."""
    import json

    from credctl.errors import BackendError

    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        backend = make_aws(client, "prod/")
        backend.create("prod/a/b", MANAGED, Secret("first"))

        def echo(request: Any, **_: Any) -> Any:
            from botocore.awsrequest import AWSResponse, HTTPHeaders

            sent = json.loads(request.body)["SecretString"]
            message = f"Value '{sent}' at 'secretString' failed to satisfy constraint"
            body = json.dumps({"__type": "ValidationException", "message": message})
            return AWSResponse("https://x", 400, HTTPHeaders(), RawBody(body.encode()))

        client.meta.events.register_first("before-send.secrets-manager.PutSecretValue", echo)
        with pytest.raises(BackendError) as raised:
            backend.put_pending("prod/a/b", Secret(CANARY), "token-1")
        assert "AWS ValidationException on PutSecretValue prod/a/b (pending)" in str(raised.value)
        assert CANARY not in str(raised.value)
        assert CANARY not in repr(raised.value)
        assert CANARY not in repr(backend.list_secrets())
