"""Fixes for moto's Secrets Manager where it differs from AWS, applied in tests only.

moto 5 moves the `AWSCURRENT` label in `UpdateSecretVersionStage` but keeps
answering `GetSecretValue`/`BatchGetSecretValue` with the old version; AWS
answers with the version that holds `AWSCURRENT`. Staged rotation relies on
AWS's behaviour, so the tests run moto with it corrected.
"""

from __future__ import annotations

from typing import Any

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True
    from moto.secretsmanager.models import SecretsManagerBackend

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
