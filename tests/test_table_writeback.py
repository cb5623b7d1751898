"""Write-back onto the table as it is now: edits saved while credctl ran are never lost.

`set`, `rotate`, `sync` and `import` read the table when they start and write it
when the store change is committed; in between a person may save the file, or
another credctl process may write its own cells. These tests edit the file in
that window (in-process between load and write, or from a rotator's command)
and run credctl processes side by side.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from credctl import clock
from credctl.backends.pool import Backends
from credctl.importing import apply_import, plan_import
from credctl.project import Project, load_project
from credctl.secret import Secret
from credctl.settings import load_settings
from credctl.sync import apply_plan, make_plan
from credctl.table import read_table
from credctl.values import set_value
from tests.support.dates import moved
from tests.support.fixtures import Store
from tests.support.projects import POLICY, make_project, row
from tests.support.runner import credctl, process_environment

TEN_DAYS_AGO = moved(-10)
CANARY = "canary-writeback-Zq7Xw2Lp9Rt4"
# A rotator whose apply step edits the table while the rotation runs, as a person
# saving the file at that moment would: $EDIT_FROM -> $EDIT_TO in credentials.md.
EDITOR = (
    "import os, pathlib, sys; sys.stdin.read(); p = pathlib.Path('credentials.md'); "
    "p.write_text(p.read_text().replace(os.environ['EDIT_FROM'], os.environ['EDIT_TO']))"
)
EDITING_POLICY = POLICY.replace(
    "environments:\n",
    "  Edited Key:\n"
    "    secret: true\n"
    "    rotator: command\n"
    "    generator: {kind: password, length: 20}\n"
    f"    command: {json.dumps([sys.executable, '-c', EDITOR])}\n"
    "environments:\n",
)


def today() -> str:
    return clock.now().strftime("%Y-%m-%d")


def days_ago(count: int) -> str:
    return (clock.now() - timedelta(days=count)).strftime("%Y-%m-%d")


def yaml_item(
    service: str, credential_type: str = "API Key", owner: str = "", last_rotated: str = "never"
) -> str:
    return (
        f"- service: {service}\n"
        "  environment: dev\n"
        f"  credential_type: {credential_type}\n"
        "  rotation_schedule: 90d\n"
        f"  last_rotated: {last_rotated}\n"
        f"  owner: '{owner or '@' + service.lower()}'\n"
    )


def md_row(
    service: str, credential_type: str = "API Key", owner: str = "", last_rotated: str = "never"
) -> str:
    return row(
        service=service,
        environment="dev",
        credential_type=credential_type,
        last_rotated=last_rotated,
        owner=owner or "@" + service.lower(),
    )


def row_text(kind: str, service: str, **cells: str) -> str:
    """One row of the table as a person types it, in the table's format."""
    return md_row(service, **cells) if kind == "markdown" else yaml_item(service, **cells)


def project_with(tmp_path: Path, kind: str, services: list[str]) -> tuple[Path, Path]:
    """A dev project on the local store with one API Key row per service; (folder, table)."""
    folder = make_project(tmp_path, [md_row(service) for service in services])
    if kind == "markdown":
        return folder, folder / "credentials.md"
    (folder / "credentials.md").unlink()
    table = folder / "credentials.yaml"
    table.write_text("".join(yaml_item(service) for service in services))
    return folder, table


def hand_edit(table: Path, before: str, after: str) -> None:
    """Save the file with `before` (found once) replaced, as a person's editor would."""
    text = table.read_text()
    assert text.count(before) == 1, before
    table.write_text(text.replace(before, after))


def open_project(folder: Path) -> Project:
    return load_project(load_settings(folder))


def set_now(project: Project, credential_id: str) -> None:
    backends = Backends(project)
    try:
        set_value(project, project.find(credential_id), backends, Secret(CANARY), "tester")
    finally:
        backends.close()


