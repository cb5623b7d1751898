"""Expiry dates the provider sets: a PEM certificate's notAfter read when credctl stores a
value, `set --expires`, the optional Expires column; `expires-soon`, `expired`, due dates,
and the fix each finding names."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from credctl.backends.pool import Backends
from credctl.expiry import Expiry, certificate_expiry, parse_expiry
from credctl.model import META_EXPIRES, row_key
from credctl.project import load_project
from credctl.secret import Secret
from credctl.settings import load_settings
from tests.support.certificates import certificate, certificate_until, not_after, private_key
from tests.support.dates import day
from tests.support.fixtures import Store
from tests.support.projects import HEADER, make_project, row
from tests.support.runner import credctl
from tests.support.servers import MotoServer, OpenBao

CANARY = "canary-Ex9Pq4Lw2Zr7Vt5Kd"
POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  TLS Certificate: {secret: true, max_age: 365d, rotator: manual}
  API Key: {
    secret: true, rotator: generate, self_contained: true,
    generator: {kind: token, bytes: 16}
  }
"""
EXPIRES_HEADER = (
    "| Service | Environment | Credential Type | Value/Reference | Rotation Schedule "
    "| Last Rotated | Owner | Expires |\n|---|---|---|---|---|---|---|---|\n"
)
CERT_ID = "prod/web/tls-certificate"
KEY_ID = "prod/stripe/api-key"


def with_canary(pem: str) -> str:
    """A value that holds a certificate and its key, and a canary no output may show."""
    return f"# {CANARY}\n{pem}{private_key()}"


def cert_row(expires: str | None = None) -> str:
    line = row(service="Web", credential_type="TLS Certificate", schedule="365d")
    return line if expires is None else line.rstrip("\n") + f" {expires} |\n"


def key_row(expires: str | None = None) -> str:
    line = row()
    return line if expires is None else line.rstrip("\n") + f" {expires} |\n"


def project_on(
    folder: Path, store: Store, *, expires_column: bool = False, rows: list[str] | None = None
) -> Path:
    prefix = f"x-{uuid.uuid4().hex[:8]}/"
    if rows is None:
        rows = [cert_row(""), key_row("")] if expires_column else [cert_row(), key_row()]
    header = EXPIRES_HEADER if expires_column else HEADER
    return make_project(
        folder,
        environments={"prod": store.environment_yaml(prefix)},
        policies={"default.yaml": POLICY},
        table_text="# Credentials\n\n" + header + "".join(rows),
    )


def audit(project: Path, store: Store, *args: str) -> tuple[int, dict[str, Any], str]:
    result = credctl(project, "audit", "--format", "json", *args, env=store.env)
    assert CANARY not in result.output
    return result.exit_code, json.loads(result.stdout), result.stderr


def credential(report: dict[str, Any], credential_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in report["credentials"] if c["id"] == credential_id)
    return found


def codes(entry: dict[str, Any]) -> set[str]:
    return {finding["code"] for finding in entry["findings"]}


def table_cells(project: Path, service: str) -> list[str]:
    for line in (project / "credentials.md").read_text().splitlines():
        if line.startswith(f"| {service} |"):
            return [cell.strip() for cell in line.strip().strip("|").split("|")]
    raise AssertionError(f"no row for {service}")


def stored_metadata(
    project: Path, store: Store, name: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    for key, value in store.env.items():
        monkeypatch.setenv(key, value)
    loaded = load_project(load_settings(project))
    backends = Backends(loaded)
    try:
        prod = loaded.environment("prod")
        info = backends.get(prod).secret_info(prod.prefix + name)
    finally:
        backends.close()
    assert info is not None
    return info.metadata


# ------------------------------------------------------------ reading the date


def test_a_chain_expires_when_its_first_certificate_does() -> None:
    first = not_after(20)
    chain = certificate(300) + certificate_until(first) + certificate(90)
    assert certificate_expiry(Secret(chain)) == first
    bundle = f"{private_key()}{certificate_until(first)}"  # a key before the certificate
    assert certificate_expiry(Secret(bundle)) == first


def test_a_value_without_a_certificate_has_no_expiry() -> None:
    assert certificate_expiry(Secret("sk_live_abc123")) is None
    broken = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
    assert certificate_expiry(Secret(broken)) is None
    assert Expiry.of(Secret(broken)) == Expiry(None, "none")


def test_a_date_given_wins_over_the_certificate() -> None:
    given = datetime(2099, 1, 1, tzinfo=UTC)
    assert Expiry.of(Secret(certificate(10)), given) == Expiry(given, "given")
    assert Expiry(given, "given").metadata("cert") == {
        row_key(META_EXPIRES, "cert"): "2099-01-01T00:00:00Z"
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2099-03-31", datetime(2099, 3, 31, tzinfo=UTC)),
        ("2099-03-31T12:30:00Z", datetime(2099, 3, 31, 12, 30, tzinfo=UTC)),
        ("2099-03-31T14:30:00+02:00", datetime(2099, 3, 31, 12, 30, tzinfo=UTC)),
        ("", None),
    ],
)
def test_expiry_dates_parse(text: str, expected: datetime | None) -> None:
    assert parse_expiry(text) == expected


