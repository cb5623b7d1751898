"""credctl's own error types; each carries its exit code (docs/exit-codes.md).

Messages never contain a secret value: they name files, lines, keys, paths and
credential ids only.
"""

from __future__ import annotations

from dataclasses import dataclass


class CredctlError(Exception):
    """Base of every error credctl reports as one line and an exit code."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(CredctlError):
    """Bad flags or arguments on the command line."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One problem in a user's file, located by file and line (or key)."""

    file: str
    line: int | None
    message: str
    code: str = "invalid"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class ConfigError(CredctlError):
    """A bad table, environment or policy file; carries every problem found."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | Problem, *, hint: str | None = None) -> None:
        self.problems = problems if isinstance(problems, list) else [problems]
        super().__init__("\n".join(str(p) for p in self.problems), hint=hint)


class StaleError(CredctlError):
    """A generated file is out of date (`env --check`)."""

    exit_code = 1


class RotationInProgressError(CredctlError):
    """Another rotation of the same credential holds the pending slot."""

    exit_code = 1


class RotationFailedError(CredctlError):
    """A rotation failed and was rolled back; nothing was lost."""

    exit_code = 4


class StepTimedOutError(RotationFailedError):
    """An apply or verify command ran past its timeout: it may or may not have acted."""


class RotationInterruptedError(CredctlError):
    """A rotation stopped half-way with its new value kept as pending, to resume."""

    exit_code = 3


class EnvFileError(CredctlError):
    """A value cannot be written in the chosen env-file format (names the key only)."""

    exit_code = 2


class DamagedStateError(CredctlError):
    """A file of credctl's own state under `.credctl/` cannot be read as credctl wrote it."""

    exit_code = 3


class BackendError(CredctlError):
    """The secret store failed: unreachable, unauthenticated, denied, throttled."""

    exit_code = 3


class NotRecordedError(BackendError):
    """A change is committed in the store but could not be recorded everywhere afterwards."""


class UnreachableError(BackendError):
    """The store could not be reached at all."""


class AuthError(BackendError):
    """Missing or expired credentials for the store."""


class AccessDeniedError(BackendError):
    """The store refused the operation for this identity."""


class ThrottledError(BackendError):
    """The store kept throttling past the retry budget."""


class NotFoundError(BackendError):
    """The secret (or version) does not exist in the store."""


class FieldMissingError(NotFoundError):
    """The secret holds a JSON object, and the field a row names is not in it."""


class SecretDeletedError(NotFoundError):
    """The secret exists but is deleted or scheduled for deletion: nothing reads it, and
    nothing writes over it until it is restored or recreated on purpose."""


class ConflictError(BackendError):
    """A check-and-set write lost to a concurrent writer."""


class WrongKeyError(BackendError):
    """The local store's key does not decrypt its contents."""


class ShapeError(BackendError):
    """A row does not fit its secret's value as the store holds it (a JSON object or several
    fields read or written without #field, binary data, a field that is an object): refused
    before anything is written, so it is the row to fix, not the store."""

    exit_code = 2


class BinaryValueError(ShapeError):
    """A value is binary data that is not text (AWS SecretBinary): credctl hands over text
    only, so `get` refuses it and `env`/`run` leave its variable out, by name."""


class MetadataLimitError(BackendError):
    """The store's metadata cannot hold what the rows on one secret need (AWS: 50 tags of
    128/256 characters; Vault: 64 custom_metadata keys of 128 bytes, values of 512):
    refused before anything is written, so it is the rows to fix."""

    exit_code = 2
