"""AWS backend paths the contract suite does not reach, on in-process moto (STS and KMS too)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws
from moto.secretsmanager.models import secretsmanager_backends

from credctl.backends import aws
from credctl.backends.base import BackendContext
from credctl.backends.config import AwsBackendConfig
from credctl.backends.pool import open_backend
from credctl.errors import BackendError, ConflictError, RotationInProgressError, SecretDeletedError
from credctl.model import EnvironmentConfig
from credctl.secret import Secret
from tests.support.canned import RawBody
from tests.support.contract import CANARY, MANAGED

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's account


def environment_of(**backend: Any) -> EnvironmentConfig:
    return EnvironmentConfig.model_validate(
        {
            "name": "prod",
            "backend": {"type": "aws", "region": "us-east-1", "prefix": "prod/", **backend},
            "retry": {"max_attempts": 2, "base_delay": "1ms", "max_delay": "2ms"},
        }
    )


@pytest.fixture
def client() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def backend_on(client: Any, **backend: Any) -> aws.AwsBackend:
    opened = open_backend(environment_of(**backend), BackendContext(Path("."), client=client))
    assert isinstance(opened, aws.AwsBackend)
    return opened


def tags_of(client: Any, name: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in client.describe_secret(SecretId=name)["Tags"]}


def test_assume_role_session_name_names_credctl_and_the_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.sts.models import sts_backends

    monkeypatch.setattr("getpass.getuser", lambda: "alice smith")
    role = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/credctl-reader"
    with mock_aws():
        environment = environment_of(role_arn=role)
        assert isinstance(environment.backend, AwsBackendConfig)
        built = aws.make_client(environment, environment.backend)
        [assumed] = sts_backends[DEFAULT_ACCOUNT_ID]["aws"].assumed_roles
        credentials = built._request_signer._credentials.get_frozen_credentials()
        built.list_secrets()  # the assumed credentials are the ones in use
    assert (assumed.role_arn, assumed.session_name) == (role, "credctl-alice-smith")
    assert credentials.access_key == assumed.access_key_id


def test_create_passes_the_environment_kms_key(client: Any) -> None:
    key = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
    backend_on(client, kms_key_id=key).create("prod/a/key", MANAGED, Secret("v"))
    assert client.describe_secret(SecretId="prod/a/key")["KmsKeyId"] == key


def test_create_over_a_secret_credctl_does_not_manage_is_a_conflict_not_an_overwrite(
    client: Any,
) -> None:
    client.create_secret(
        Name="prod/a/key", SecretString="theirs", Tags=[{"Key": "k", "Value": "v"}]
    )
    with pytest.raises(ConflictError, match=r"already exists .* not managed by credctl"):
        backend_on(client).create("prod/a/key", MANAGED, Secret(CANARY))
    assert client.get_secret_value(SecretId="prod/a/key")["SecretString"] == "theirs"
    assert len(client.list_secret_version_ids(SecretId="prod/a/key")["Versions"]) == 1
    assert tags_of(client, "prod/a/key") == {"k": "v"}


def test_create_over_its_own_secret_is_success_without_a_second_version(client: Any) -> None:
    backend = backend_on(client)
    backend.create("prod/a/key", MANAGED, Secret("first"))
    backend.create("prod/a/key", MANAGED, Secret("again"))  # ListSecrets lagged behind
    assert client.get_secret_value(SecretId="prod/a/key")["SecretString"] == "first"
    assert len(client.list_secret_version_ids(SecretId="prod/a/key")["Versions"]) == 1


def test_create_never_restores_a_secret_scheduled_for_deletion(client: Any) -> None:
    backend = backend_on(client)
    backend.create("prod/a/key", MANAGED, Secret("first"))
    backend.schedule_delete("prod/a/key")
    with pytest.raises(SecretDeletedError, match="scheduled for deletion") as caught:
        backend.create("prod/a/key", {**MANAGED, "credctl:owner": "@new"}, Secret(CANARY))
    assert caught.value.hint == "restore it with 'credctl sync --restore'"
    assert CANARY not in str(caught.value)
    assert "DeletedDate" in client.describe_secret(SecretId="prod/a/key")
    assert len(client.list_secret_version_ids(SecretId="prod/a/key")["Versions"]) == 1
    backend.restore("prod/a/key")  # only when asked
    assert client.get_secret_value(SecretId="prod/a/key")["SecretString"] == "first"


def test_delete_only_schedules_with_the_recovery_window(client: Any) -> None:
    backend = backend_on(client, recovery_window_days=7)
    backend.create("prod/a/key", MANAGED, Secret("v"))
    sent: list[dict[str, Any]] = []
    client.meta.events.register(
        "before-parameter-build.secrets-manager.DeleteSecret",
        lambda params, **_: sent.append(dict(params)),
    )
    message = backend.schedule_delete("prod/a/key")
    assert sent == [{"SecretId": "prod/a/key", "RecoveryWindowInDays": 7}]
    assert "in 7 days" in message
    assert "restore-secret --secret-id prod/a/key" in message
    assert "DeletedDate" in client.describe_secret(SecretId="prod/a/key")
    client.restore_secret(SecretId="prod/a/key")  # recoverable, as promised
    assert client.get_secret_value(SecretId="prod/a/key")["SecretString"] == "v"


@pytest.mark.parametrize(
    ("aws_rotated", "tag", "expected"),
    [
        (
            datetime(2019, 3, 1, tzinfo=UTC),
            "2019-05-01T00:00:00Z",
            datetime(2019, 5, 1, tzinfo=UTC),
        ),
        (
            datetime(2019, 6, 1, tzinfo=UTC),
            "2019-05-01T00:00:00Z",
            datetime(2019, 6, 1, tzinfo=UTC),
        ),
        (datetime(2019, 6, 1, tzinfo=UTC), "not a date", datetime(2019, 6, 1, tzinfo=UTC)),
        (None, "2019-05-01T00:00:00Z", datetime(2019, 5, 1, tzinfo=UTC)),
        (None, None, None),
    ],
)
def test_last_rotated_is_the_newest_of_aws_date_and_credctl_tag(
    client: Any, aws_rotated: datetime | None, tag: str | None, expected: datetime | None
) -> None:
    tags = dict(MANAGED) if tag is None else {**MANAGED, "credctl:last-rotated": tag}
    client.create_secret(
        Name="prod/a/key",
        SecretString="v",
        Tags=[{"Key": key, "Value": text} for key, text in tags.items()],
    )
    if aws_rotated is not None:  # what AWS's own RotateSecret leaves behind
        stored: Any = secretsmanager_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].secrets["prod/a/key"]
        stored.last_rotation_date = int(aws_rotated.timestamp())
        stored.rotation_requested = True  # moto lists rotation dates only then
    [info] = backend_on(client).list_secrets()
    assert info.last_rotated == expected


# ---------------------------------------------------------------- staged versions


def test_aws_completed_rotation_leaving_pending_on_current_is_not_pending(client: Any) -> None:
    """AWS may leave AWSPENDING on the new current version after its own rotation: done."""
    client.create_secret(Name="prod/a/key", SecretString="v1", Tags=[{"Key": "k", "Value": "v"}])
    [old] = client.describe_secret(SecretId="prod/a/key")["VersionIdsToStages"]
    new = client.put_secret_value(
        SecretId="prod/a/key", SecretString="v2", VersionStages=["AWSPENDING"]
    )["VersionId"]
    client.update_secret_version_stage(
        SecretId="prod/a/key",
        VersionStage="AWSCURRENT",
        MoveToVersionId=new,
        RemoveFromVersionId=old,
    )
    backend = backend_on(client)
    [info] = backend.list_secrets()
    assert info.pending is None
    assert info.current_version == new


def test_discarding_a_half_finished_promote_keeps_the_promoted_value(client: Any) -> None:
    backend = backend_on(client)
    backend.create("prod/a/key", MANAGED, Secret("old"))
    [old] = client.describe_secret(SecretId="prod/a/key")["VersionIdsToStages"]
    backend.put_pending("prod/a/key", Secret("new"), "token-1")
    staged = aws.version_id("token-1")
    client.update_secret_version_stage(
        SecretId="prod/a/key",
        VersionStage="AWSCURRENT",
        MoveToVersionId=staged,
        RemoveFromVersionId=old,
    )
    with pytest.raises(RotationInProgressError, match="a rotation is already in progress"):
        backend.put_pending("prod/a/key", Secret("other"), "token-2")
    backend.discard_pending("prod/a/key")
    stages = client.describe_secret(SecretId="prod/a/key")["VersionIdsToStages"]
    assert stages == {staged: ["AWSCURRENT"], old: ["AWSPREVIOUS"]}
    assert client.get_secret_value(SecretId="prod/a/key")["SecretString"] == "new"
    assert "credctl:pending" not in tags_of(client, "prod/a/key")
    [info] = backend.list_secrets()
    assert info.pending is None


# ------------------------------------------------------------------ no value leaks


def echo_the_value(operation: str, client: Any) -> None:
    """Make `operation` fail with a validation message that quotes the request's value."""

    def answer(request: Any, **_: Any) -> AWSResponse:
        sent = json.loads(request.body)
        message = f"1 validation error: Value '{sent['SecretString']}' at 'secretString' failed"
        body = json.dumps({"__type": "ValidationException", "message": message}).encode()
        return AWSResponse("https://x", 400, HTTPHeaders(), RawBody(body))

    client.meta.events.register_first(f"before-send.secrets-manager.{operation}", answer)


