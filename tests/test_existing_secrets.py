"""credctl on secrets other tools wrote (boto3, hvac, the `bao` CLI) on moto_server and
OpenBao: JSON and multi-field values, several rows on one secret, values changed outside
credctl, binary values, another tool's pending version. No value in any output."""

from __future__ import annotations

import json
import math
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from credctl.backends.pool import Backends
from credctl.model import row_key
from credctl.project import load_project
from credctl.settings import load_settings
from tests.support.contract import CANARY
from tests.support.dates import day, moved, stamp, today
from tests.support.fixtures import Store
from tests.support.projects import make_project
from tests.support.proxy import Proxy
from tests.support.runner import Result, credctl, credctl_process
from tests.support.servers import MotoServer, OpenBao

# every test here runs on a store that keeps its own time (moto_server, OpenBao)
pytestmark = [pytest.mark.integration, pytest.mark.store_clock]

POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  Database Password:
    secret: true
    rotator: generate
    self_contained: true  # set at the database by the tests' own apply step: none here
    generator: {kind: password, length: 24}
  Database User: {secret: true, max_age: 365d, rotator: manual}
  API Key:
    secret: true
    rotator: generate
    self_contained: true
    generator: {kind: token, bytes: 16}
  TLS Key:
    secret: true
    rotator: generate  # wrongly configured on purpose: binary data is never written as text
    self_contained: true
    generator: {kind: token, bytes: 16}
