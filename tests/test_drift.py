"""Drift between the table and the store, on the local store, moto_server and OpenBao:
audit's drift findings, plan's update and write-back, and a sync that settles them."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from tests.support.contract import CANARY
from tests.support.dates import day
from tests.support.fixtures import Store
from tests.support.projects import POLICY, make_project, row
from tests.support.runner import credctl

# Looks like a live key: the literal check must flag it, and no report may repeat it.
LITERAL = "sk_live_" + CANARY.replace("-", "")


def edit_row(table: Path, service: str, column: int, value: str) -> None:
    """Set one cell (0 = Service) of the row of `service`, the way a person would."""
    lines = table.read_text().splitlines(keepends=True)
    for index, line in enumerate(lines):
        cells = line.split("|")
        if len(cells) > 7 and cells[1].strip() == service:
            cells[column + 1] = f" {value} "
            lines[index] = "|".join(cells)
    table.write_text("".join(lines))


def line_of(table: Path, service: str) -> int:
    for number, line in enumerate(table.read_text().splitlines(), start=1):
        if line.startswith(f"| {service} "):
            return number
    raise AssertionError(service)


@pytest.mark.integration
def test_drift_is_found_planned_and_settled(tmp_path: Path, store: Store) -> None:
    prefix = f"d-{uuid.uuid4().hex[:8]}/"
    project = make_project(
        tmp_path,
        [row(service="Stripe"), row(service="Twilio"), row(service="Old")],
        environments={"prod": store.environment_yaml(prefix)},
        policies={"default.yaml": POLICY},
    )
    assert credctl(project, "sync", env=store.env).exit_code == 0
    table = project / "credentials.md"
    ref = f"{store.scheme_prefix()}{prefix}"

    edit_row(table, "Stripe", 6, "@finance")  # the store still says @payments
    edit_row(table, "Twilio", 5, day(333))  # the store says it was rotated today
    table.write_text(
        "".join(line for line in table.read_text().splitlines(True) if "| Old |" not in line)
    )
    store.put_unmanaged(str(project), f"{prefix}legacy/api-key", CANARY)

    plan = credctl(project, "plan", "--format", "json", env=store.env)
    assert plan.exit_code == 0, plan.output
    changes = {(c["action"], c["id"]) for c in json.loads(plan.stdout)["changes"]}
    assert changes == {
        ("update", "prod/stripe/api-key"),
        ("write-back", "prod/twilio/api-key"),
        ("orphan", f"{ref}old/api-key"),
        ("unmanaged", f"{ref}legacy/api-key"),
    }

    with table.open("a") as handle:  # a config row holding what looks like a live key
        handle.write(
            row(service="Google", credential_type="Client ID", reference=LITERAL, schedule="never")
        )
    audit = credctl(project, "audit", "--format", "json", "--fail-on", "never", env=store.env)
    assert audit.exit_code == 0, audit.output
    document = json.loads(audit.stdout)
    by_id = {c["id"]: c for c in document["credentials"]}
    located = {
        (f["code"], f["id"], f["line"])
        for f in document["findings"]
        if f["file"] == "credentials.md"
    }
    assert ("metadata-drift", "prod/stripe/api-key", line_of(table, "Stripe")) in located
    assert ("table-drift", "prod/twilio/api-key", line_of(table, "Twilio")) in located
    assert (
        "literal-secret-in-table",
        "prod/google/client-id",
        line_of(table, "Google"),
    ) in located
    unlocated = {f["code"]: f["message"] for f in document["findings"] if f["id"] is None}
    assert f"{ref}old/api-key" in unlocated["orphan"]
    assert f"{ref}legacy/api-key" in unlocated["unmanaged"]
    assert by_id["prod/stripe/api-key"]["owner"] == "@finance"
    for fmt in ("table", "json", "markdown", "junit", "sarif", "github", "html"):
        for command in ("audit", "status"):
            out = credctl(project, command, "--format", fmt, "--fail-on", "never", env=store.env)
            assert LITERAL not in out.output, (command, fmt)
            assert CANARY not in out.output, (command, fmt)

    table.write_text(
        "".join(line for line in table.read_text().splitlines(True) if "| Google |" not in line)
    )
    synced = credctl(project, "sync", env=store.env)
    assert synced.exit_code == 0, synced.output
    settled = credctl(project, "plan", "--format", "json", env=store.env)
    remaining = {(c["action"], c["id"]) for c in json.loads(settled.stdout)["changes"]}
    assert remaining == {("orphan", f"{ref}old/api-key"), ("unmanaged", f"{ref}legacy/api-key")}
    twilio = next(line for line in table.read_text().splitlines() if "| Twilio |" in line)
    assert day(333) not in twilio  # the store's truth was written back
    assert re.search(r"\| \d{4}-\d{2}-\d{2}", twilio)
