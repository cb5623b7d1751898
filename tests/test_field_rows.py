"""Rows on fields of one secret, on the local store: created together, each with its own
metadata and last rotation, rotated one after another, moved off the keys older credctl
kept on the secret; and the policy check for values no provider learns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from credctl.backends.pool import Backends
from credctl.model import row_key
from credctl.project import load_project
from credctl.secret import Secret
from credctl.settings import load_settings
from credctl.staging import host_label
from tests.support.dates import day, moved, stamp, today
from tests.support.projects import HEADER, make_project
from tests.support.runner import REPO, credctl

POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  Client ID: {secret: true, rotator: generate, self_contained: true, generator: {kind: token}}
  Client Secret: {secret: true, rotator: generate, self_contained: true, generator: {kind: token}}
"""
ENVIRONMENT = "backend: {type: local, prefix: prod/}\n"
ROWS = (
    "| Google | prod | Client ID | local://prod/google/oauth#client_id | 90d | | @identity |\n"
    "| Google | prod | Client Secret | local://prod/google/oauth#client_secret | 90d | | @security |\n"
)


def project_of(folder: Path, rows: str = ROWS, policy: str = POLICY) -> Path:
    return make_project(
        folder,
        table_text=HEADER + rows,
        environments={"prod": ENVIRONMENT},
        policies={"default.yaml": policy},
    )


