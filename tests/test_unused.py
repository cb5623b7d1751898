"""audit's `unused`: an AWS secret not read for the policy's `unused_after` (LastAccessedDate;
one never read is aged from its creation). Stores that keep no read time give no finding."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from credctl.findings import FINDINGS, FIXES, REMINDED
from tests.support.dates import days_ago, moved, stamp
from tests.support.fixtures import aws_environment_yaml, project_env
from tests.support.projects import make_project, row
from tests.support.runner import credctl
from tests.support.servers import MotoServer

ENVIRONMENT = "backend: {type: aws, region: us-east-1, prefix: prod/}\n"
POLICY = """\
defaults: {max_age: 365d, warn_before: 14d, require_owner: true}
credential_types:
  API Key: {secret: true, rotator: manual}
  Break Glass: {secret: true, rotator: manual, unused_after: never}
"""
GENERATED = """\
defaults: {max_age: 365d, warn_before: 14d, require_owner: true}
credential_types:
  API Key: {secret: true, rotator: generate, self_contained: true, generator: {bytes: 16}}
"""
DAY = 86400


@pytest.fixture
def aws() -> Iterator[Any]:
    """In-process moto, and a client on it."""
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def moto_secret(name: str) -> Any:
    from moto.secretsmanager.models import secretsmanager_backends

    return secretsmanager_backends["123456789012"]["us-east-1"].secrets[name]


def put(client: Any, name: str, *, created: float, read: float | None) -> None:
    """A credctl-managed secret created `created` days ago and last read `read` days ago
    (None: never), both by the test's clock; AWS keeps the day of a read."""
    client.create_secret(
        Name=name,
        SecretString=f"value of {name}",
        Tags=[
            {"Key": "credctl:managed", "Value": "true"},
            {"Key": "credctl:owner", "Value": "@payments"},
            {"Key": "credctl:last-rotated", "Value": stamp(1)},
        ],
    )
    secret = moto_secret(name)
    secret.created_date = int(days_ago(created).timestamp())
    if read is not None:
        secret.last_accessed_date = int(days_ago(read).timestamp()) // DAY * DAY


