"""Vault listing both ways on a real OpenBao: one SCAN of detailed-metadata, or LIST per
folder and one metadata read per secret (HashiCorp Vault, older OpenBao, a policy without
`scan`); counted at a proxy, and the same answers either way."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from credctl.backends.vault import PENDING_SUFFIX, VaultBackend
from credctl.secret import Secret
from tests.support.contract import MANAGED
from tests.support.dates import stamp
from tests.support.fixtures import make_vault, project_env, unique_prefix, vault_environment_yaml
from tests.support.projects import make_project, row
from tests.support.proxy import Proxy
from tests.support.runner import credctl
from tests.support.servers import OpenBao

pytestmark = pytest.mark.integration

COUNT = 1000
TYPES = [f"Key {letter}" for letter in "ABCDEFGHIJKLMNOPQRSTUVWXY"]  # 25 secrets a folder
FOLDERS = COUNT // len(TYPES)
POLICY = "defaults: {max_age: 90d, warn_before: 14d, require_owner: true}\ncredential_types:\n" + (
    "".join(f"  {kind}: {{secret: true, rotator: manual}}\n" for kind in TYPES)
)
AUDIT = ("audit", "--env", "prod", "--format", "json", "--fail-on", "never")


def is_scan(head: bytes) -> bool:
    return head.startswith(b"SCAN ")


@dataclass
class Thousand:
    """A project of 1,000 rows whose secrets are in OpenBao, 25 to a folder, seen through
    a counting proxy."""

    project: Path
    proxy: Proxy
    prefix: str
    server: OpenBao  # the OpenBao dev server, its address the proxy's

    def audit(self, *args: str, listing: str | None = None) -> tuple[int, dict[str, Any], str]:
        """Audit through the proxy: requests made, the JSON document, standard error."""
        env = project_env(self.server)
        if listing is not None:
            env["CREDCTL_VAULT_LISTING"] = listing
        before = self.proxy.requests
        result = credctl(self.project, *AUDIT, *args, env=env)
        assert result.exit_code == 0, result.output
        return self.proxy.requests - before, json.loads(result.stdout), result.stderr


def seed(server: OpenBao, names: list[str]) -> None:
    """Managed secrets, rotated 10 days ago, written in parallel (one client a thread)."""
    local = threading.local()

    def create(name: str) -> None:
        client = getattr(local, "client", None) or server.client()
        local.client = client
        kv = client.secrets.kv.v2
        custom = {**MANAGED, "credctl:last-rotated": stamp(10), "credctl:schedule": "90d"}
        kv.update_metadata(path=name, custom_metadata=custom)
        kv.create_or_update_secret(path=name, secret={"value": "v"})

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(create, names))


@pytest.fixture(scope="module")
def thousand(openbao: OpenBao, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Thousand]:
    prefix = unique_prefix()
    services = [f"Service {index:04d}" for index in range(FOLDERS)]
    names = [
        f"{prefix}{service.lower().replace(' ', '-')}/{kind.lower().replace(' ', '-')}"
        for service in services
        for kind in TYPES
    ]
    seed(openbao, names)
    proxy = Proxy(openbao.url).start()
    rows = [
        row(service=service, credential_type=kind, last_rotated="")
        for service in services
        for kind in TYPES
    ]
    project = make_project(
        tmp_path_factory.mktemp("thousand"),
        rows,
        environments={"prod": vault_environment_yaml(proxy.url, prefix)},
        policies={"default.yaml": POLICY},
    )
    proxied = OpenBao(
        url=proxy.url,
        process=openbao.process,
        log=openbao.log,
        token=openbao.token,
        env={"VAULT_ADDR": proxy.url, "VAULT_TOKEN": openbao.token},
    )
    yield Thousand(project, proxy, prefix, proxied)
    proxy.stop()


def test_audit_of_a_thousand_secrets_is_one_scan_on_openbao(thousand: Thousand) -> None:
    requests, document, stderr = thousand.audit()
    assert requests <= 5
    assert sum(1 for line in thousand.proxy.log if line.startswith("SCAN ")) >= 1
    assert stderr == ""  # which way it listed is for -v
    assert len(document["credentials"]) == COUNT
    [share] = document["evidence"]["population"]
    assert (share["listed"], share["matched"], share["reconciles"]) == (COUNT, COUNT, True)


def test_the_fallback_makes_a_list_per_folder_and_a_read_per_secret(thousand: Thousand) -> None:
    requests, _, stderr = thousand.audit(listing="list")
    # the mount check, the prefix's folder, each service's folder, each secret's metadata
    assert requests == 1 + 1 + FOLDERS + COUNT
    assert stderr == ""


def test_both_ways_give_the_same_audit(thousand: Thousand) -> None:
    _, scanned, _ = thousand.audit(listing="scan")
    _, listed, _ = thousand.audit(listing="list")
    for document in (scanned, listed):
        for key in ("generated_at", "as_of"):
            document.pop(key)
        for key in ("generated_at", "as_of"):
            document["evidence"].pop(key)
    assert scanned == listed


def test_a_server_without_scan_is_listed_the_old_way_without_a_word(thousand: Thousand) -> None:
    # HashiCorp Vault and OpenBao before 2.2 answer an unknown method with 405
    thousand.proxy.answer_when(is_scan, 405)
    try:
        answered = thousand.proxy.answered
        requests, document, stderr = thousand.audit()
        assert thousand.proxy.answered == answered + 1  # asked once, then LIST for the run
        assert requests == 1 + 1 + FOLDERS + COUNT
        assert stderr == ""
        assert len(document["credentials"]) == COUNT
        _, _, verbose = thousand.audit("-v")
        assert "has no SCAN on secret/detailed-metadata/" in verbose
        assert "listing with LIST and one metadata read per secret" in verbose
        # told to SCAN, it says the server cannot
        env = {**project_env(thousand.server), "CREDCTL_VAULT_LISTING": "scan"}
        forced = credctl(thousand.project, *AUDIT, env=env)
        assert forced.exit_code == 3
        assert "does not answer SCAN on secret/detailed-metadata/ (it answered 405" in forced.stderr
        assert forced.stdout == ""
    finally:
        thousand.proxy.clear_faults()
    _, _, verbose = thousand.audit("-v")
    assert "listing with one SCAN of secret/detailed-metadata/" in verbose


def test_an_unknown_listing_variable_is_exit_2(thousand: Thousand) -> None:
    env = {**project_env(thousand.server), "CREDCTL_VAULT_LISTING": "walk"}
    result = credctl(thousand.project, *AUDIT, env=env)
    assert result.exit_code == 2
    assert "CREDCTL_VAULT_LISTING: 'walk' is not one of auto, scan, list" in result.stderr
    assert "Traceback" not in result.output


@pytest.fixture
def both(openbao: OpenBao, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, VaultBackend]]:
    """Two backends on one prefix: one that SCANs, one that LISTs."""
    monkeypatch.setenv("VAULT_TOKEN", openbao.token)
    prefix = unique_prefix()
    opened = {listing: make_vault(openbao, prefix, listing=listing) for listing in ("scan", "list")}
    yield opened
    for backend in opened.values():
        backend.close()


def test_every_state_of_a_secret_reads_the_same_both_ways(
    openbao: OpenBao, both: dict[str, VaultBackend]
) -> None:
    backend = both["list"]
    prefix = backend.environment.prefix

    def bao(*args: str) -> None:
        openbao.bao(*args)

    backend.create(prefix + "stripe/api-key", MANAGED, Secret("v1"))
    bao("kv", "put", "-mount=secret", prefix + "stripe/api-key", "value=v2")  # another tool's
    backend.create(prefix + "empty/api-key", MANAGED, None)  # metadata, no value
    backend.create(prefix + "gone/api-key", MANAGED, Secret("v"))
    bao("kv", "delete", "-mount=secret", prefix + "gone/api-key")
    backend.create(prefix + "burnt/api-key", MANAGED, Secret("v"))
    bao("kv", "destroy", "-mount=secret", "-versions=1", prefix + "burnt/api-key")
    backend.create(prefix + "a/b/c/deep", MANAGED, Secret("v"))
    backend.create(prefix + "staged/api-key", MANAGED, Secret("v"))
    backend.put_pending(prefix + "staged/api-key", Secret("next"), "token-1")
    bao("kv", "put", "-mount=secret", prefix + "theirs", "user=u", "password=p")
    bao("kv", "put", "-mount=secret", unique_prefix() + "elsewhere", "value=x")  # not listed
    scanned = sorted(both["scan"].list_secrets(), key=lambda info: info.name)
    listed = sorted(backend.list_secrets(), key=lambda info: info.name)
    assert scanned == listed
    names = [info.name for info in scanned]
    assert names == sorted(
        prefix + name
        for name in (
            "a/b/c/deep",
            "burnt/api-key",
            "empty/api-key",
            "gone/api-key",
            "staged/api-key",
            "stripe/api-key",
            "theirs",
        )
    )
    assert not any(name.endswith(PENDING_SUFFIX) for name in names)
    states = {info.name.removeprefix(prefix): info for info in scanned}
    assert states["staged/api-key"].pending is not None
    assert states["staged/api-key"].pending.token == "token-1"
    assert states["staged/api-key"].pending.created is not None
    assert states["gone/api-key"].deleted
    assert not states["gone/api-key"].destroyed
    assert states["burnt/api-key"].destroyed
    assert not states["empty/api-key"].has_value
    assert states["stripe/api-key"].current_version == "2"


def test_a_prefix_without_a_folder_is_scanned_from_the_mount(
    openbao: OpenBao, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", openbao.token)
    stem = unique_prefix().rstrip("/")
    openbao.bao("kv", "put", "-mount=secret", f"{stem}-a/x", "value=1")
    openbao.bao("kv", "put", "-mount=secret", f"{stem}-b", "value=1")
    openbao.bao("kv", "put", "-mount=secret", f"{stem}z/other", "value=1")
    found = {}
    for listing in ("scan", "list"):
        backend = make_vault(openbao, f"{stem}-", listing=listing)
        found[listing] = sorted(info.name for info in backend.list_secrets())
        backend.close()
    assert found["scan"] == found["list"] == [f"{stem}-a/x", f"{stem}-b"]


def test_a_policy_without_scan_falls_back_without_a_word(tmp_path: Path, openbao: OpenBao) -> None:
    prefix = unique_prefix()
    openbao.bao("kv", "put", "-mount=secret", f"{prefix}stripe/api-key", "value=v")
    project = make_project(
        tmp_path,
        [row()],
        environments={"prod": vault_environment_yaml(openbao.url, prefix)},
    )
    policy = f'path "secret/metadata/{prefix}*" {{\n  capabilities = ["read", "list"]\n}}\n'
    name = f"no-scan-{prefix.strip('/')}"
    openbao.bao("policy", "write", name, "-", input=policy)
    token = openbao.bao("token", "create", f"-policy={name}", "-field=token").stdout.strip()
    env = {**project_env(openbao), "VAULT_TOKEN": token}
    result = credctl(project, *AUDIT, env=env)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    [share] = json.loads(result.stdout)["evidence"]["population"]
    assert share["listed"] == 1
    verbose = credctl(project, *AUDIT, "-v", env=env)
    assert "has no SCAN" in verbose.stderr
    assert "(answered 403)" in verbose.stderr


def test_the_audit_policy_lets_the_audit_scan(tmp_path: Path, openbao: OpenBao) -> None:
    prefix = unique_prefix()
    openbao.bao("kv", "put", "-mount=secret", f"{prefix}stripe/api-key", "value=v")
    project = make_project(
        tmp_path,
        [row()],
        environments={"prod": vault_environment_yaml(openbao.url, prefix)},
    )
    policy = credctl(project, "policy", "--env", "prod", "--for", "audit", env=openbao.env)
    assert policy.exit_code == 0, policy.output
    assert (
        f'path "secret/detailed-metadata/{prefix}*" {{\n  capabilities = ["scan"]\n}}'
        in policy.stdout
    )
    assert "HashiCorp Vault has no `scan`" in policy.stdout
    name = f"audit-{prefix.strip('/')}"
    openbao.bao("policy", "write", name, "-", input=policy.stdout)
    token = openbao.bao("token", "create", f"-policy={name}", "-field=token").stdout.strip()
    env = {**project_env(openbao), "VAULT_TOKEN": token}
    audited = credctl(project, *AUDIT, "-v", env=env)
    assert audited.exit_code == 0, audited.output
    assert f"prod: listing with one SCAN of secret/detailed-metadata/{prefix} (OpenBao)" in (
        audited.stderr
    )
    doctor = json.loads(credctl(project, "doctor", "--format", "json", env=env).stdout)
    assert doctor["checks"][0]["commands"]["audit"] == "ok"
    # told to list, the policy leaves the block out, and the audit lists the old way
    listed = vault_environment_yaml(openbao.url, prefix).replace("}", ", listing: list}", 1)
    (project / "environments" / "prod.yaml").write_text(listed)
    without = credctl(project, "policy", "--env", "prod", "--for", "audit", env=openbao.env)
    assert "detailed-metadata" not in without.stdout
    again = credctl(project, *AUDIT, "-v", env=env)
    assert again.exit_code == 0, again.output
    assert "prod: listing with LIST and one metadata read per secret (listing: list)" in (
        again.stderr
    )
