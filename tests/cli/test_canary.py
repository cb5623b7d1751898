"""No command prints a value: one canary through validate, audit, status, get and env."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.dates import stamp
from tests.support.projects import stripe_google_and_twilio
from tests.support.runner import credctl
from tests.support.seeding import CANARY, seed

pytestmark = pytest.mark.project(build=stripe_google_and_twilio)


def test_canary_never_appears_in_reports_or_errors(project: Path) -> None:
    seed(project, "prod/stripe/api-key", CANARY, **{"credctl:last-rotated": stamp(333)})
    seed(project, "prod/google/client-secret", CANARY + "-2")
    seed(project, "prod/orphan/key", CANARY + "-3")
    runs = [
        ("validate",),
        ("validate", "--format", "json"),
        *[("audit", "--env", "prod", "--format", f) for f in ("table", "json", "markdown")],
        *[("status", "--env", "prod", "--format", f) for f in ("table", "json", "markdown")],
        ("get", "prod/stripe/nope"),
        ("env", "--env", "prod", "--check", "-o", "missing-file"),
    ]
    for args in runs:
        result = credctl(project, *args)
        assert CANARY not in result.output, args
    store = (project / ".credctl" / "store" / "store.json").read_text()
    assert CANARY not in store