def cells(table: Path, credential_id: str) -> dict[str, str]:
    """The row's cells as the file holds them now."""
    found = [r for r in read_table(table, table.name).rows if r.id == credential_id]
    assert len(found) == 1, found
    found_row = found[0]
    return {
        "reference": found_row.reference,
        "last_rotated": found_row.last_rotated,
        "owner": found_row.owner,
        "line": str(found_row.line),
    }


KINDS = ["markdown", "yaml"]


@pytest.mark.parametrize("kind", KINDS)
def test_an_edit_saved_while_set_runs_is_kept(tmp_path: Path, kind: str) -> None:
    folder, table = project_with(tmp_path, kind, ["Stripe", "Twilio"])
    project = open_project(folder)
    # a person saves the file after credctl read it: another row's owned and other cells
    hand_edit(
        table,
        row_text(kind, "Twilio"),
        row_text(kind, "Twilio", owner="@messaging", last_rotated=days_ago(3)),
    )
    set_now(project, "dev/stripe/api-key")
    twilio = cells(table, "dev/twilio/api-key")
    assert (twilio["owner"], twilio["last_rotated"]) == ("@messaging", days_ago(3))
    stripe = cells(table, "dev/stripe/api-key")
    assert (stripe["reference"], stripe["last_rotated"]) == ("local://dev/stripe/api-key", today())
    assert CANARY not in table.read_text()


@pytest.mark.parametrize("kind", KINDS)
def test_a_row_inserted_above_while_set_runs_moves_the_write_with_it(
    tmp_path: Path, kind: str
) -> None:
    folder, table = project_with(tmp_path, kind, ["Stripe", "Twilio"])
    project = open_project(folder)
    first_row = row_text(kind, "Stripe")
    inserted = row_text(kind, "Segment") + row_text(kind, "Google")
    hand_edit(table, first_row, inserted + first_row)
    set_now(project, "dev/twilio/api-key")
    after = table.read_text()
    assert inserted + first_row in after
    twilio = cells(table, "dev/twilio/api-key")
    assert (twilio["reference"], twilio["last_rotated"]) == ("local://dev/twilio/api-key", today())
    for untouched in ("dev/stripe/api-key", "dev/segment/api-key", "dev/google/api-key"):
        assert cells(table, untouched)["last_rotated"] == "never"
        assert cells(table, untouched)["reference"] == ""


