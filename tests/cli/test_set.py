"""credctl set: a value from standard input, stored and recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.dates import today
from tests.support.projects import stripe_google_and_twilio
from tests.support.runner import credctl
from tests.support.seeding import CANARY

pytestmark = pytest.mark.project(build=stripe_google_and_twilio)


def test_set_then_get_is_byte_identical(project: Path) -> None:
    value = f"{CANARY} with spaces\nand a newline and ünïcode 🔑\n"
    # one trailing line break is dropped from stdin: a value ending in one is given two
    stored = credctl(project, "set", "prod/stripe/api-key", input=value + "\n")
    assert stored.exit_code == 0, stored.output
    assert stored.stderr == "stored a new value for prod/stripe/api-key (version 1)\n"
    got = credctl(project, "get", "prod/stripe/api-key")
    assert got.exit_code == 0
    assert got.stdout == value
    # the table learnt the reference and the rotation date, nothing else changed
    table = (project / "credentials.md").read_text()
    assert f"| local://prod/stripe/api-key | 90d | {today()} | @payments |" in table
    log = (project / ".credctl" / "audit.jsonl").read_text()
    assert json.loads(log)["action"] == "set"
    assert CANARY not in log


def test_set_accepts_the_human_id_form(project: Path) -> None:
    assert credctl(project, "set", "prod/Google/Client Secret", input="s3cret").exit_code == 0
    assert credctl(project, "get", "prod/google/client-secret").stdout == "s3cret"


def test_set_refuses_empty_input_and_unknown_ids(project: Path) -> None:
    empty = credctl(project, "set", "prod/stripe/api-key", input="")
    assert (empty.exit_code, empty.stderr) == (
        2,
        "Error: the value given for prod/stripe/api-key is empty; nothing was stored\n",
    )
    unknown = credctl(project, "set", "prod/stripe/nope", input="x")
    assert unknown.exit_code == 2
    assert unknown.stderr == "Error: no credential 'prod/stripe/nope' in credentials.md\n"