"""
HEADER = (
    "| Service | Environment | Credential Type | Value/Reference | Rotation Schedule "
    "| Last Rotated | Owner |\n|---|---|---|---|---|---|---|\n"
)
# a binary value that is not UTF-8, with the canary inside: leaked as text, it would show
BINARY = b"\x89PNG\r\n\x1a\n\x00\xff\xfe" + CANARY.encode() + b"\x00\x01"


def line(
    service: str, kind: str, reference: str = "", schedule: str = "90d", owner: str = "@ops"
) -> str:
    return f"| {service} | prod | {kind} | {reference} | {schedule} | | {owner} |\n"


class Other:
    """Another tool on the same store: writes and reads secrets without credctl."""

    def __init__(self, kind: str, server: MotoServer | OpenBao) -> None:
        self.kind = kind
        self.server = server
        self.store = Store(kind, server)
        self.prefix = f"x-{uuid.uuid4().hex[:8]}/"

    def reference(self, name: str, field: str | None = None) -> str:
        scheme = "aws-sm://" if self.kind == "aws" else "vault://secret/"
        return f"{scheme}{self.prefix}{name}" + (f"#{field}" if field else "")

    def put(self, name: str, document: dict[str, Any], *, cli: bool = False) -> None:
        """Create a secret holding `document`: AWS's JSON text; Vault KV data (with the
        `bao` CLI when `cli`, all values strings; else hvac, values of any JSON type)."""
        full = self.prefix + name
        if isinstance(self.server, MotoServer):
            text = json.dumps(document, separators=(",", ":"))
            self.server.client().create_secret(Name=full, SecretString=text)
        elif cli:
            pairs = [f"{key}={value}" for key, value in document.items()]
            self.server.bao("kv", "put", "-mount=secret", full, *pairs)
        else:
            self.server.client().secrets.kv.v2.create_or_update_secret(
                path=full, secret=document, mount_point="secret"
            )

    def change(self, name: str, text: str) -> None:
        """A new value written outside credctl: the console, Terraform, `bao kv put`."""
        full = self.prefix + name
        if isinstance(self.server, MotoServer):
            self.server.client().put_secret_value(SecretId=full, SecretString=text)
        else:
            self.server.bao("kv", "put", "-mount=secret", full, f"value={text}")

    def stored(self, name: str) -> tuple[Any, str, int]:
        """The value as the store holds it, its current version, and how many versions."""
        full = self.prefix + name
        if isinstance(self.server, MotoServer):
            client = self.server.client()
            answer = client.get_secret_value(SecretId=full)
            versions = client.list_secret_version_ids(SecretId=full)["Versions"]
            held = answer.get("SecretString", answer.get("SecretBinary"))
            return held, answer["VersionId"], len(versions)
        kv = self.server.client().secrets.kv.v2
        answer = kv.read_secret_version(
            path=full, mount_point="secret", raise_on_deleted_version=True
        )
        version = answer["data"]["metadata"]["version"]
        return answer["data"]["data"], str(version), int(version)

    def previous(self, name: str) -> Any:
        full = self.prefix + name
        if isinstance(self.server, MotoServer):
            answer = self.server.client().get_secret_value(
                SecretId=full, VersionStage="AWSPREVIOUS"
            )
            return answer["SecretString"]
        kv = self.server.client().secrets.kv.v2
        current = kv.read_secret_version(
            path=full, mount_point="secret", raise_on_deleted_version=True
        )["data"]["metadata"]
        older = kv.read_secret_version(
            path=full,
            version=current["version"] - 1,
            mount_point="secret",
            raise_on_deleted_version=True,
        )
        return older["data"]["data"]

    def metadata(self, name: str) -> dict[str, str]:
        full = self.prefix + name
        if isinstance(self.server, MotoServer):
            tags = self.server.client().describe_secret(SecretId=full).get("Tags", [])
            return {tag["Key"]: tag["Value"] for tag in tags}
        answer = self.server.client().secrets.kv.v2.read_secret_metadata(
            path=full, mount_point="secret"
        )
        return dict(answer["data"].get("custom_metadata") or {})

    def project(self, folder: Path, rows: list[str], **options: object) -> Path:
        return make_project(
            folder,
            table_text="# Credentials\n\n" + HEADER + "".join(rows),
            environments={"prod": self.store.environment_yaml(self.prefix, **options)},
            policies={"default.yaml": POLICY},
        )

    def run(self, project: Path, *args: str, input: str | None = None, **env: str) -> Result:
        # `credctl run` execs its command: a process of its own
        call = credctl_process if args[:1] == ("run",) else credctl
        result = call(project, *args, input=input, env={**self.store.env, **env})
        assert CANARY not in result.output
        assert "Traceback" not in result.output
        return result


@pytest.fixture(params=["aws", "vault"])
def other(request: pytest.FixtureRequest) -> Other:
    fixture = "moto_server" if request.param == "aws" else "openbao"
    return Other(request.param, request.getfixturevalue(fixture))


@pytest.fixture
def aws(moto_server: MotoServer) -> Other:
    return Other("aws", moto_server)


def with_backend(
    project: Path, other: Other, monkeypatch: pytest.MonkeyPatch, work: Callable[[Any], None]
) -> None:
    """Run `work` with credctl's own backend of the project's prod store (a side door)."""
    for key, text in other.store.env.items():
        monkeypatch.setenv(key, text)
    loaded = load_project(load_settings(project))
    backends = Backends(loaded)
    try:
        work(backends.get(loaded.environment("prod")))
    finally:
        backends.close()


def audit(other: Other, project: Path, **env: str) -> dict[str, Any]:
    result = other.run(project, "audit", "--format", "json", "--fail-on", "never", **env)
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def row_of(document: dict[str, Any], credential_id: str) -> dict[str, Any]:
    return next(c for c in document["credentials"] if c["id"] == credential_id)


def table_cell(project: Path, service: str, kind: str) -> str:
    """The Last Rotated cell of a row of the table."""
    for text in (project / "credentials.md").read_text().splitlines():
        cells = [cell.strip() for cell in text.strip("|").split("|")]
        if cells[:3] == [service, "prod", kind]:
            return cells[5]
    raise AssertionError(f"no row {service} {kind}")


# ------------------------------------------------------------ one secret's shape

RDS = {"username": "app", "password": CANARY, "host": "db.internal", "port": 5432, "ssl": True}


def test_a_row_without_field_on_a_structured_secret_writes_nothing(
    tmp_path: Path, other: Other
) -> None:
    # the usual RDS shape from boto3; on Vault the fields the `bao` CLI writes
    other.put("db", RDS, cli=True)
    before = other.stored("db")
    project = other.project(
        tmp_path, [line("Postgres", "Database Password", other.reference("db"))]
    )
    # Vault answers with the fields in alphabetical order
    fields = "username, password, host, port, ssl"
    if other.kind == "vault":
        fields = "host, password, port, ssl, username"
    kind = "a JSON object" if other.kind == "aws" else "KV data with several fields"
    expected = (
        f"prod/postgres/database-password: {other.reference('db')} holds {kind} ({fields}); "
        "a row without #field would replace all of it, so nothing was written (hint: reference "
        f"the field this row holds, e.g. {other.reference('db')}#password (one row per field))"
    )
    rotated = other.run(project, "rotate", "prod/postgres/database-password")
    assert rotated.exit_code == 2, rotated.output
    assert expected in rotated.stdout
    given = other.run(project, "set", "prod/postgres/database-password", input="new-value\n")
    assert given.exit_code == 2, given.output
    assert given.stderr == f"Error: {expected}\n"
    assert other.stored("db") == before  # the same bytes, the same version, no new one
    assert other.run(project, "sync").exit_code == 0  # metadata only
    assert other.stored("db") == before


def test_rotating_one_field_changes_that_field_only(tmp_path: Path, other: Other) -> None:
    other.put("db", RDS)  # boto3's JSON text; hvac's typed KV data
    original, version, _ = other.stored("db")
    project = other.project(
        tmp_path, [line("Postgres", "Database Password", other.reference("db", "password"))]
    )
    assert other.run(project, "sync").exit_code == 0
    rotated = other.run(project, "rotate", "prod/postgres/database-password")
    assert rotated.exit_code == 0, rotated.output
    now, new_version, _ = other.stored("db")
    assert new_version != version
    document = json.loads(now) if other.kind == "aws" else now
    assert document["password"] != CANARY
    unchanged = {key: value for key, value in RDS.items() if key != "password"}
    assert {key: document[key] for key in unchanged} == unchanged
    assert [type(document[key]) for key in unchanged] == [str, str, int, bool]
    if other.kind == "aws":  # the fields in their order, the text laid out as it was
        assert now == original.replace(CANARY, document["password"])
    # the previous value stays readable, as it was
    assert other.previous("db") == original
    got = other.run(project, "get", "prod/postgres/database-password")
    assert got.stdout == document["password"]


def test_nested_fields_are_read_and_rotated(tmp_path: Path, other: Other) -> None:
    other.put("app", {"db": {"password": CANARY, "port": 5432}, "region": "eu-west-1"})
    project = other.project(
        tmp_path, [line("App", "Database Password", other.reference("app", "db.password"))]
    )
    assert other.run(project, "sync").exit_code == 0
    got = credctl(project, "get", "prod/app/database-password", env=other.store.env)
    assert got.stdout == CANARY
    rotated = other.run(project, "rotate", "prod/app/database-password")
    assert rotated.exit_code == 0, rotated.output
    now = other.stored("app")[0]
    document = json.loads(now) if other.kind == "aws" else now
    assert document["region"] == "eu-west-1"
    assert document["db"]["port"] == 5432
    assert type(document["db"]["port"]) is int
    assert document["db"]["password"] not in (CANARY, "")


# ------------------------------------------------------ several rows, one secret


def test_two_rows_on_one_secret_settle_and_rotate_apart(
    tmp_path: Path, other: Other, monkeypatch: pytest.MonkeyPatch
) -> None:
    other.put("db", {"username": "app", "password": CANARY}, cli=True)
    project = other.project(
        tmp_path,
        [
            line("Postgres", "Database User", other.reference("db", "username"), "365d", "@dba"),
            line(
                "Postgres",
                "Database Password",
                other.reference("db", "password"),
                "30d",
                "@platform",
            ),
        ],
    )
    synced = other.run(project, "sync")
    assert synced.exit_code == 0, synced.output
    planned = other.run(project, "plan", "--detailed-exitcode")
    assert planned.exit_code == 0, planned.output
    tags = other.metadata("db")
    assert tags[row_key("credctl:owner", "username")] == "@dba"
    assert tags[row_key("credctl:owner", "password")] == "@platform"
    assert tags[row_key("credctl:type", "password")] == "Database Password"
    assert "credctl:type" not in tags
    assert "credctl:owner" not in tags
    # the user name was last changed 100 days ago, as the store records it
    with_backend(
        project,
        other,
        monkeypatch,
        lambda backend: backend.set_metadata(
            other.prefix + "db", {row_key("credctl:last-rotated", "username"): stamp(100)}
        ),
    )
    assert other.run(project, "sync").exit_code == 0
    assert table_cell(project, "Postgres", "Database User") == day(100)
    rotated = other.run(project, "rotate", "prod/postgres/database-password")
    assert rotated.exit_code == 0, rotated.output
    assert table_cell(project, "Postgres", "Database Password") == today()
    assert table_cell(project, "Postgres", "Database User") == day(100)  # left as it was
    report = audit(other, project)
    user = row_of(report, "prod/postgres/database-user")
    assert user["last_rotated"].startswith(day(100))
    assert user["owner"] == "@dba"
    assert row_of(report, "prod/postgres/database-password")["last_rotated"].startswith(today())
    assert not [f for f in report["findings"] if f["code"] in ("metadata-drift", "table-drift")]
    assert other.run(project, "plan", "--detailed-exitcode").exit_code == 0
    document = other.stored("db")[0]
    assert (json.loads(document) if other.kind == "aws" else document)["username"] == "app"


def test_rows_whose_metadata_the_store_cannot_hold_are_refused(
    tmp_path: Path, other: Other
) -> None:
    count = 9 if other.kind == "aws" else 11  # 6 keys each: past 49 tags / 63 custom_metadata keys
    other.put("wide", {f"key{index}": f"v{index}" for index in range(count)}, cli=True)
    before = other.metadata("wide")
    rows = [
        line(f"Svc{index}", "API Key", other.reference("wide", f"key{index}"))
        for index in range(count)
    ]
    project = other.project(tmp_path, rows)
    for command in ("plan", "sync"):
        refused = other.run(project, command)
        assert refused.exit_code == 2, refused.output
        assert f"Error: {other.reference('wide')} would need " in refused.stderr
        assert "(hint: keep fewer rows on this secret" in refused.stderr
    assert other.metadata("wide") == before


# ------------------------------------------------------- changed outside credctl


def test_a_value_changed_outside_credctl_is_seen(
    tmp_path: Path, other: Other, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = other.project(tmp_path, [line("Stripe", "API Key")])
    assert other.run(project, "sync").exit_code == 0
    name = other.prefix + "stripe/api-key"
    # credctl's last rotation was 200 days ago: overdue
    with_backend(
        project,
        other,
        monkeypatch,
        lambda backend: backend.set_metadata(name, {"credctl:last-rotated": stamp(200)}),
    )
    assert other.run(project, "sync").exit_code == 0
    assert table_cell(project, "Stripe", "API Key") == day(200)
    assert row_of(audit(other, project), "prod/stripe/api-key")["status"] == "overdue"
    other.change("stripe/api-key", "sk_live_from_the_console")
    report = audit(other, project)
    credential = row_of(report, "prod/stripe/api-key")
    assert credential["status"] == "ok"
    assert credential["last_rotated"].startswith(today())
    assert credential["rotated_by"] is None
    [finding] = credential["findings"][:1]
    assert (finding["code"], finding["severity"]) == ("changed-outside", "info")
    assert finding["message"].startswith(
        f"prod/stripe/api-key: its value was changed outside credctl on {today()} (version "
    )
    assert f"credctl's last rotation: {day(200)}); aged from that date" in finding["message"]
    assert [f["code"] for f in credential["findings"]] == ["changed-outside", "table-drift"]
    due = other.run(project, "rotate", "--due", "--dry-run")
    assert due.exit_code == 0, due.output
    assert due.stderr == "Nothing to rotate.\n"
    # sync writes the date back and records the version: nothing left to change or report
    synced = other.run(project, "sync")
    assert synced.exit_code == 0, synced.output
    assert table_cell(project, "Stripe", "API Key") == today()
    assert other.run(project, "plan", "--detailed-exitcode").exit_code == 0
    after = row_of(audit(other, project), "prod/stripe/api-key")
    assert after["findings"] == []
    assert after["last_rotated"].startswith(today())
    assert after["rotated_by"] == "outside credctl"


def test_an_audit_dates_only_the_secrets_changed_outside(
    tmp_path: Path, aws: Other, proxy: Callable[..., Proxy]
) -> None:
    count, changed = 1000, 10
    client = aws.server.client()
    for index in range(count):
        version = str(uuid.uuid4())
        tags = {
            "credctl:managed": "true",
            "credctl:owner": "@ops",
            "credctl:service": f"Svc{index:04d}",
            "credctl:type": "API Key",
            "credctl:schedule": "90d",
            "credctl:last-rotated": stamp(2),
            "credctl:version": version,
        }
        client.create_secret(
            Name=f"{aws.prefix}svc{index:04d}/api-key",
            SecretString=f"value-{index}",
            ClientRequestToken=version,
            Tags=[{"Key": key, "Value": text} for key, text in tags.items()],
        )
    for index in range(0, count, count // changed):
        client.put_secret_value(SecretId=f"{aws.prefix}svc{index:04d}/api-key", SecretString="new")
    through = proxy(aws.server.url)
    project = make_project(
        tmp_path,
        table_text=HEADER + "".join(line(f"Svc{index:04d}", "API Key") for index in range(count)),
        environments={
            "prod": aws.store.environment_yaml(aws.prefix).replace(aws.server.url, through.url)
        },
        policies={"default.yaml": POLICY},
    )
    report = audit(aws, project)
    calls = Counter(through.log)
    assert calls == {"ListSecrets": math.ceil(count / 100), "ListSecretVersionIds": changed}
    found = [f for f in report["findings"] if f["code"] == "changed-outside"]
    assert len(found) == changed
    # sync records those versions: the next audit needs no request per secret
    assert aws.run(project, "sync").exit_code == 0
    through.log.clear()
    audit(aws, project)
    assert Counter(through.log) == {"ListSecrets": math.ceil(count / 100)}


# --------------------------------------------------------------- binary values


def test_a_binary_secret_survives_every_command(tmp_path: Path, aws: Other) -> None:
    aws.server.client().create_secret(Name=aws.prefix + "tls/key", SecretBinary=BINARY)
    before = aws.stored("tls/key")
    assert before[0] == BINARY
    project = aws.project(
        tmp_path,
        [line("TLS", "TLS Key", aws.reference("tls/key")), line("Stripe", "API Key")],
    )
    refused = "holds binary data (AWS SecretBinary); credctl never turns it into text"
    for args in (
        ["validate"],
        ["plan"],
        ["sync"],
        ["audit", "--fail-on", "never"],
        ["status"],
        ["import"],
        ["rotate", "--due", "--dry-run", "--as-of", "2099-01-01"],
        ["log"],
    ):
        result = aws.run(project, *args)
        assert result.exit_code == 0, (args, result.output)
        assert aws.stored("tls/key") == before
    # overdue by credctl's record: rotate --due tries it too
    aws.server.client().tag_resource(
        SecretId=aws.prefix + "tls/key", Tags=[{"Key": "credctl:last-rotated", "Value": stamp(200)}]
    )
    for args, stream in (
        (["rotate", "prod/tls/tls-key"], "stdout"),
        (["rotate", "--due"], "stdout"),
        (["set", "prod/tls/tls-key"], "stderr"),
    ):
        result = aws.run(project, *args, input="text-value\n")
        assert result.exit_code == 2, (args, result.output)
        assert refused in getattr(result, stream)
        assert aws.stored("tls/key") == before
    got = aws.run(project, "get", "prod/tls/tls-key")
    assert got.exit_code == 2
    assert got.stderr.startswith(
        f"Error: {aws.prefix}tls/key holds binary data that is not text (AWS SecretBinary): "
        "credctl hands over text only (hint: read it with: aws secretsmanager get-secret-value"
    )
    written = aws.run(project, "env", "-o", str(tmp_path / ".env"))
    assert written.exit_code == 0, written.output
    assert written.stderr.startswith(
        "warning: TLS_TLS_KEY (prod/tls/tls-key) left out: its value is binary data, not text "
        "(AWS SecretBinary), which no environment variable can carry\n"
    )
    text = (tmp_path / ".env").read_text()
    assert "STRIPE_API_KEY=" in text
    assert "TLS_TLS_KEY" not in text
    checked = aws.run(project, "env", "-o", str(tmp_path / ".env"), "--check")
    assert checked.exit_code == 0, checked.output
    ran = aws.run(project, "run", "--", "sh", "-c", 'echo "${TLS_TLS_KEY-unset}"')
    assert ran.exit_code == 0
    assert ran.stdout == "unset\n"
    assert aws.stored("tls/key") == before


# ---------------------------------------------------- another tool's pending value


def test_another_tools_pending_version_is_aged_by_its_own_date(tmp_path: Path, aws: Other) -> None:
    project = aws.project(tmp_path, [line("Stripe", "API Key")])
    assert aws.run(project, "sync").exit_code == 0
    # what an AWS rotation function leaves while it runs: an AWSPENDING version, no credctl tag
    aws.server.client().put_secret_value(
        SecretId=aws.prefix + "stripe/api-key", SecretString=CANARY, VersionStages=["AWSPENDING"]
    )
    fresh = row_of(audit(aws, project), "prod/stripe/api-key")
    assert fresh["findings"] == []  # a rotation function at work: nothing to say yet
    later = audit(aws, project, **moved(2))  # two days on, it is still there
    credential = row_of(later, "prod/stripe/api-key")
    [finding] = credential["findings"]
    assert (finding["code"], finding["severity"]) == ("foreign-pending", "warning")
    assert finding["message"].startswith(
        "prod/stripe/api-key: a pending version that credctl did not stage (an AWS rotation "
        f"function's?) has waited since {today()} "
    )
    assert finding["message"].endswith(
        " UTC, 2 days; credctl leaves it alone (find out which tool staged it; if nothing will "
        "finish it: 'credctl rotate prod/stripe/api-key --abort --force')"
    )
    due = aws.run(project, "rotate", "--due", "--dry-run", **moved(2))
    assert due.stderr == "Nothing to rotate.\n"
    kept = aws.run(project, "rotate", "prod/stripe/api-key", "--abort", **moved(2))
    assert kept.exit_code == 1
    assert "credctl leaves it alone" in kept.stdout
    assert aws.stored("stripe/api-key")[2] == 2  # the pending version is still there
    refused = aws.run(project, "rotate", "prod/stripe/api-key", "--force")
    assert refused.exit_code == 2
    assert refused.stderr.startswith("Error: --force goes with --abort")
