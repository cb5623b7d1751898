"""credctl get: one current value, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.projects import stripe_google_and_twilio
from tests.support.runner import credctl

pytestmark = pytest.mark.project(build=stripe_google_and_twilio)


def test_get_of_a_missing_value_is_a_backend_error(project: Path) -> None:
    result = credctl(project, "get", "prod/stripe/api-key")
    assert result.exit_code == 3
    assert result.stderr == (
        "Error: prod/stripe/api-key does not exist in local store .credctl/store\n"
    )


def test_get_of_config_prints_the_literal(project: Path) -> None:
    assert (
        credctl(project, "get", "prod/google/redirect-uri").stdout == "https://app.example.com/cb"
    )
