"""credctl beside Terraform on one AWS account (docs/terraform.md): a real `terraform` with the
AWS provider applies a configuration against moto_server, credctl imports, syncs and
rotates its secrets, and Terraform then plans no change and an apply keeps the rotation.

Skipped with a message where the `terraform` binary or the provider is not on the machine
(`TERRAFORM_PLUGIN_MIRROR`, default /opt/tf-plugins, is a filesystem mirror of
registry.terraform.io/hashicorp/aws: no network is used).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.support.fixtures import Store
from tests.support.projects import make_project
from tests.support.runner import credctl
from tests.support.servers import MotoServer

MIRROR = Path(os.environ.get("TERRAFORM_PLUGIN_MIRROR", "/opt/tf-plugins"))
POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  API Key: {secret: true, rotator: generate, generator: {kind: token, bytes: 32}}
  Database Password: {secret: true, max_age: 30d, rotator: generate, generator: {kind: password, length: 24}}
"""
PROVIDER = """\
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

variable "endpoint" { type = string }
variable "prefix" { type = string }

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {
    secretsmanager = var.endpoint
  }
%(ignore_tags)s}
"""
# What docs/terraform.md says to add: credctl's tags and credctl's versions are credctl's.
IGNORE_TAGS = """\
  ignore_tags {
    key_prefixes = ["credctl:"]
  }
"""
LIFECYCLE = """\
  lifecycle {
    ignore_changes = [secret_string, version_stages]
  }
"""
SECRETS = """\
resource "aws_secretsmanager_secret" "stripe" {
  name                    = "${var.prefix}stripe/api-key"
  recovery_window_in_days = 7
  tags                    = { Owner = "@payments" }
}

resource "aws_secretsmanager_secret_version" "stripe" {
  secret_id     = aws_secretsmanager_secret.stripe.id
  secret_string = "sk_test_from_terraform"
%(lifecycle)s}

resource "aws_secretsmanager_secret" "postgres" {
  name                    = "${var.prefix}postgres/main"
  recovery_window_in_days = 7
  tags                    = { team = "@platform" }
}

resource "aws_secretsmanager_secret_version" "postgres" {
  secret_id     = aws_secretsmanager_secret.postgres.id
  secret_string = jsonencode({ username = "app", password = "from-terraform", host = "db" })
%(lifecycle)s}
"""


def configuration(*, coexisting: bool) -> str:
    text = PROVIDER % {"ignore_tags": IGNORE_TAGS if coexisting else ""}
    return text + SECRETS % {"lifecycle": LIFECYCLE if coexisting else ""}


@pytest.fixture
def terraform() -> str:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform is not installed: the Terraform coexistence test is skipped")
    if not (MIRROR / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        pytest.skip(f"no AWS provider mirror at {MIRROR} (set TERRAFORM_PLUGIN_MIRROR)")
    return binary


class Terraform:
    """One working folder of Terraform against moto_server, offline."""

    def __init__(self, binary: str, folder: Path, server: MotoServer, prefix: str) -> None:
        self.binary = binary
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        rc = folder / "cli.tfrc"
        rc.write_text(
            f'provider_installation {{\n  filesystem_mirror {{\n    path = "{MIRROR}"\n  }}\n}}\n'
        )
        self.env = {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(rc),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
            "TF_VAR_endpoint": server.url,
            "TF_VAR_prefix": prefix,
        }

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, *args, "-no-color"],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def write(self, text: str) -> None:
        (self.folder / "main.tf").write_text(text)

    def plan(self) -> subprocess.CompletedProcess[str]:
        return self("plan", "-detailed-exitcode", "-input=false", "-lock=false")


@pytest.mark.integration
def test_terraform_and_credctl_on_the_same_secrets(
    tmp_path: Path, terraform: str, moto_server: MotoServer
) -> None:
    store = Store("aws", moto_server)
    prefix = f"tf-{uuid.uuid4().hex[:8]}/"
    tf = Terraform(terraform, tmp_path / "infra", moto_server, prefix)
    tf.write(configuration(coexisting=True))
    initialised = tf("init", "-input=false")
    assert initialised.returncode == 0, initialised.stdout + initialised.stderr
    applied = tf("apply", "-auto-approve", "-input=false")
    assert applied.returncode == 0, applied.stdout + applied.stderr

    # credctl adopts Terraform's secrets: owners from their tags, the JSON one by its field
    project = make_project(
        tmp_path / "project",
        [],
        environments={"prod": store.environment_yaml(prefix)},
        policies={"default.yaml": POLICY},
    )
    imported = credctl(project, "import", env=store.env)
    assert imported.exit_code == 0, imported.output
    assert imported.stdout.splitlines() == [
        f"+ prod/postgres-main/database-password  aws-sm://{prefix}postgres/main#password  "
        "(owner @platform; other fields: host, username)",
        f"+ prod/stripe/api-key  aws-sm://{prefix}stripe/api-key  (owner @payments)",
    ]
    assert credctl(project, "validate", env=store.env).exit_code == 0
    synced = credctl(project, "sync", env=store.env)
    assert synced.exit_code == 0, synced.output
    plan = tf.plan()
    assert plan.returncode == 0, plan.stdout + plan.stderr  # credctl's tags are not drift

    # twice for one: the version Terraform wrote then holds no label at all
    for credential_id in ("prod/stripe/api-key",) * 2 + ("prod/postgres-main/database-password",):
        rotated = credctl(project, "rotate", credential_id, env=store.env)
        assert rotated.exit_code == 0, rotated.output
    values = {
        credential_id: credctl(project, "get", credential_id, env=store.env).stdout
        for credential_id in ("prod/stripe/api-key", "prod/postgres-main/database-password")
    }
    assert "sk_test_from_terraform" not in values.values()
    plan = tf.plan()
    assert plan.returncode == 0, plan.stdout + plan.stderr  # nor is AWSCURRENT moving on
    # the same state under a configuration without those settings: Terraform would undo
    bare = Terraform(terraform, tmp_path / "bare", moto_server, prefix)
    bare.write(configuration(coexisting=False))
    shutil.copy(tf.folder / "terraform.tfstate", bare.folder / "terraform.tfstate")
    assert bare("init", "-input=false").returncode == 0
    undo = bare.plan()
    assert undo.returncode == 2, undo.stdout + undo.stderr
    assert '"credctl:managed"' in undo.stdout

    applied = tf("apply", "-auto-approve", "-input=false")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    for credential_id, value in values.items():
        got = credctl(project, "get", credential_id, env=store.env)
        assert (got.exit_code, got.stdout) == (0, value)  # the rotation stays current
    whole = moto_server.client().get_secret_value(SecretId=f"{prefix}postgres/main")
    assert json.loads(whole["SecretString"])["username"] == "app"
    audit = credctl(project, "audit", "--fail-on", "error", env=store.env)
    assert audit.exit_code == 0, audit.output
    assert credctl(project, "plan", "--detailed-exitcode", env=store.env).exit_code == 0
