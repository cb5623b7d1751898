"""credctl doctor: each environment's store, reachable and permitted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.projects import prod_and_ownerless_dev
from tests.support.runner import credctl

CANARY = "canary-Hx4Tb9Qe2Mv7Yc1Nw6Pd"

pytestmark = pytest.mark.project(build=prod_and_ownerless_dev)


def test_doctor_reports_each_environment(project: Path) -> None:
    result = credctl(project, "doctor", "--format", "json")
    assert result.exit_code == 0, result.output
    checks = json.loads(result.stdout)["checks"]
    assert [(c["environment"], c["state"]) for c in checks] == [("dev", "ok"), ("prod", "ok")]
    assert all(isinstance(c["latency_ms"], float) for c in checks)
