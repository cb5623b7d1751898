"""credctl remind: one digest per owner, to the channel owners.yaml names, never a value."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dates import stamp
from tests.support.projects import make_project, row
from tests.support.runner import credctl
from tests.support.seeding import seed
from tests.support.webhooks import Receiver, webhook_receiver

CANARY = "canary-Rm9Dg4Wq2Lz7Xc5Tb"
OWNERS = """\
owners:
  "@payments": {{webhook: {{url_env: PAYMENTS_HOOK}}}}
  "@messaging": {{slack: {{url: "{url}/slack/messaging"}}}}
  "@growth": {{teams: {{url: "{url}/teams/growth"}}}}
repeat_after: 7d
retry: {{max_attempts: 3, base_delay: 10ms, max_delay: 20ms}}
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as started:
        yield started


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> Path:
    monkeypatch.delenv("CREDCTL_LOCAL_KEY", raising=False)
    folder = make_project(
        tmp_path,
        [
            row(),  # @payments, overdue
            row(service="Adyen"),  # @payments, due soon
            row(service="Twilio", owner="@messaging"),  # overdue
            row(service="SendGrid", owner="@messaging"),  # fresh: nothing to do
            row(service="Segment", owner="@growth"),  # overdue
        ],
    )
    seed(folder, "prod/stripe/api-key", CANARY, **{"credctl:last-rotated": stamp(200)})
    seed(folder, "prod/adyen/api-key", CANARY + "1", **{"credctl:last-rotated": stamp(80)})
    seed(folder, "prod/twilio/api-key", CANARY + "2", **{"credctl:last-rotated": stamp(120)})
    seed(folder, "prod/sendgrid/api-key", CANARY + "3", **{"credctl:last-rotated": stamp(1)})
    seed(folder, "prod/segment/api-key", CANARY + "4", **{"credctl:last-rotated": stamp(300)})
    (folder / "owners.yaml").write_text(OWNERS.format(url=receiver.url))
    return folder


def hook_env(receiver: Receiver) -> dict[str, str]:
    return {"PAYMENTS_HOOK": f"{receiver.url}/hook/payments"}


def ids_in(text: str) -> set[str]:
    """The credential ids in the first column of a Markdown digest."""
    return {line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| prod/")}


def test_one_post_per_owner_with_exactly_their_credentials(
    project: Path, receiver: Receiver
) -> None:
    result = credctl(project, "remind", "--env", "prod", env=hook_env(receiver))
    assert result.exit_code == 0, result.output
    [payments] = receiver.bodies("/hook/payments")
    assert payments["owner"] == "@payments"
    assert {item["id"] for item in payments["items"]} == {
        "prod/stripe/api-key",
        "prod/adyen/api-key",
    }
    overdue = next(item for item in payments["items"] if item["id"] == "prod/stripe/api-key")
    assert (overdue["code"], overdue["fix"]) == ("overdue", "credctl rotate prod/stripe/api-key")
    [slack] = receiver.bodies("/slack/messaging")
    assert ids_in(slack["text"]) == {"prod/twilio/api-key"}
    [teams] = receiver.bodies("/teams/growth")
    assert teams["@type"] == "MessageCard"
    assert ids_in(teams["text"]) == {"prod/segment/api-key"}
    everything = json.dumps(receiver.received) + result.output
    assert CANARY not in everything
    assert receiver.url not in result.output  # a webhook address is a secret too


def test_a_server_that_fails_twice_gets_the_digest_once(project: Path, receiver: Receiver) -> None:
    receiver.failures["/hook/payments"] = 2
    result = credctl(project, "remind", "--env", "prod", env=hook_env(receiver))
    assert result.exit_code == 0, result.output
    assert receiver.attempts["/hook/payments"] == 3
    assert len(receiver.bodies("/hook/payments")) == 1


def test_a_server_that_always_fails_is_exit_3_and_the_others_still_get_theirs(
    project: Path, receiver: Receiver
) -> None:
    receiver.failures["/hook/payments"] = -1
    result = credctl(project, "remind", "--env", "prod", env=hook_env(receiver))
    assert result.exit_code == 3
    assert "@payments: not delivered (the webhook answered 500 after 3 attempts)" in result.stderr
    assert "Error: 1 of 3 digests were not delivered: @payments" in result.stderr
    assert len(receiver.bodies("/slack/messaging")) == 1
    assert len(receiver.bodies("/teams/growth")) == 1


def test_only_new_sends_nothing_the_second_time(project: Path, receiver: Receiver) -> None:
    first = credctl(project, "remind", "--env", "prod", "--only-new", env=hook_env(receiver))
    assert first.exit_code == 0, first.output
    second = credctl(project, "remind", "--env", "prod", "--only-new", env=hook_env(receiver))
    assert second.exit_code == 0, second.output
    assert second.stderr == "Nothing to remind anyone of.\n"
    assert sum(len(bodies) for bodies in receiver.received.values()) == 3


def test_dry_run_prints_the_digests_and_sends_nothing(project: Path, receiver: Receiver) -> None:
    result = credctl(project, "remind", "--env", "prod", "--dry-run", env=hook_env(receiver))
    assert result.exit_code == 0, result.output
    assert "## Credentials of @payments: 2 to act on" in result.stdout
    assert receiver.attempts == {}
    assert CANARY not in result.output


def test_a_missing_webhook_variable_names_it(project: Path, receiver: Receiver) -> None:
    result = credctl(project, "remind", "--env", "prod")
    assert result.exit_code == 3
    assert "@payments: not delivered (owners.yaml: owner @payments: PAYMENTS_HOOK is not set" in (
        result.stderr
    )