def store_entry(project: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(project)
    loaded = load_project(load_settings(project))
    return Backends(loaded).get(loaded.environment("prod")), loaded


def cells(project: Path) -> dict[str, str]:
    """Each row's Last Rotated, by credential type."""
    found = {}
    for text in (project / "credentials.md").read_text().splitlines()[2:]:
        parts = [cell.strip() for cell in text.strip("|").split("|")]
        found[parts[2]] = parts[5]
    return found


def test_two_rows_on_a_new_secret_are_created_together_and_settle(tmp_path: Path) -> None:
    project = project_of(tmp_path)
    planned = credctl(project, "plan", "--format", "json")
    assert [c["fields"] for c in json.loads(planned.stdout)["changes"]] == [
        ["metadata", "value"],
        ["metadata", "value"],
    ]
    synced = credctl(project, "sync")
    assert synced.exit_code == 0, synced.output
    assert credctl(project, "plan", "--detailed-exitcode").exit_code == 0
    first = credctl(project, "get", "prod/google/client-id").stdout
    second = credctl(project, "get", "prod/google/client-secret").stdout
    assert first
    assert second
    assert first != second
    assert cells(project) == {"Client ID": today(), "Client Secret": today()}
    report = json.loads(credctl(project, "audit", "--format", "json").stdout)
    assert {c["id"]: c["owner"] for c in report["credentials"]} == {
        "prod/google/client-id": "@identity",
        "prod/google/client-secret": "@security",
    }
    assert report["findings"] == []
    # both due: rotated one after another (one pending slot per secret), each recorded
    later = moved(100)
    rotated = credctl(project, "rotate", "--due", "--format", "json", env=later)
    assert rotated.exit_code == 0, rotated.output
    assert [r["outcome"] for r in json.loads(rotated.stdout)["results"]] == ["rotated", "rotated"]
    assert credctl(project, "get", "prod/google/client-id").stdout != first
    assert credctl(project, "get", "prod/google/client-secret").stdout != second
    assert credctl(project, "plan", "--detailed-exitcode", env=later).exit_code == 0


def test_rotating_one_field_records_that_field_alone(tmp_path: Path) -> None:
    project = project_of(tmp_path)
    assert credctl(project, "sync").exit_code == 0
    later = moved(30)
    rotated = credctl(project, "rotate", "prod/google/client-secret", env=later)
    assert rotated.exit_code == 0, rotated.output
    assert cells(project) == {"Client ID": today(), "Client Secret": day(-30)}
    report = json.loads(credctl(project, "audit", "--format", "json", env=later).stdout)
    rotated_on = {c["id"]: c["last_rotated"][:10] for c in report["credentials"]}
    assert rotated_on == {"prod/google/client-id": today(), "prod/google/client-secret": day(-30)}
    assert credctl(project, "plan", "--detailed-exitcode", env=later).exit_code == 0


def test_keys_older_credctl_kept_on_the_secret_move_to_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = "| Google | prod | Client Secret | local://prod/google/oauth#client_secret | 90d | | @security |\n"
    project = project_of(tmp_path, rows)
    backend, _ = store_entry(project, "prod/google/oauth", monkeypatch)
    rotated = stamp(10)
    # what credctl wrote for a #field row before it kept fields apart
    backend.create(
        "prod/google/oauth",
        {
            "credctl:managed": "true",
            "credctl:owner": "@security",
            "credctl:service": "Google",
            "credctl:type": "Client Secret",
            "credctl:schedule": "90d",
            "credctl:last-rotated": rotated,
            "credctl:rotated-by": "alice",
        },
        Secret('{"client_id": "id", "client_secret": "s"}'),
    )
    # read as the row's own until then
    before = json.loads(credctl(project, "audit", "--format", "json").stdout)
    assert before["credentials"][0]["last_rotated"][:10] == day(10)
    assert before["credentials"][0]["rotated_by"] == "alice"
    planned = credctl(project, "plan", "--format", "json")
    [update] = [c for c in json.loads(planned.stdout)["changes"] if c["action"] == "update"]
    assert update["fields"] == [
        "service",
        "type",
        "schedule",
        "owner",
        "last-rotated",
        "rotated-by",
    ]
    assert credctl(project, "sync").exit_code == 0
    metadata = backend.secret_info("prod/google/oauth").metadata
    assert metadata[row_key("credctl:last-rotated", "client_secret")] == rotated
    assert metadata[row_key("credctl:rotated-by", "client_secret")] == "alice"
    assert "credctl:owner" not in metadata
    assert "credctl:last-rotated" not in metadata
    assert credctl(project, "plan", "--detailed-exitcode").exit_code == 0
    after = json.loads(credctl(project, "audit", "--format", "json").stdout)
    assert after["credentials"][0]["last_rotated"][:10] == day(10)


def test_a_value_staged_for_one_field_belongs_to_that_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = project_of(tmp_path)
    assert credctl(project, "sync").exit_code == 0
    backend, _ = store_entry(project, "prod/google/oauth", monkeypatch)
    # a rotation of the secret's field that stopped after staging its value (a dead process)
    token = f"r-{'0' * 16}-999999999-{host_label()}"
    backend.put_pending("prod/google/oauth", Secret("staged-value"), token, "client_secret")
    other = credctl(project, "rotate", "prod/google/client-id", "--abort")
    assert other.exit_code == 0, other.output
    assert (
        "no pending value of this row to discard (the one staged on this secret is for its "
        "#client_secret field: abort through that row)" in other.stdout
    )
    blocked = credctl(project, "rotate", "prod/google/client-id")
    assert blocked.exit_code == 1, blocked.output
    assert "a rotation is already in progress" in blocked.stdout
    resumed = credctl(project, "rotate", "prod/google/client-secret")
    assert resumed.exit_code == 0, resumed.output
    assert "resumed" in resumed.stdout
    assert credctl(project, "get", "prod/google/client-secret").stdout == "staged-value"
    assert credctl(project, "rotate", "prod/google/client-id").exit_code == 0


def test_recreate_refuses_another_field_s_staged_value_before_bringing_the_secret_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`set --recreate` on a deleted secret whose other field has a staged value: refused
    with the secret still deleted (not restored, then refused), and the hints lead out."""
    project = project_of(tmp_path)
    assert credctl(project, "sync").exit_code == 0
    backend, _ = store_entry(project, "prod/google/oauth", monkeypatch)
    token = f"r-{'0' * 16}-999999999-{host_label()}"
    backend.put_pending("prod/google/oauth", Secret("staged-value"), token, "client_secret")
    backend.schedule_delete("prod/google/oauth")
    refused = credctl(project, "set", "prod/google/client-id", "--recreate", input="new-id")
    assert refused.exit_code == 1, refused.output
    assert "a value staged for the #client_secret field of the same secret" in refused.stderr
    assert backend.secret_info("prod/google/oauth").deleted
    # its hint: finish that row's rotation, which first wants the secret back
    finish = credctl(project, "rotate", "prod/google/client-secret")
    assert finish.exit_code != 0
    assert "credctl sync --restore" in finish.output, finish.output
    assert credctl(project, "sync", "--restore").exit_code == 0
    resumed = credctl(project, "rotate", "prod/google/client-secret")
    assert resumed.exit_code == 0, resumed.output
    assert credctl(project, "set", "prod/google/client-id", input="new-id").exit_code == 0
    assert credctl(project, "get", "prod/google/client-id").stdout == "new-id"
    assert credctl(project, "get", "prod/google/client-secret").stdout == "staged-value"


def test_a_field_missing_from_its_secret_is_named_with_the_command_that_gives_it_a_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another tool made the secret with only one of the rows' fields: `get` of the other
    (a value a person gives) says which field is missing and how to give it a value;
    following that works, and the field that was there is untouched."""
    policy = POLICY + "  Manual Secret: {secret: true, rotator: manual}\n"
    project = project_of(tmp_path, ROWS.replace("| Client Secret |", "| Manual Secret |"), policy)
    monkeypatch.chdir(project)
    loaded = load_project(load_settings(project))
    backend = Backends(loaded).get(loaded.environment("prod"))
    backend.create("prod/google/oauth", {}, Secret(json.dumps({"client_id": "kept"})))
    assert credctl(project, "sync").exit_code == 0
    missing = credctl(project, "get", "prod/google/manual-secret")
    assert missing.exit_code == 3, missing.output
    assert missing.stderr == (
        "Error: prod/google/oauth has no field 'client_secret' (hint: give the field a value: "
        "printf '%s' \"$VALUE\" | credctl set prod/google/manual-secret)\n"
    )
    given = credctl(project, "set", "prod/google/manual-secret", input="given")
    assert given.exit_code == 0, given.output
    assert credctl(project, "get", "prod/google/manual-secret").stdout == "given"
    assert credctl(project, "get", "prod/google/client-id").stdout == "kept"


# ------------------------------------------------------- values no provider learns

GENERATED = """\
credential_types:
  API Key:
    secret: true
    rotator: generate
    generator: {kind: token}
  Session Secret: {secret: true, rotator: generate, self_contained: true, generator: {kind: token}}
  Database Password:
    secret: true
    rotator: command
    generator: {kind: password}
    command: [./set-password]
  Client Secret: {secret: true, rotator: manual}
"""


def test_validate_warns_about_a_generated_value_no_provider_learns(tmp_path: Path) -> None:
    rows = "| Stripe | prod | API Key | | 90d | | @payments |\n"
    project = project_of(tmp_path, rows, GENERATED)
    result = credctl(project, "validate")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "warning: policies/default.yaml:2: credential type 'API Key' rotates with 'generate', "
        "which makes a value that no provider learns: a provider-issued key (Stripe, Twilio, "
        "SendGrid…) would stop working. Use 'manual' or a 'command' rotator that asks the "
        "provider, or, where credctl's value is the truth (a secret only your own services "
        "share), add 'self_contained: true'",
        "OK: 1 credentials, 1 environments (prod), 4 credential types in credentials.md",
    ]
    document = json.loads(credctl(project, "validate", "--format", "json").stdout)
    assert document["valid"] is True
    assert len(document["warnings"]) == 1


