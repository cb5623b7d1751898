"""Environment files and process environments for projects on real servers."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support.servers import MotoServer, OpenBao, Server

if TYPE_CHECKING:
    from credctl.backends.vault import VaultBackend

GUARD_PATH = os.path.join(os.path.dirname(__file__), "guard")

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def aws_environment_yaml(url: str, prefix: str, **options: object) -> str:
    """An `environments/<name>.yaml` for an AWS environment at a moto endpoint."""
    extra = "".join(f"\n{key}: {value}" for key, value in options.items())
    return (
        f"backend: {{type: aws, region: us-east-1, endpoint_url: '{url}', prefix: '{prefix}'}}"
        f"{extra}\n"
    )


def vault_environment_yaml(addr: str, prefix: str, **options: object) -> str:
    """An environment file for a Vault environment (token auth from VAULT_TOKEN)."""
    extra = "".join(f"\n{key}: {value}" for key, value in options.items())
    return (
        f"backend: {{type: vault, url: '{addr}', mount: secret, path_prefix: '{prefix}'}}{extra}\n"
    )


def project_env(server: Server | None = None) -> dict[str, str]:
    """Variables for a credctl subprocess that uses `server`."""
    env = dict(FAKE_AWS)
    if isinstance(server, OpenBao):
        env.update(server.env)
    elif isinstance(server, MotoServer):
        env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = server.url
    return env


class Store:
    """One kind of secret store for end-to-end tests: its environment file and a side door."""

    def __init__(self, kind: str, server: Server | None = None) -> None:
        self.kind = kind
        self.server = server

    def environment_yaml(self, prefix: str, **options: object) -> str:
        extra = "".join(f"\n{key}: {value}" for key, value in options.items())
        if isinstance(self.server, MotoServer):
            return aws_environment_yaml(self.server.url, prefix, **options)
        if isinstance(self.server, OpenBao):
            return vault_environment_yaml(self.server.url, prefix, **options)
        return f"backend: {{type: local, prefix: '{prefix}'}}{extra}\n"

    @property
    def env(self) -> dict[str, str]:
        return project_env(self.server)

    def scheme_prefix(self) -> str:
        return {"aws": "aws-sm://", "vault": "vault://secret/", "local": "local://"}[self.kind]

    def put_unmanaged(self, project_dir: str, name: str, value: str) -> None:
        """A secret written by another tool, out of band."""
        if isinstance(self.server, MotoServer):
            self.server.client().create_secret(Name=name, SecretString=value)
        elif isinstance(self.server, OpenBao):
            self.server.bao("kv", "put", "-mount=secret", name, f"value={value}")
        else:
            from pathlib import Path

            from credctl.backends.base import BackendContext
            from credctl.backends.pool import open_backend
            from credctl.model import EnvironmentConfig
            from credctl.secret import Secret

            environment = EnvironmentConfig.model_validate(
                {"name": "oob", "backend": {"type": "local", "prefix": name.split("/")[0] + "/"}}
            )
            backend = open_backend(environment, BackendContext(project_dir=Path(project_dir)))
            backend.create(name, {"team:tool": "terraform"}, Secret(value))

    def metadata_of(self, project: Path, name: str) -> dict[str, str]:
        """A secret's metadata as the store's own tools read it (tags, custom_metadata)."""
        if isinstance(self.server, MotoServer):
            tags = self.server.client().describe_secret(SecretId=name).get("Tags", [])
            return {tag["Key"]: tag["Value"] for tag in tags}
        if isinstance(self.server, OpenBao):
            meta = self.server.client().secrets.kv.v2.read_secret_metadata(
                path=name, mount_point="secret"
            )
            return dict(meta["data"]["custom_metadata"] or {})
        document = json.loads((project / ".credctl" / "store" / "store.json").read_text())
        return dict(document["secrets"][name]["metadata"])


def unique_prefix() -> str:
    """A store prefix no other test uses: the servers are shared by the whole session."""
    return f"i-{uuid.uuid4().hex[:8]}/"


def make_vault(server: OpenBao, prefix: str, **backend: Any) -> VaultBackend:
    """A Vault backend on `server` under `prefix` (token from VAULT_TOKEN), quick to give up."""
    from credctl.backends.base import BackendContext
    from credctl.backends.pool import open_backend
    from credctl.backends.vault import VaultBackend
    from credctl.model import EnvironmentConfig

    environment = EnvironmentConfig.model_validate(
        {
            "name": "prod",
            "backend": {"type": "vault", "url": server.url, "path_prefix": prefix, **backend},
            "retry": {"max_attempts": 2, "base_delay": "1ms", "max_delay": "2ms"},
        }
    )
    backend_object = open_backend(environment, BackendContext(project_dir=Path(".")))
    assert isinstance(backend_object, VaultBackend)
    return backend_object
