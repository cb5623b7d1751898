"""Rotation upon team changes: the owner at each rotation is recorded; a row whose owner
changed since is `owner-changed`, and a credential someone who left (owners.yaml
`departed:`) rotated or owned is `rotated-by-departed`; `rotate --due` picks both up."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from credctl.backends.pool import Backends
from credctl.model import META_LAST_ROTATED, META_OWNER_AT_ROTATION, META_ROTATED_BY
from credctl.project import load_project
from credctl.settings import load_settings
from credctl.turnover import is_production
from tests.support.dates import day, stamp
from tests.support.fixtures import Store
from tests.support.projects import make_project, row
from tests.support.runner import credctl
from tests.support.seeding import seed

CANARY = "canary-Ow5Nc8Rt3Jx1Qm6Vh"
STRIPE = "prod/stripe/api-key"


def project_on(folder: Path, store: Store, rows: list[str] | None = None) -> Path:
    prefix = f"o-{uuid.uuid4().hex[:8]}/"
    return make_project(
        folder,
        rows if rows is not None else [row(), row(service="Twilio", owner="@messaging")],
        environments={"prod": store.environment_yaml(prefix)},
    )


def set_owner(project: Path, service: str, owner: str) -> None:
    table = project / "credentials.md"
    lines = table.read_text().splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.startswith(f"| {service} |"):
            cells = line.split("|")
            cells[7] = f" {owner} "
            lines[index] = "|".join(cells)
    table.write_text("".join(lines))


def audit(project: Path, store: Store) -> tuple[int, dict[str, Any]]:
    result = credctl(project, "audit", "--format", "json", env=store.env)
    assert CANARY not in result.output
    return result.exit_code, json.loads(result.stdout)


def findings_of(report: dict[str, Any], credential_id: str, code: str) -> list[dict[str, Any]]:
    entry = next(c for c in report["credentials"] if c["id"] == credential_id)
    return [finding for finding in entry["findings"] if finding["code"] == code]


def store_metadata(project: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in store.env.items():
        monkeypatch.setenv(key, value)
    loaded = load_project(load_settings(project))
    backends = Backends(loaded)
    try:
        prod = loaded.environment("prod")
        info = backends.get(prod).secret_info(prod.prefix + "stripe/api-key")
    finally:
        backends.close()
    assert info is not None
    return info.metadata


@pytest.mark.integration
def test_an_owner_changed_since_the_last_rotation_makes_it_due(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = project_on(tmp_path, store)
    assert credctl(project, "sync", env=store.env).exit_code == 0
    rotated = credctl(project, "rotate", STRIPE, "--actor", "alice", env=store.env)
    assert rotated.exit_code == 0, rotated.output
    metadata = store_metadata(project, store, monkeypatch)
    assert metadata[META_OWNER_AT_ROTATION] == "@payments"
    assert metadata[META_ROTATED_BY] == "alice"
    code, report = audit(project, store)
    assert code == 0
    assert not findings_of(report, STRIPE, "owner-changed")
    set_owner(project, "Stripe", "@billing")
    code, report = audit(project, store)
    assert code == 0  # a warning
    [changed] = findings_of(report, STRIPE, "owner-changed")
    assert changed["severity"] == "warning"
    assert changed["message"] == (
        f"{STRIPE}: its owner changed from @payments to @billing since its last rotation on "
        f"{day(0)}; rotate it upon team changes ('credctl rotate {STRIPE}')"
    )
    stripe = next(c for c in report["credentials"] if c["id"] == STRIPE)
    assert (stripe["status"], stripe["due_on"]) == ("due-soon", day(0))
    # sync brings the store's owner up to date, but the team changed: still due
    assert credctl(project, "sync", env=store.env).exit_code == 0
    _, report = audit(project, store)
    assert findings_of(report, STRIPE, "owner-changed")
    due = credctl(project, "rotate", "--due", "--dry-run", env=store.env)
    assert due.exit_code == 0, due.output
    assert f"{STRIPE}  skipped           dry run: would rotate (owner changed) with generate" in (
        due.stdout
    )
    assert "prod/twilio/api-key" not in due.stdout
    assert credctl(project, "rotate", "--due", env=store.env).exit_code == 0
    _, report = audit(project, store)
    assert not findings_of(report, STRIPE, "owner-changed")
    assert store_metadata(project, store, monkeypatch)[META_OWNER_AT_ROTATION] == "@billing"


def departed_project(tmp_path: Path, owners_yaml: str, **metadata: str) -> Path:
    project = make_project(
        tmp_path,
        [row(), row(environment="dev"), row(service="Twilio", owner="@messaging")],
    )
    for name in ("prod/stripe/api-key", "dev/stripe/api-key"):
        seed(project, name, CANARY, **metadata)
    seed(project, "prod/twilio/api-key", CANARY, **{META_LAST_ROTATED: stamp(1)})
    (project / "owners.yaml").write_text(owners_yaml)
    return project


def test_a_credential_rotated_by_someone_who_left_is_due(tmp_path: Path) -> None:
    project = departed_project(
        tmp_path,
        f"departed:\n  alice@example.com: {day(10)}\n",
        **{META_LAST_ROTATED: stamp(30), META_ROTATED_BY: "Alice@Example.com"},
    )
    code, report = audit(project, Store("local"))
    assert code == 1
    [prod] = findings_of(report, STRIPE, "rotated-by-departed")
    assert prod["severity"] == "error"  # production
    assert prod["message"] == (
        f"{STRIPE}: last rotated by alice@example.com, who left on {day(10)} (owners.yaml "
        f"departed:) ('credctl rotate {STRIPE}')"
    )
    [dev] = findings_of(report, "dev/stripe/api-key", "rotated-by-departed")
    assert dev["severity"] == "warning"
    assert not findings_of(report, "prod/twilio/api-key", "rotated-by-departed")
    stripe = next(c for c in report["credentials"] if c["id"] == STRIPE)
    assert (stripe["status"], stripe["due_on"]) == ("overdue", day(10))
    due = credctl(project, "rotate", "--due", "--dry-run")
    reasons = {line.split()[0]: line for line in due.stdout.splitlines()[2:]}
    assert set(reasons) == {STRIPE, "dev/stripe/api-key"}
    assert all("would rotate (rotated by departed)" in line for line in reasons.values())
    assert credctl(project, "rotate", "--due", "--actor", "bob").exit_code == 0
    code, report = audit(project, Store("local"))
    assert code == 0
    assert not findings_of(report, STRIPE, "rotated-by-departed")


def test_a_credential_owned_by_someone_who_left_is_due_until_rotated_after(
    tmp_path: Path,
) -> None:
    owners = f"departed:\n  '@payments': {day(10)}\n"
    before = departed_project(
        tmp_path / "before", owners, **{META_LAST_ROTATED: stamp(30), META_ROTATED_BY: "bob"}
    )
    _, report = audit(before, Store("local"))
    [owned] = findings_of(report, STRIPE, "rotated-by-departed")
    assert owned["message"] == (
        f"{STRIPE}: its owner @payments left on {day(10)} (owners.yaml departed:) and it was "
        f"not rotated since ('credctl rotate {STRIPE}')"
    )
    after = departed_project(
        tmp_path / "after", owners, **{META_LAST_ROTATED: stamp(5), META_ROTATED_BY: "bob"}
    )
    _, report = audit(after, Store("local"))
    assert not findings_of(report, STRIPE, "rotated-by-departed")


def test_a_departure_still_to_come_waits(tmp_path: Path) -> None:
    project = departed_project(
        tmp_path,
        f"departed:\n  alice: {day(-10)}\n",
        **{META_LAST_ROTATED: stamp(30), META_ROTATED_BY: "alice"},
    )
    code, report = audit(project, Store("local"))
    assert code == 0
    assert not findings_of(report, STRIPE, "rotated-by-departed")
    # as of the day after they leave, it is due
    later = credctl(project, "audit", "--format", "json", "--as-of", day(-11))
    assert findings_of(json.loads(later.stdout), STRIPE, "rotated-by-departed")


def test_reminders_carry_team_changes(tmp_path: Path) -> None:
    project = departed_project(
        tmp_path,
        f"departed:\n  alice: {day(10)}\n",
        **{
            META_LAST_ROTATED: stamp(30),
            META_ROTATED_BY: "alice",
            META_OWNER_AT_ROTATION: "@identity",
        },
    )
    result = credctl(project, "remind", "--env", "prod", "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    [digest] = json.loads(result.stdout)["digests"]
    items = {item["code"]: item for item in digest["items"]}
    assert set(items) == {"owner-changed", "rotated-by-departed"}
    assert items["owner-changed"]["fix"] == f"credctl rotate {STRIPE}"
    assert items["rotated-by-departed"]["due_on"] == day(10)
    assert CANARY not in result.output


def test_a_bad_departure_date_names_the_file(tmp_path: Path) -> None:
    project = departed_project(tmp_path, "departed:\n  alice: last week\n")
    for command in ("audit", "validate"):
        result = credctl(project, command)
        assert result.exit_code == 2
        assert result.stderr.startswith("Error: owners.yaml:2: departed.alice: "), result.stderr


@pytest.mark.parametrize(
    ("name", "production"),
    [
        ("prod", True),
        ("Production", True),
        ("prod-eu", True),
        ("staging", False),
        ("product", False),
    ],
)
def test_production_is_known_by_its_name(name: str, production: bool) -> None:
    assert is_production(name) is production