@pytest.mark.parametrize("operation", ["CreateSecret", "PutSecretValue"])
def test_value_echoed_by_aws_in_an_error_never_reaches_the_error(
    client: Any, operation: str
) -> None:
    backend = backend_on(client)
    if operation == "PutSecretValue":
        backend.create("prod/a/key", MANAGED, None)
    echo_the_value(operation, client)

    def write() -> None:
        if operation == "CreateSecret":
            backend.create("prod/a/key", MANAGED, Secret(CANARY))
        else:
            backend.put_pending("prod/a/key", Secret(CANARY), "token-1")

    with pytest.raises(BackendError) as raised:
        write()
    error = raised.value
    assert f"AWS ValidationException on {operation} prod/a/key" in str(error)
    assert CANARY not in str(error)
    assert CANARY not in repr(error)
    assert CANARY not in str(error.hint)


def test_vendor_message_is_kept_for_calls_without_a_value(client: Any) -> None:
    backend = backend_on(client)
    backend.create("prod/a/key", MANAGED, None)
    echo_reason = "Invalid version id (injected)"

    def answer(**_: Any) -> AWSResponse:
        body = json.dumps({"__type": "ValidationException", "message": echo_reason}).encode()
        return AWSResponse("https://x", 400, HTTPHeaders(), RawBody(body))

    client.meta.events.register_first("before-send.secrets-manager.GetSecretValue", answer)
    with pytest.raises(BackendError, match=re.escape(echo_reason)):
        backend.read_version("prod/a/key", "0" * 32)


def test_client_side_validation_error_is_one_line(client: Any) -> None:
    backend = backend_on(client)
    backend.create("prod/a/key", MANAGED, None)
    with pytest.raises(BackendError) as raised:
        backend.read_version("prod/a/key", "v1")  # botocore refuses it before sending
    assert "\n" not in str(raised.value)
    assert "Parameter validation failed: Invalid length for parameter VersionId" in str(
        raised.value
    )


def test_dates_in_aws_answers_are_read_in_utc() -> None:
    """Secrets Manager's dates arrive as seconds since the epoch; credctl reads them in UTC
    (botocore's own parser gives the local zone, at half the CPU of a listing)."""
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        client.create_secret(Name="prod/a/key", SecretString="v")
        created = client.describe_secret(SecretId="prod/a/key")["CreatedDate"]
        backend = open_backend(environment_of(), BackendContext(Path(".")))
        [info] = backend.list_secrets()
        backend.close()
    assert info.created is not None
    assert info.created.tzinfo is UTC
    assert info.created == created
    assert aws._timestamp("2001-01-02T03:04:05+02:00") == datetime(2001, 1, 2, 1, 4, 5, tzinfo=UTC)