def test_the_example_repository_and_init_rotate_provider_keys_by_hand(tmp_path: Path) -> None:
    example = tmp_path / "example"
    example.mkdir()
    for part in ("credentials.md", "environments", "policies"):
        source = REPO / part
        if source.is_dir():
            (example / part).mkdir()
            for file in source.iterdir():
                (example / part / file.name).write_text(file.read_text())
        else:
            (example / part).write_text(source.read_text())
    checked = credctl(example, "validate")
    assert checked.exit_code == 0, checked.output
    assert "no provider learns" not in checked.stderr
    started = tmp_path / "new"
    started.mkdir()
    assert credctl(started, "init", "--project-dir", str(started)).exit_code == 0
    fresh = credctl(started, "validate")
    assert fresh.stderr.startswith("OK: "), fresh.output
    policy = (started / "policies" / "default.yaml").read_text()
    assert "  API Key:\n    secret: true\n    max_age: 90d\n    rotator: manual\n" in policy


def test_a_local_value_made_current_without_credctls_record_is_a_change_outside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = "| Google | prod | Client Secret | | 90d | | @security |\n"
    project = project_of(tmp_path, rows)
    assert credctl(project, "sync").exit_code == 0
    backend, _ = store_entry(project, "prod/google/client-secret", monkeypatch)
    name = "prod/google/client-secret"
    backend.set_metadata(name, {"credctl:last-rotated": stamp(200)})
    # another program on the store's library: a new value, never recorded as credctl's
    backend.put_pending(name, Secret("written-by-a-script"), "another-tool-token")
    backend.promote(name, "another-tool-token")
    report = json.loads(credctl(project, "audit", "--format", "json").stdout)
    [credential] = report["credentials"]
    assert credential["status"] == "ok"
    assert credential["last_rotated"][:10] == today()
    assert [f["code"] for f in credential["findings"]] == ["changed-outside"]
    assert credctl(project, "sync").exit_code == 0
    assert credctl(project, "plan", "--detailed-exitcode").exit_code == 0
    after = json.loads(credctl(project, "audit", "--format", "json").stdout)
    assert after["findings"] == []
