"""aws-lambda: AWS rotates the secret with its own rotation function; credctl starts it,
waits for it and records the rotation (no value of credctl's is staged)."""

from __future__ import annotations

from typing import Any

from credctl.backends.base import NativeRotation
from credctl.errors import ConfigError, Problem
from credctl.rotation.rotators import Job


def rotate_natively(job: Job, backend: Any, name: str, timeout: float) -> str:
    """Run the store's own rotation; the new current version."""
    if not isinstance(backend, NativeRotation) or not job.policy.lambda_arn:
        raise ConfigError(
            Problem(
                "policies",
                None,
                f"{job.credential.id}: the aws-lambda rotator needs an aws environment and "
                "'lambda_arn' in the credential type's policy",
            )
        )
    return backend.rotate_with_function(name, job.policy.lambda_arn, timeout)
