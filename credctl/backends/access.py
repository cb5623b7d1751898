"""The least access each command needs in each kind of store, as that store writes it:
AWS IAM policy JSON, Vault/OpenBao policy HCL. Derived from the environment's store
settings and the table (prefix, mount, KMS key, external secrets, rotators).

Commands form a ladder — `audit` reads metadata, `env` (and `get`, `run`) also reads
values, `rotate` (and `set`) also stages, promotes and tags, `sync` also creates and
schedules deletions — and each policy grants its rung and nothing above it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the command line reads LADDER at start-up: nothing heavy at import
    from credctl.model import EnvironmentConfig

LADDER = ("audit", "env", "rotate", "sync")
# commands off the ladder whose access is one of its rungs (`audit --compare-values` as diff)
SAME_ACCESS = {"diff": "env"}


def rungs(command: str) -> set[str]:
    """The commands whose access `command`'s policy includes (itself and those below)."""
    return set(LADDER[: LADDER.index(command) + 1])


def vault_hcl(
    environment: EnvironmentConfig, command: str, external: Sequence[str], rotators: set[str]
) -> str:
    """Vault/OpenBao policy HCL for `command` on this environment's mount and prefix."""
    config: Any = environment.backend  # a VaultBackendConfig
    mount = config.mount_path
    wanted = rungs(command)
    metadata = {"list", "read"}
    data: set[str] = set()
    if "env" in wanted:
        data |= {"read"}
    if "rotate" in wanted:
        # staging writes a sibling path (NAME.credctl-pending) and removes it after promote
        data |= {"create", "update"}
        metadata |= {"create", "update", "delete"}
    if "sync" in wanted:
        data |= {"delete"}  # --prune: soft delete of the current version
    blocks = [
        f'# credctl {command} on environment {environment.name} (mount "{mount}", prefix '
        f'"{environment.prefix}")',
        _hcl_path(f"{mount}/metadata/{environment.prefix}*", metadata),
    ]
    if config.listing != "list":
        blocks.append(
            "# OpenBao 2.2+: the whole prefix's metadata in one SCAN request (without it, one\n"
            "# LIST per folder and one read per secret). HashiCorp Vault has no `scan`\n"
            "# capability and rejects this block: leave it out there, or set `listing: list`.\n"
            + _hcl_path(f"{mount}/detailed-metadata/{environment.prefix}*", {"scan"})
        )
    if data:
        blocks.append(_hcl_path(f"{mount}/data/{environment.prefix}*", data))
    if "sync" in wanted:
        blocks.append(_hcl_path(f"{mount}/undelete/{environment.prefix}*", {"update"}))
    for name in external:
        blocks.append(_hcl_path(f"{mount}/metadata/{name}", metadata - {"delete"}))
        if data:
            blocks.append(_hcl_path(f"{mount}/data/{name}", data - {"delete"}))
    return "\n\n".join(blocks) + "\n"


def _hcl_path(path: str, capabilities: set[str]) -> str:
    order = ["create", "read", "update", "delete", "list", "scan"]
    listed = ", ".join(f'"{c}"' for c in order if c in capabilities)
    return f'path "{path}" {{\n  capabilities = [{listed}]\n}}'


def aws_iam(
    environment: EnvironmentConfig, command: str, external: Sequence[str], rotators: set[str]
) -> str:
    """An AWS IAM policy (JSON) for `command` on this environment's prefix."""
    config: Any = environment.backend  # an AwsBackendConfig
    region = config.region or "*"
    arns = [f"arn:aws:secretsmanager:{region}:*:secret:{environment.prefix}*"]
    arns += [f"arn:aws:secretsmanager:{region}:*:secret:{name}-??????" for name in external]
    wanted = rungs(command)
    # ListSecrets and BatchGetSecretValue take no resource: AWS requires "*" for them
    statements: list[dict[str, Any]] = [_statement("ListSecrets", ["ListSecrets"], ["*"])]
    per_secret = ["DescribeSecret", "ListSecretVersionIds"]
    if "env" in wanted:
        statements.append(_statement("BatchRead", ["BatchGetSecretValue"], ["*"]))
        per_secret += ["GetSecretValue"]
    if "rotate" in wanted:
        per_secret += [
            "CreateSecret",
            "PutSecretValue",
            "UpdateSecretVersionStage",
            "TagResource",
            "UntagResource",
        ]
        if "aws-lambda" in rotators:
            per_secret += ["RotateSecret"]
    if "sync" in wanted:
        per_secret += ["RestoreSecret"]
    statements.append(_statement("Secrets", per_secret, arns))
    if "sync" in wanted:
        deletion = _statement("ScheduledDeletionOnly", ["DeleteSecret"], arns)
        deletion["Condition"] = {"Bool": {"secretsmanager:ForceDeleteWithoutRecovery": "false"}}
        statements.append(deletion)
    if config.kms_key_id and "env" in wanted:
        key = config.kms_key_id
        key_arn = key if key.startswith("arn:") else f"arn:aws:kms:{region}:*:key/{key}"
        actions = ["kms:Decrypt"] + (["kms:GenerateDataKey"] if "rotate" in wanted else [])
        statements.append(
            {"Sid": "CustomerKey", "Effect": "Allow", "Action": actions, "Resource": [key_arn]}
        )
    document = {"Version": "2012-10-17", "Statement": statements}
    return json.dumps(document, indent=2) + "\n"


def _statement(sid: str, actions: Sequence[str], resources: Sequence[str]) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": [f"secretsmanager:{action}" for action in actions],
        "Resource": list(resources),
    }