def audit(project: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = credctl(project, "audit", "--format", "json", "--fail-on", "never", *args, env=env)
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def unused(report: dict[str, Any]) -> dict[str, str]:
    return {f["id"]: f["message"] for f in report["findings"] if f["code"] == "unused"}


def project_of(tmp_path: Path, rows: list[str], policy: str = POLICY) -> Path:
    return make_project(
        tmp_path, rows, environments={"prod": ENVIRONMENT}, policies={"default.yaml": policy}
    )


def test_a_secret_last_read_120_days_ago_is_unused(tmp_path: Path, aws: Any) -> None:
    put(aws, "prod/stripe/api-key", created=400, read=120)
    put(aws, "prod/twilio/api-key", created=400, read=10)
    project = project_of(tmp_path, [row(), row(service="Twilio")])
    found = unused(audit(project))
    assert list(found) == ["prod/stripe/api-key"]
    message = found["prod/stripe/api-key"]
    assert f"last read on {days_ago(120):%Y-%m-%d}, 120 days ago (unused after 90 days)" in message
    assert "credctl sync --prune --env prod" in message


def test_a_secret_never_read_is_aged_from_its_creation(tmp_path: Path, aws: Any) -> None:
    put(aws, "prod/stripe/api-key", created=100, read=None)
    put(aws, "prod/twilio/api-key", created=10, read=None)
    project = project_of(tmp_path, [row(), row(service="Twilio")])
    report = audit(project)
    found = unused(report)
    assert list(found) == ["prod/stripe/api-key"]
    assert (
        f"never read since its creation on {days_ago(100):%Y-%m-%d}, 100 days ago"
        in (found["prod/stripe/api-key"])
    )
    [stripe] = [c for c in report["credentials"] if c["id"] == "prod/stripe/api-key"]
    [finding] = [f for f in stripe["findings"] if f["code"] == "unused"]
    assert finding["severity"] == "warning"
    assert (finding["file"], finding["line"]) == ("credentials.md", 5)


def test_unused_after_comes_from_the_type_then_the_environment_then_the_defaults(
    tmp_path: Path, aws: Any
) -> None:
    put(aws, "prod/stripe/api-key", created=400, read=40)
    put(aws, "prod/vault/break-glass", created=400, read=400)
    policy = POLICY.replace("require_owner: true}", "require_owner: true, unused_after: 30d}")
    project = project_of(
        tmp_path, [row(), row(service="Vault", credential_type="Break Glass")], policy
    )
    assert list(unused(audit(project))) == ["prod/stripe/api-key"]
    # the environment's rule wins over the defaults'
    (project / "policies" / "default.yaml").write_text(
        policy + "environments:\n  prod: {unused_after: 60d}\n"
    )
    assert unused(audit(project)) == {}


def test_unused_after_must_be_a_positive_duration_or_never(tmp_path: Path) -> None:
    policy = POLICY.replace("require_owner: true}", "require_owner: true, unused_after: 0d}")
    project = make_project(tmp_path, [row()], policies={"default.yaml": policy})
    result = credctl(project, "validate")
    assert result.exit_code == 2
    assert "policies/default.yaml:1" in result.stderr
    assert "unused_after" in result.stderr


def test_following_the_fix_removes_the_secret_and_the_finding(tmp_path: Path, aws: Any) -> None:
    put(aws, "prod/stripe/api-key", created=400, read=120)
    put(aws, "prod/twilio/api-key", created=400, read=1)
    project = project_of(tmp_path, [row(), row(service="Twilio")])
    [finding] = [f for f in audit(project)["findings"] if f["code"] == "unused"]
    assert FIXES["unused"].startswith("remove the row at {where}")
    # the fix: remove the row, then credctl sync --prune --env prod
    table = project / "credentials.md"
    table.write_text(
        "".join(line for line in table.read_text().splitlines(True) if "Stripe" not in line)
    )
    pruned = credctl(project, "sync", "--prune", "--env", "prod")
    assert pruned.exit_code == 0, pruned.output
    assert "prod/stripe/api-key" in pruned.output
    assert moto_secret("prod/stripe/api-key").is_deleted()  # recoverable: a recovery window
    after = audit(project)
    assert after["findings"] == [], after["findings"]
    assert finding["file"] == "credentials.md"


def test_stores_that_keep_no_read_time_give_no_finding(tmp_path: Path) -> None:
    project = make_project(tmp_path, [row()], environments={"prod": "backend: {type: local}\n"})
    synced = credctl(project, "sync")
    assert synced.exit_code == 0, synced.output
    assert unused(audit(project, env=moved(500))) == {}


def test_unused_is_described_reminded_and_has_a_fix() -> None:
    assert "unused" in FINDINGS
    assert "unused" in REMINDED
    assert "unused" in FIXES


# --------------------------------------------------------- moto's LastAccessedDate


@pytest.mark.store_clock  # moto dates the read by its own clock
def test_moto_records_the_day_of_a_read_as_aws_does(aws: Any) -> None:
    aws.create_secret(Name="prod/a", SecretString="x")
    aws.create_secret(Name="prod/b", SecretString="y")
    listed = {s["Name"]: s for s in aws.list_secrets()["SecretList"]}
    assert "LastAccessedDate" not in listed["prod/a"]  # never read: AWS leaves it out
    aws.get_secret_value(SecretId="prod/a")
    aws.batch_get_secret_value(SecretIdList=["prod/b"])
    listed = {s["Name"]: s for s in aws.list_secrets()["SecretList"]}
    for name in ("prod/a", "prod/b"):
        read = listed[name]["LastAccessedDate"].timestamp()
        assert read % DAY == 0
        assert 0 <= time.time() - read < DAY
    assert "LastAccessedDate" in aws.describe_secret(SecretId="prod/a")


def test_moto_server_reports_a_read_120_days_on_as_unused(
    tmp_path: Path, moto_server: MotoServer
) -> None:
    prefix = f"u-{int(time.time() * 1000)}/"
    project = make_project(
        tmp_path,
        [row()],
        environments={"prod": aws_environment_yaml(moto_server.url, prefix)},
        policies={"default.yaml": GENERATED},
    )
    env = project_env(moto_server)
    synced = credctl(project, "sync", env=env)
    assert synced.exit_code == 0, synced.output
    value = credctl(project, "get", "prod/stripe/api-key", env=env)  # a read: AWS dates it
    assert value.exit_code == 0, value.output
    assert unused(audit(project, env=env)) == {}
    later = unused(audit(project, env={**env, **moved(120)}))
    assert list(later) == ["prod/stripe/api-key"]
    assert "last read on" in later["prod/stripe/api-key"]


def test_the_owner_is_reminded_with_the_fix(tmp_path: Path, aws: Any) -> None:
    put(aws, "prod/stripe/api-key", created=400, read=120)
    project = project_of(tmp_path, [row(last_rotated=stamp(1)[:10])])
    result = credctl(project, "remind", "--dry-run")
    assert result.exit_code == 0, result.output
    [line] = [text for text in result.stdout.splitlines() if "unused" in text]
    assert line.startswith("| prod/stripe/api-key | warning unused: prod/stripe/api-key: last read")
    assert line.endswith(
        "| `remove the row at credentials.md:5, then credctl sync --prune --env prod` |"
    )
