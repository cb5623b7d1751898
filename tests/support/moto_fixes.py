"""Fixes for moto's Secrets Manager where it differs from AWS, applied in tests only.

moto 5 moves the `AWSCURRENT` label in `UpdateSecretVersionStage` but keeps
answering `GetSecretValue`/`BatchGetSecretValue` with the old version; AWS
answers with the version that holds `AWSCURRENT`. And a `PutSecretValue` repeated
with the same `ClientRequestToken` and value (a retry after a lost answer) is ignored
by AWS, as documented; moto writes an `AWSPENDING` version again, dropping its other
labels. And `ListSecretVersionIds` answers every version's `CreatedDate` with the time
of the call; AWS answers when the version was made (credctl dates a value another tool
made current by it). And moto never fills `LastAccessedDate` (`ListSecrets`,
`DescribeSecret`); AWS sets it, to the day, when a value is read (`GetSecretValue`,
`BatchGetSecretValue`), and leaves it out until the first read (audit's `unused`). Staged
rotation relies on AWS's behaviour, so the tests run moto corrected.
"""

from __future__ import annotations

import json
import time
from typing import Any

DAY = 86400

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True
    from moto.secretsmanager.models import FakeSecret, SecretsManagerBackend

    original = SecretsManagerBackend.update_secret_version_stage

    def update_secret_version_stage(
        self: Any,
        secret_id: str,
        version_stage: str,
        remove_from_version_id: str,
        move_to_version_id: str,
    ) -> tuple[str, str]:
        answer = original(
            self, secret_id, version_stage, remove_from_version_id, move_to_version_id
        )
        if version_stage == "AWSCURRENT" and move_to_version_id:
            self.secrets[secret_id].set_default_version_id(move_to_version_id)
        return answer

    SecretsManagerBackend.update_secret_version_stage = update_secret_version_stage  # type: ignore[method-assign]

    original_put = SecretsManagerBackend.put_secret_value

    def put_secret_value(
        self: Any,
        secret_id: str,
        secret_string: str,
        secret_binary: str,
        client_request_token: str,
        version_stages: list[str],
    ) -> Any:
        if client_request_token and self._is_valid_identifier(secret_id):
            secret = self.secrets[secret_id]
            existing = getattr(secret, "versions", {}).get(client_request_token)
            if (
                existing is not None
                and existing.get("secret_string") == secret_string
                and existing.get("secret_binary") == secret_binary
            ):
                return secret.to_short_dict(
                    include_version_stages=True, version_id=client_request_token
                )
        return original_put(
            self, secret_id, secret_string, secret_binary, client_request_token, version_stages
        )

    SecretsManagerBackend.put_secret_value = put_secret_value  # type: ignore[method-assign]

    original_versions = SecretsManagerBackend.list_secret_version_ids

    def list_secret_version_ids(self: Any, secret_id: str) -> str:
        answer = json.loads(original_versions(self, secret_id))
        versions = self.secrets[secret_id].versions
        for version in answer.get("Versions", []):
            made = versions.get(version["VersionId"], {}).get("createdate")
            if made is not None:
                version["CreatedDate"] = made
        return json.dumps(answer)

    SecretsManagerBackend.list_secret_version_ids = list_secret_version_ids  # type: ignore[method-assign]

    original_get = SecretsManagerBackend.get_secret_value

    def get_secret_value(
        self: Any, secret_id: str, version_id: str, version_stage: str
    ) -> dict[str, Any]:
        answer = original_get(self, secret_id, version_id, version_stage)
        # AWS keeps the day of the last read (BatchGetSecretValue reads through here too)
        self.secrets[secret_id].last_accessed_date = int(time.time()) // DAY * DAY
        return answer

    SecretsManagerBackend.get_secret_value = get_secret_value  # type: ignore[method-assign]

    original_to_dict = FakeSecret.to_dict

    def to_dict(self: Any) -> dict[str, Any]:
        answer = original_to_dict(self)
        answer["LastAccessedDate"] = getattr(self, "last_accessed_date", None)
        return answer

    FakeSecret.to_dict = to_dict  # type: ignore[method-assign]