@pytest.mark.parametrize("kind", KINDS)
def test_a_conflicting_edit_of_the_same_cell_is_reported_not_overwritten(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    folder, table = project_with(tmp_path, kind, ["Stripe", "Twilio"])
    project = open_project(folder)
    hand_edit(table, row_text(kind, "Stripe"), row_text(kind, "Stripe", last_rotated="2001-01-01"))
    with caplog.at_level(logging.WARNING, logger="credctl"):
        set_now(project, "dev/stripe/api-key")
    stripe = cells(table, "dev/stripe/api-key")
    assert stripe["last_rotated"] == "2001-01-01"  # the person's edit stays
    assert stripe["reference"] == "local://dev/stripe/api-key"  # the cell nobody edited is written
    assert [record.getMessage() for record in caplog.records] == [
        f"{table.name}:{stripe['line']}: dev/stripe/api-key: Last Rotated was edited since "
        f"credctl read the file; kept the edit, did not write '{today()}' (the store has "
        "credctl's change: run 'credctl sync' to bring the table and the store back in line)"
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_an_edit_to_what_credctl_writes_is_no_conflict(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    folder, table = project_with(tmp_path, kind, ["Stripe"])
    project = open_project(folder)
    hand_edit(table, row_text(kind, "Stripe"), row_text(kind, "Stripe", last_rotated=today()))
    with caplog.at_level(logging.WARNING, logger="credctl"):
        set_now(project, "dev/stripe/api-key")
    stripe = cells(table, "dev/stripe/api-key")
    assert (stripe["reference"], stripe["last_rotated"]) == ("local://dev/stripe/api-key", today())
    assert caplog.records == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_row_removed_while_set_runs_stays_removed(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    folder, table = project_with(tmp_path, kind, ["Stripe", "Twilio"])
    project = open_project(folder)
    hand_edit(table, row_text(kind, "Stripe"), "")
    without = table.read_text()
    with caplog.at_level(logging.WARNING, logger="credctl"):
        set_now(project, "dev/stripe/api-key")
    assert table.read_text() == without
    line = 5 if kind == "markdown" else 1
    assert [record.getMessage() for record in caplog.records] == [
        f"{table.name}:{line}: dev/stripe/api-key: the row was removed from the file since "
        "credctl read it; not written (the store has the change; if the row should stay, "
        "'credctl import' adds it back)"
    ]
    imported = credctl(folder, "import")
    assert imported.exit_code == 0, imported.output
    assert cells(table, "dev/stripe/api-key")["last_rotated"] == today()


def test_a_table_broken_while_set_runs_is_not_overwritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder, table = project_with(tmp_path, "markdown", ["Stripe"])
    project = open_project(folder)
    broken = table.read_text().replace("|---|---|---|---|---|---|---|\n", "")
    table.write_text(broken)
    with caplog.at_level(logging.WARNING, logger="credctl"):
        set_now(project, "dev/stripe/api-key")
    assert table.read_text() == broken
    (message,) = [record.getMessage() for record in caplog.records]
    assert message.startswith("credentials.md: no credentials table found")
    assert message.endswith(
        "the file changed since credctl read it and no longer reads as a table, so credctl's "
        "1 change(s) to it were not written (the store has them): fix the table, then run "
        "'credctl sync'"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_sync_writes_back_onto_an_edit_saved_meanwhile(tmp_path: Path, kind: str) -> None:
    folder, table = project_with(tmp_path, kind, ["Stripe", "Twilio"])
    project = open_project(folder)
    backends = Backends(project)
    try:
        planned = make_plan(project, project.select([]), backends)
        hand_edit(table, "@twilio", "@messaging")
        result = apply_plan(project, planned, backends, "tester")
    finally:
        backends.close()
    assert result.table_written
    for service in ("stripe", "twilio"):
        synced = cells(table, f"dev/{service}/api-key")
        assert synced["reference"] == f"local://dev/{service}/api-key"
        assert synced["last_rotated"] == today()
    assert cells(table, "dev/twilio/api-key")["owner"] == "@messaging"


@pytest.mark.parametrize("kind", KINDS)
def test_import_appends_onto_the_table_as_it_is_now(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    folder, table = project_with(tmp_path, kind, ["Stripe"])
    for service in ("legacy", "billing"):
        Store("local").put_unmanaged(str(folder), f"dev/{service}/api-key", CANARY)
    project = open_project(folder)
    backends = Backends(project)
    try:
        found = plan_import(project, project.select(["dev"]), backends).rows
    finally:
        backends.close()
    assert [item.id for item in found] == ["dev/billing/api-key", "dev/legacy/api-key"]
    # meanwhile a person edits a row and adds one of the rows import is about to add
    stripe = row_text(kind, "Stripe")
    hand_edit(table, stripe, stripe.replace("@stripe", "@payments") + row_text(kind, "Legacy"))
    with caplog.at_level(logging.WARNING, logger="credctl"):
        added = apply_import(project, found, "tester")
    assert cells(table, "dev/stripe/api-key")["owner"] == "@payments"
    assert cells(table, "dev/legacy/api-key")["owner"] == "@legacy"
    assert cells(table, "dev/billing/api-key")["reference"] == "local://dev/billing/api-key"
    assert [item.id for item in added] == ["dev/billing/api-key"]
    assert [record.getMessage() for record in caplog.records] == [
        f"{table.name}: dev/legacy/api-key: a row for it was added to the file since credctl "
        "read it; not added again"
    ]
    log = (folder / ".credctl" / "audit.jsonl").read_text()
    assert '"action": "import"' in log
    assert "legacy" not in log


def editing_project(tmp_path: Path, services: list[str]) -> Path:
    rows = [md_row(service, "Edited Key") for service in services]
    folder = make_project(tmp_path, rows, policies={"default.yaml": EDITING_POLICY})
    synced = credctl(folder, "sync", env=TEN_DAYS_AGO)
    assert synced.exit_code == 0, synced.output
    for service in services:
        first = credctl(
            folder, "set", f"dev/{service.lower()}/edited-key", input="first", env=TEN_DAYS_AGO
        )
        assert first.exit_code == 0, first.output
    return folder


def test_rotate_keeps_an_edit_saved_while_its_command_ran(tmp_path: Path) -> None:
    folder = editing_project(tmp_path, ["Stripe", "Twilio"])
    table = folder / "credentials.md"
    twilio_line = next(line for line in table.read_text().splitlines(True) if "Twilio" in line)
    inserted = md_row("Segment", "Edited Key")
    edit = {"EDIT_FROM": twilio_line, "EDIT_TO": inserted + twilio_line.replace("@twilio", "@sms")}
    rotated = credctl(folder, "rotate", "dev/twilio/edited-key", env=edit)
    assert rotated.exit_code == 0, rotated.output
    assert rotated.stderr == ""
    assert inserted in table.read_text()
    twilio = cells(table, "dev/twilio/edited-key")
    assert (twilio["owner"], twilio["last_rotated"]) == ("@sms", today())
    assert cells(table, "dev/stripe/edited-key")["last_rotated"] == days_ago(10)


def test_rotate_reports_a_conflicting_edit_and_sync_repairs_it(tmp_path: Path) -> None:
    folder = editing_project(tmp_path, ["Stripe"])
    table = folder / "credentials.md"
    cell = f"| {days_ago(10)} |"
    assert table.read_text().count(cell) == 1
    edit = {"EDIT_FROM": cell, "EDIT_TO": "| 2001-01-01 |"}
    rotated = credctl(folder, "rotate", "dev/stripe/edited-key", env=edit)
    assert rotated.exit_code == 0, rotated.output
    assert rotated.stderr == (
        "warning: credentials.md:5: dev/stripe/edited-key: Last Rotated was edited since "
        f"credctl read the file; kept the edit, did not write '{today()}' (the store has "
        "credctl's change: run 'credctl sync' to bring the table and the store back in line)\n"
    )
    assert cells(table, "dev/stripe/edited-key")["last_rotated"] == "2001-01-01"
    synced = credctl(folder, "sync")
    assert synced.exit_code == 0, synced.output
    assert cells(table, "dev/stripe/edited-key")["last_rotated"] == today()


@pytest.mark.slow
def test_concurrent_set_and_rotate_lose_no_cell(tmp_path: Path) -> None:
    """Ten `set A` and ten `rotate B` processes at once, all on one table."""
    pairs = 10
    services = [f"Svc{index:02d}" for index in range(2 * pairs)]
    folder = make_project(tmp_path, [md_row(service) for service in services])
    synced = credctl(folder, "sync", env=TEN_DAYS_AGO)
    assert synced.exit_code == 0, synced.output
    table = folder / "credentials.md"
    assert table.read_text().count(f"| {days_ago(10)} |") == 2 * pairs
    environment = process_environment()
    processes = []
    for index, service in enumerate(services):
        credential_id = f"dev/{service.lower()}/api-key"
        command = ["set", credential_id] if index < pairs else ["rotate", credential_id]
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "credctl", *command],
                cwd=folder,
                env=environment,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [
        process.communicate(f"{CANARY}-{index}", timeout=120)
        for index, process in enumerate(processes)
    ]
    assert [process.returncode for process in processes] == [0] * len(processes), outputs
    assert all(stderr.count("warning") == 0 for _, stderr in outputs), outputs
    for service in services:
        assert cells(table, f"dev/{service.lower()}/api-key")["last_rotated"] == today()