@pytest.mark.parametrize("text", ["next week", "2099-02-30", "31/03/2099"])
def test_a_date_that_does_not_parse_is_named(text: str) -> None:
    with pytest.raises(ValueError, match=f"invalid expiry date '{text}'"):
        parse_expiry(text)


# ------------------------------------------------- set, audit, on every store


@pytest.mark.integration
def test_a_certificate_expiring_in_10_days_is_expires_soon(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = project_on(tmp_path, store)
    assert credctl(project, "sync", env=store.env).exit_code == 0
    expires = not_after(10)
    pem = with_canary(certificate_until(expires))
    stored = credctl(project, "set", CERT_ID, input=pem, env=store.env)
    assert stored.exit_code == 0, stored.output
    assert CANARY not in stored.output
    assert f"it expires {expires:%Y-%m-%dT%H:%M:%SZ} (its certificate's notAfter)" in stored.stderr
    code, report, _ = audit(project, store)
    assert code == 0  # a warning
    web = credential(report, CERT_ID)
    assert web["expires_on"] == f"{expires:%Y-%m-%d}"
    assert web["due_on"] == f"{expires:%Y-%m-%d}"  # earlier than its 365-day schedule
    assert web["status"] == "due-soon"
    [soon] = [f for f in web["findings"] if f["code"] == "expires-soon"]
    assert soon["severity"] == "warning"
    assert soon["message"] == (
        f"{CERT_ID}: expires on {expires:%Y-%m-%d}, in 10 days (renew it at its provider, then "
        f"'credctl set {CERT_ID} --expires DATE' with the new value)"
    )
    metadata = stored_metadata(project, store, "web/tls-certificate", monkeypatch)
    assert metadata[META_EXPIRES] == f"{expires:%Y-%m-%dT%H:%M:%SZ}"
    assert credential(report, KEY_ID)["expires_on"] is None


@pytest.mark.integration
def test_an_expired_certificate_is_an_error_and_following_the_hint_fixes_it(
    tmp_path: Path, store: Store
) -> None:
    project = project_on(tmp_path, store)
    assert credctl(project, "sync", env=store.env).exit_code == 0
    old = with_canary(certificate(-3))
    assert credctl(project, "set", CERT_ID, input=old, env=store.env).exit_code == 0
    code, report, _ = audit(project, store)
    assert code == 1
    web = credential(report, CERT_ID)
    assert web["status"] == "overdue"
    [expired] = [f for f in web["findings"] if f["code"] == "expired"]
    assert expired["severity"] == "error"
    assert expired["message"].startswith(f"{CERT_ID}: expired on {day(3)} (renew it")
    due = credctl(project, "rotate", "--due", "--dry-run", env=store.env)
    assert f"{CERT_ID}  skipped           dry run: would rotate (expired) with manual" in due.stdout
    # the hint: renew it, then 'credctl set ID --expires DATE' with the new value
    renewed = with_canary(certificate(200))
    fixed = credctl(project, "set", CERT_ID, "--expires", day(-200), input=renewed, env=store.env)
    assert fixed.exit_code == 0, fixed.output
    code, report, _ = audit(project, store)
    assert code == 0
    assert not {"expired", "expires-soon"} & codes(credential(report, CERT_ID))
    assert credential(report, CERT_ID)["expires_on"] == day(-200)


def test_rotating_a_generated_value_clears_its_expiry(tmp_path: Path) -> None:
    store = Store("local")
    project = project_on(tmp_path, store, expires_column=True)
    assert credctl(project, "sync").exit_code == 0
    given = credctl(project, "set", KEY_ID, "--expires", day(2), input=CANARY)
    assert given.exit_code == 0, given.output
    assert table_cells(project, "Stripe")[-1] == day(2)
    code, report, _ = audit(project, store)
    assert code == 1
    [expired] = [f for f in credential(report, KEY_ID)["findings"] if f["code"] == "expired"]
    assert expired["message"] == f"{KEY_ID}: expired on {day(2)} ('credctl rotate {KEY_ID}')"
    assert credctl(project, "rotate", KEY_ID).exit_code == 0
    code, report, _ = audit(project, store)
    assert code == 0
    assert credential(report, KEY_ID)["expires_on"] is None
    assert table_cells(project, "Stripe")[-1] == ""  # a new value: its old expiry is gone


def test_the_same_value_again_records_only_its_expiry(tmp_path: Path) -> None:
    store = Store("local")
    project = project_on(tmp_path, store, expires_column=True)
    assert credctl(project, "sync").exit_code == 0
    assert credctl(project, "set", KEY_ID, input=CANARY).exit_code == 0
    again = credctl(project, "set", KEY_ID, "--expires", day(-30), input=CANARY)
    assert again.exit_code == 0, again.output
    assert "nothing stored, no new version, Last Rotated unchanged; recorded that it expires" in (
        again.stderr
    )
    assert table_cells(project, "Stripe")[-1] == day(-30)
    _, report, _ = audit(project, store)
    assert credential(report, KEY_ID)["expires_on"] == day(-30)
    same = credctl(project, "set", KEY_ID, input=CANARY)  # no date given: what is known stays
    assert same.exit_code == 0
    _, report, _ = audit(project, store)
    assert credential(report, KEY_ID)["expires_on"] == day(-30)


def test_a_bad_expires_option_is_a_usage_error(tmp_path: Path) -> None:
    project = project_on(tmp_path, Store("local"))
    result = credctl(project, "set", KEY_ID, "--expires", "soon", input=CANARY)
    assert result.exit_code == 2
    assert "Invalid value for '--expires': invalid expiry date 'soon'" in result.stderr
    assert CANARY not in result.output


# ------------------------------------------------------------ the Expires column


@pytest.mark.integration
def test_the_expires_column_gives_a_date_and_sync_records_it(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [cert_row(""), key_row(day(-5))]
    project = project_on(tmp_path, store, expires_column=True, rows=rows)
    synced = credctl(project, "sync", env=store.env)
    assert synced.exit_code == 0, synced.output
    metadata = stored_metadata(project, store, "stripe/api-key", monkeypatch)
    assert metadata[META_EXPIRES] == f"{day(-5)}T00:00:00Z"
    _code, report, _ = audit(project, store)
    stripe = credential(report, KEY_ID)
    assert stripe["expires_on"] == day(-5)
    assert "expires-soon" in codes(stripe)
    # a certificate set through credctl writes its date into the Expires cell
    pem = with_canary(certificate(30))
    assert credctl(project, "set", CERT_ID, input=pem, env=store.env).exit_code == 0
    assert table_cells(project, "Web")[-1] == f"{not_after(30):%Y-%m-%d}"
    # a cell emptied by hand: the store's date is written back
    table = project / "credentials.md"
    table.write_text(table.read_text().replace(f"| {not_after(30):%Y-%m-%d} |", "|  |"))
    _, report, _ = audit(project, store)
    [drift] = [f for f in credential(report, CERT_ID)["findings"] if f["code"] == "table-drift"]
    assert f"Expires (empty, store {not_after(30):%Y-%m-%d})" in drift["message"]
    plan = credctl(project, "plan", env=store.env)
    assert f"< write-back  {CERT_ID}  (Expires)" in plan.stdout
    assert credctl(project, "sync", env=store.env).exit_code == 0
    assert table_cells(project, "Web")[-1] == f"{not_after(30):%Y-%m-%d}"
    assert CANARY not in plan.output


def test_a_date_typed_into_the_table_is_what_the_store_gets(tmp_path: Path) -> None:
    store = Store("local")
    project = project_on(tmp_path, store, expires_column=True)
    assert credctl(project, "sync").exit_code == 0
    assert credctl(project, "set", KEY_ID, "--expires", day(-40), input=CANARY).exit_code == 0
    table = project / "credentials.md"
    table.write_text(table.read_text().replace(f"| {day(-40)} |", f"| {day(-120)} |"))
    _, report, _ = audit(project, store)
    stripe = credential(report, KEY_ID)
    assert stripe["expires_on"] == day(-120)
    [drift] = [f for f in stripe["findings"] if f["code"] == "metadata-drift"]
    assert "the store's expiry differs from the table" in drift["message"]
    plan = credctl(project, "plan")
    assert f"~ update      {KEY_ID}  (expires)" in plan.stdout
    assert credctl(project, "sync").exit_code == 0
    _, report, _ = audit(project, store)
    assert not {"metadata-drift", "table-drift"} & codes(credential(report, KEY_ID))


def test_an_invalid_expires_cell_is_a_validation_error(tmp_path: Path) -> None:
    project = project_on(
        tmp_path, Store("local"), expires_column=True, rows=[key_row("31/12/2099")]
    )
    result = credctl(project, "validate")
    assert result.exit_code == 2
    assert (
        "credentials.md:5: Expires: invalid expiry date '31/12/2099' (use an ISO date such as "
        "2027-03-31, or a date-time such as 2027-03-31T12:00:00Z)"
    ) in result.stderr
    assert credctl(project, "audit").exit_code == 2


def test_a_table_without_the_column_is_left_as_it_was(tmp_path: Path) -> None:
    store = Store("local")
    project = project_on(tmp_path, store)
    assert credctl(project, "sync").exit_code == 0
    before = (project / "credentials.md").read_text()
    pem = with_canary(certificate(60))
    assert credctl(project, "set", CERT_ID, input=pem).exit_code == 0
    after = (project / "credentials.md").read_text()
    assert after.splitlines()[4] != before.splitlines()[4]  # Last Rotated written
    assert "Expires" not in after
    assert f"{not_after(60):%Y-%m-%d}" not in after
    assert credctl(project, "plan", "--detailed-exitcode").exit_code == 0


def test_the_yaml_table_takes_an_expires_key(tmp_path: Path) -> None:
    project = make_project(tmp_path, policies={"default.yaml": POLICY}, table_text="")
    (project / "credentials.md").unlink()
    (project / "credentials.yaml").write_text(
        "- service: Stripe\n  environment: prod\n  credential_type: API Key\n"
        "  value_reference: ''\n  rotation_schedule: 90d\n  last_rotated: ''\n"
        f"  owner: '@payments'\n  expires: '{day(-3)}'\n"
    )
    assert credctl(project, "sync").exit_code == 0
    _, report, _ = audit(project, Store("local"))
    assert credential(report, KEY_ID)["expires_on"] == day(-3)
    assert credctl(project, "rotate", KEY_ID).exit_code == 0
    text = (project / "credentials.yaml").read_text()
    assert "expires: ''" in text or 'expires: ""' in text


@pytest.mark.integration
def test_sync_reads_the_expiry_of_a_certificate_renewed_outside_credctl(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    if store.kind == "local":
        pytest.skip("no other tool writes to the local store")
    project = project_on(tmp_path, store, expires_column=True)
    assert credctl(project, "sync", env=store.env).exit_code == 0
    old = with_canary(certificate(-3))
    assert credctl(project, "set", CERT_ID, input=old, env=store.env).exit_code == 0
    for key, value in store.env.items():
        monkeypatch.setenv(key, value)
    loaded = load_project(load_settings(project))
    prod = loaded.environment("prod")
    name = prod.prefix + "web/tls-certificate"
    backends = Backends(loaded)
    try:  # credctl's record is old: the renewal below is another tool's
        backends.get(prod).set_metadata(name, {"credctl:last-rotated": "2001-01-01T00:00:00Z"})
    finally:
        backends.close()
    renewed = with_canary(certificate(120))
    assert isinstance(store.server, (MotoServer, OpenBao))
    client = store.server.client()
    if store.kind == "aws":
        client.put_secret_value(SecretId=name, SecretString=renewed)
    else:
        client.secrets.kv.v2.create_or_update_secret(
            path=name, secret={"value": renewed}, mount_point="secret"
        )
    code, report, _ = audit(project, store)
    assert "expired" in codes(credential(report, CERT_ID))  # nothing read the new value yet
    synced = credctl(project, "sync", env=store.env)
    assert synced.exit_code == 0, synced.output
    assert CANARY not in synced.output
    code, report, _ = audit(project, store)
    assert code == 0
    web = credential(report, CERT_ID)
    assert web["expires_on"] == f"{not_after(120):%Y-%m-%d}"
    assert not {"expired", "table-drift", "metadata-drift"} & codes(web)
    assert table_cells(project, "Web")[-1] == f"{not_after(120):%Y-%m-%d}"
