"""The backend registry: one entry per store type, everything else derived from it.

A store registered at test time (tests/support/memory_backend.py) passes the
contract suite and serves validate, sync, set, get and audit with no other change.
"""

from __future__ import annotations

import json
import typing
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from credctl.backends.base import Backend, BackendContext
from credctl.backends.pool import open_backend
from credctl.backends.registry import BACKENDS, by_scheme, reference_forms
from credctl.model import EnvironmentConfig, parse_reference
from tests.support import memory_backend
from tests.support.contract import CANARY, BackendContract
from tests.support.memory_backend import MEMORY
from tests.support.projects import make_project, row
from tests.support.runner import credctl, fresh_python

MEMORY_ENV = "backend: {type: memory, store: team}\nenv_file: {path: .env.prod}\n"


@pytest.fixture
def memory(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The memory store registered for this test only, and empty."""
    monkeypatch.setitem(BACKENDS, MEMORY.type, MEMORY)
    memory_backend.STORES.clear()
    yield
    memory_backend.STORES.clear()


class TestMemoryContract(BackendContract):
    @pytest.fixture
    def backend(self, memory: None, tmp_path: Path) -> Backend:
        environment = EnvironmentConfig.model_validate(
            {"name": "dev", "backend": {"type": "memory", "prefix": f"t-{uuid.uuid4().hex[:8]}/"}}
        )
        return open_backend(environment, BackendContext(project_dir=tmp_path))


def test_a_registered_store_serves_every_command(tmp_path: Path, memory: None) -> None:
    project = make_project(tmp_path, [row()], environments={"prod": MEMORY_ENV})
    assert credctl(project, "validate").exit_code == 0
    synced = credctl(project, "sync")
    assert synced.exit_code == 0, synced.output
    assert "| mem://prod/stripe/api-key |" in (project / "credentials.md").read_text()
    stored = credctl(project, "set", "prod/stripe/api-key", input=CANARY)
    assert stored.exit_code == 0, stored.output
    got = credctl(project, "get", "prod/stripe/api-key")
    assert (got.exit_code, got.stdout) == (0, CANARY)
    audited = credctl(project, "audit", "--format", "json")
    assert audited.exit_code == 0, audited.output
    [credential] = json.loads(audited.stdout)["credentials"]
    assert (credential["reference"], credential["status"]) == ("mem://prod/stripe/api-key", "ok")
    assert CANARY not in synced.output + stored.output + audited.output
    assert memory_backend.STORES["team"]["prod/stripe/api-key"].metadata["credctl:owner"] == (
        "@payments"
    )


def test_its_options_and_references_are_checked_like_the_others(
    tmp_path: Path, memory: None
) -> None:
    project = make_project(
        tmp_path,
        [row(reference="aws-sm://prod/stripe/api-key")],
        environments={"prod": "backend: {type: memory, colour: blue}\n", "dev": MEMORY_ENV},
    )
    result = credctl(project, "validate")
    assert result.exit_code == 2
    assert result.stderr == ("Error: environments/prod.yaml:1: backend.colour: unknown key\n"), (
        result.stderr
    )
    (project / "environments" / "prod.yaml").write_text(MEMORY_ENV)
    result = credctl(project, "validate")
    assert result.stderr == (
        "Error: credentials.md:5: reference aws-sm://prod/stripe/api-key is a aws-sm:// "
        "reference but environment prod uses the memory backend\n"
    ), result.stderr


def test_without_its_entry_the_type_and_scheme_are_unknown(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Input tag 'memory' found using 'type' does not match"):
        EnvironmentConfig.model_validate({"name": "dev", "backend": {"type": "memory"}})
    assert parse_reference("mem://prod/x") is None


def test_references_and_messages_come_from_the_registry(memory: None) -> None:
    assert reference_forms() == ("local://PATH, aws-sm://NAME, vault://MOUNT/PATH or mem://NAME")
    assert parse_reference("mem://prod/x#field") is not None
    for entry in BACKENDS.values():
        assert by_scheme(entry.scheme) is entry
        parsed = parse_reference(f"{entry.scheme}://prod/x")
        assert parsed is not None
        assert parsed.scheme == entry.scheme
    with pytest.raises(ValueError, match="expected tags: 'local', 'aws', 'vault', 'memory'"):
        EnvironmentConfig.model_validate({"name": "dev", "backend": {"type": "gcp"}})


def test_each_entry_is_whole() -> None:
    schemes = [entry.scheme for entry in BACKENDS.values()]
    assert len(set(schemes)) == len(schemes)
    for name, entry in BACKENDS.items():
        assert entry.type == name
        # the model accepts exactly its own type
        assert typing.get_args(entry.config.model_fields["type"].annotation) == (name,)
        module, _, factory = entry.factory.partition(":")
        assert module.startswith("credctl.backends.")
        assert factory
        assert entry.reference_form.startswith(f"{entry.scheme}://")


def test_validating_a_project_imports_no_vendor_sdk(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        [row()],
        environments={
            "prod": "backend: {type: aws, region: eu-west-1, prefix: prod/}\n",
            "staging": "backend: {type: vault, url: 'https://vault.example.com'}\n",
        },
    )
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from credctl.project import load_project\n"
        "from credctl.settings import load_settings\n"
        f"project = load_project(load_settings(project_dir=Path({str(project)!r})))\n"
        "assert project.problems() == [], project.problems()\n"
        "print([m for m in ('boto3', 'botocore', 'hvac', 'requests') if m in sys.modules])\n"
    )
    result = fresh_python(code)
    assert result.stdout == "[]\n", result.stderr
