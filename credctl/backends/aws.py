"""AWS Secrets Manager, on boto3.

Listing uses `ListSecrets` only (tags, dates and version stages come with
it); values come from `BatchGetSecretValue`, 20 ids a call, calls run in
parallel. A rotation stages its value as the `AWSPENDING` version whose id is
derived from the rotation token, then moves `AWSCURRENT` to it; AWS keeps the
old value as `AWSPREVIOUS`. Every vendor failure is translated in `_translate`.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import botocore.loaders
import botocore.session
import botocore.utils

from credctl import clock
from credctl.backends.base import (
    BackendContext,
    ShapeResult,
    StoreNames,
    ValueResult,
    replace_field,
    select_field,
)
from credctl.backends.calls import Caller, CallRules
from credctl.backends.config import AwsBackendConfig
from credctl.errors import (
    AccessDeniedError,
    AuthError,
    BackendError,
    BinaryValueError,
    ConfigError,
    ConflictError,
    MetadataLimitError,
    NotFoundError,
    Problem,
    RotationInProgressError,
    SecretDeletedError,
    ShapeError,
    ThrottledError,
    UnreachableError,
)
from credctl.fanout import MAX_ENVIRONMENTS
from credctl.model import (
    META_MANAGED,
    META_VERSION,
    EnvironmentConfig,
    PendingInfo,
    Ref,
    SecretInfo,
)
from credctl.schedule import format_timestamp, parse_timestamp
from credctl.secret import Secret
from credctl.shape import check_write, shape_of

log = logging.getLogger("credctl")

CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"
# a racing stager tags one round trip after its check of "no pending": well within this
STAGE_SETTLE_SECONDS = 0.5
# "<token> <ISO time>[ <field>]": who staged the pending value, when, and for which #field
PENDING_TAG = "credctl:pending"
BATCH = 20  # BatchGetSecretValue takes at most 20 ids
PAGE = 100  # ListSecrets returns at most 100 a page

THROTTLED_CODES = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "LimitExceededException",
}
TRANSIENT_CODES = {"InternalServiceError", "InternalFailure", "ServiceUnavailable"}
AUTH_CODES = {
    "ExpiredTokenException",
    "ExpiredToken",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
}
DENIED_CODES = {"AccessDeniedException", "AccessDenied"}
LOGIN_HINT = "log in to AWS: aws sso login, or set AWS_PROFILE or AWS_ACCESS_KEY_ID"
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9-]{32,64}$")
_TOKEN_NAMESPACE = uuid.UUID("6f1c7c3e-8d5e-4bb4-9a47-2f4f0a8f6c11")


def from_config(environment: EnvironmentConfig, context: BackendContext) -> AwsBackend:
    config = environment.backend
    assert isinstance(config, AwsBackendConfig)
    if context.client is not None:
        return AwsBackend(environment, context.client)
    if context.clients is None:
        return AwsBackend(environment, make_client(environment, config))
    # environments of one account and region (each its prefix) share a client: one set of
    # connections, and no second client built (~25 ms of CPU each)
    key = (*config.store_identity(), environment.concurrency)
    client = context.clients.get(key, lambda: make_client(environment, config))
    return AwsBackend(environment, client, owns_client=False)


def make_client(environment: EnvironmentConfig, config: AwsBackendConfig) -> Any:
    """A Secrets Manager client from the environment file and boto3's credential chain."""
    where = f"environments/{environment.name}.yaml"
    client_config = botocore_config(environment)
    try:
        session = _session(profile_name=config.profile, region_name=config.region)
        if config.role_arn:
            session = _assume_role(session, config, environment, client_config)
        return _client(
            session, "secretsmanager", endpoint_url=config.endpoint_url, config=client_config
        )
    except botocore.exceptions.ProfileNotFound:
        raise ConfigError(
            Problem(where, None, f"AWS profile {config.profile!r} is not configured"),
            hint="check ~/.aws/config or the 'profile' key",
        ) from None
    except botocore.exceptions.NoRegionError:
        raise ConfigError(
            Problem(where, None, "no AWS region: set 'region' in the environment file"),
            hint="or set AWS_REGION",
        ) from None
    except botocore.exceptions.BotoCoreError as error:
        raise ConfigError(Problem(where, None, f"cannot configure AWS: {error}")) from None


_LOADER: list[Any] = []  # botocore's loader of service models, shared by every session
_LOADER_LOCK = threading.Lock()
_BUILT: set[str] = set()  # services a client was built for: their models are loaded


def _session(**options: Any) -> Any:
    """A boto3 session whose service models come from one loader for the process: each
    environment has its own session and client, and none parses the models again (20
    environments' clients: 0.4 s of CPU instead of 1.5)."""
    with _LOADER_LOCK:
        if not _LOADER:
            _LOADER.append(botocore.loaders.create_loader())
        loader = _LOADER[0]
        core = botocore.session.Session()
        core.register_component("data_loader", loader)
        core.get_component("response_parser_factory").set_parser_defaults(
            timestamp_parser=_timestamp
        )
        session = boto3.Session(botocore_session=core, **options)
        # each boto3 session adds its own data folder to the loader's paths: once is enough
        loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
        return session


def _timestamp(value: Any) -> datetime:
    """A date in an AWS answer, in UTC like every date credctl handles. Secrets Manager
    sends seconds since the epoch; botocore's own parser (kept for any other form) gives
    them the local time zone through dateutil, half the CPU of reading a listing."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    parsed: datetime = botocore.utils.parse_timestamp(value)
    return parsed.astimezone(UTC)


def _client(session: Any, service: str, **options: Any) -> Any:
    """A client of `service`; the process's first is built alone, so that environments
    opening their stores at once wait for its models to load instead of each loading them
    again (botocore's loader caches a model only once it is loaded)."""
    if service in _BUILT:
        return session.client(service, **options)
    with _LOADER_LOCK:
        client = session.client(service, **options)
        _BUILT.add(service)
        return client


def botocore_config(environment: EnvironmentConfig) -> botocore.config.Config:
    """Connection pool sized for the environment's concurrency, times the environments a
    shared client may serve at once (connections are opened as needed, not beforehand);
    retries left to credctl."""
    return botocore.config.Config(
        max_pool_connections=max(10, environment.concurrency) * MAX_ENVIRONMENTS,
        # one retry policy, credctl's: backoff with jitter up to the file's `retry`
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=5,
        read_timeout=30,
        user_agent_extra="credctl",
    )


def _assume_role(
    session: Any,
    config: AwsBackendConfig,
    environment: EnvironmentConfig,
    client_config: botocore.config.Config,
) -> Any:
    sts = _client(session, "sts", config=client_config)
    user = re.sub(r"[^\w+=,.@-]", "-", getpass.getuser())
    try:
        answer = sts.assume_role(RoleArn=config.role_arn, RoleSessionName=f"credctl-{user}"[:64])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        raise _translate(error, environment, f"AssumeRole {config.role_arn}", "sts") from None
    credentials = answer["Credentials"]
    return _session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=session.region_name,
    )


def version_id(token: str) -> str:
    """The AWS version id (ClientRequestToken, 32-64 characters) of a rotation token."""
    if _TOKEN_CHARS.match(token):
        return token
    return str(uuid.uuid5(_TOKEN_NAMESPACE, token))


def _error_code(error: Exception) -> str:
    if isinstance(error, botocore.exceptions.ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def _is_retryable(error: Exception) -> bool:
    if isinstance(
        error,
        botocore.exceptions.EndpointConnectionError
        | botocore.exceptions.ConnectionClosedError
        | botocore.exceptions.ReadTimeoutError
        | botocore.exceptions.ConnectTimeoutError,
    ):
        return True
    if isinstance(error, botocore.exceptions.ClientError):
        code = _error_code(error)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in THROTTLED_CODES or code in TRANSIENT_CODES or status >= 500
    return False


def _translate(
    error: Exception,
    environment: EnvironmentConfig,
    action: str,
    endpoint: str,
    *,
    carries_value: bool = False,
) -> BackendError:
    """A vendor failure as credctl's own error: one line, no value, the right exit code.

    `carries_value`: the request held a secret value, which a vendor message may echo.
    """
    env = environment.name
    if isinstance(error, BackendError):
        return error
    if isinstance(
        error,
        botocore.exceptions.EndpointConnectionError
        | botocore.exceptions.ConnectionClosedError
        | botocore.exceptions.ConnectTimeoutError
        | botocore.exceptions.ReadTimeoutError,
    ):
        return UnreachableError(
            f"environment {env}: cannot reach AWS Secrets Manager at {endpoint} ({action})",
            hint="check the network, 'region' and 'endpoint_url' in the environment file",
        )
    if isinstance(
        error,
        botocore.exceptions.NoCredentialsError
        | botocore.exceptions.TokenRetrievalError
        | botocore.exceptions.SSOError,
    ):
        return AuthError(f"environment {env}: no usable AWS credentials", hint=LOGIN_HINT)
    if isinstance(error, botocore.exceptions.ClientError):
        code = _error_code(error)
        message = str(error.response.get("Error", {}).get("Message", "")).splitlines()[0:1]
        # validation messages quote the offending parameter, which may be the value
        detail = message[0] if message and not carries_value else code
        if code in AUTH_CODES:
            return AuthError(
                f"environment {env}: AWS rejected the credentials ({code})", hint=LOGIN_HINT
            )
        if code in DENIED_CODES:
            return AccessDeniedError(
                f"environment {env}: access denied for {action}",
                hint="the identity needs secretsmanager permissions on the prefix",
            )
        if code in THROTTLED_CODES:
            return ThrottledError(f"environment {env}: throttled by AWS on {action}")
        if code == "ResourceNotFoundException":
            return NotFoundError(f"environment {env}: {action}: not found")
        return BackendError(f"environment {env}: AWS {code or 'error'} on {action}: {detail}")
    if isinstance(error, botocore.exceptions.BotoCoreError):
        # ParamValidationError, for one, quotes the parameter's value
        detail = type(error).__name__ if carries_value else " ".join(str(error).split())
        return BackendError(f"environment {env}: AWS client error on {action}: {detail}")
    return BackendError(f"environment {env}: {action} failed ({type(error).__name__})")


@dataclass(frozen=True)
class AwsCall:
    """One API call as messages name it: "DescribeSecret prod/x"."""

    action: str
    carries_value: bool = False  # the request holds a value, which a vendor message may echo

    def __str__(self) -> str:
        return self.action


class AwsRules(CallRules[AwsCall]):
    """Secrets Manager's failures: throttling and 5xx are repeated, the rest translated."""

    vendor = "AWS"

    def __init__(self, environment: EnvironmentConfig, client: Any) -> None:
        self.environment = environment
        self.client = client

    def is_retryable(self, error: Exception) -> bool:
        return _is_retryable(error)

    def translate(self, error: Exception, call: AwsCall) -> BackendError:
        endpoint = str(self.client.meta.endpoint_url)
        return _translate(
            error, self.environment, call.action, endpoint, carries_value=call.carries_value
        )

    def exhausted(self, error: Exception, attempts: int, call: AwsCall) -> BackendError:
        translated = self.translate(error, call)
        if isinstance(translated, ThrottledError) or _error_code(error) in TRANSIENT_CODES:
            return ThrottledError(
                f"environment {self.environment.name}: AWS still throttling {call.action} "
                f"after {attempts} attempts",
                hint="lower 'concurrency' or 'rate_limit', or raise 'retry.max_attempts'",
            )
        return translated

    def outcome(self, error: Exception) -> str:
        return _error_code(error) or type(error).__name__


class AwsBackend(StoreNames):
    """One environment's secrets in AWS Secrets Manager."""

    def __init__(
        self, environment: EnvironmentConfig, client: Any, *, owns_client: bool = True
    ) -> None:
        self.environment = environment
        self.client = client
        self._owns_client = owns_client  # False: the run's shared client, closed by the run
        config = environment.backend
        assert isinstance(config, AwsBackendConfig)
        self.config = config
        self._calls = Caller(environment, AwsRules(environment, client))

    # ------------------------------------------------------------- plumbing

    def describe(self) -> str:
        region = self.client.meta.region_name
        return f"AWS Secrets Manager {region} at {self.client.meta.endpoint_url}"

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def _call(
        self,
        operation: str,
        action: str,
        *,
        write: bool = False,
        settled: Callable[[], bool] | None = None,
        **kwargs: Any,
    ) -> Any:
        """One API call through the shared wrapper (retry, write rate, translation).

        `settled`, for a write that is not idempotent by itself: whether the store is
        already as the write leaves it (see `Caller`).
        """
        method: Callable[..., Any] = getattr(self.client, operation)
        call = AwsCall(action, carries_value="SecretString" in kwargs)
        return self._calls(lambda: method(**kwargs), call, write=write, settled=settled)

    def _describe_secret(self, name: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._call(
            "describe_secret", f"DescribeSecret {name}", SecretId=name
        )
        return answer

    # --------------------------------------------------------------- reading

    def _pages(self) -> Iterator[dict[str, Any]]:
        prefix = self.environment.prefix
        # secrets scheduled for deletion too: a row's secret in that state is reported as
        # such, never as missing (which would send sync to create it again)
        arguments: dict[str, Any] = {"MaxResults": PAGE, "IncludePlannedDeletion": True}
        if prefix:
            arguments["Filters"] = [{"Key": "name", "Values": [prefix]}]
        while True:
            page: dict[str, Any] = self._call("list_secrets", f"ListSecrets {prefix}*", **arguments)
            yield page
            token = page.get("NextToken")
            if not token:
                return
            arguments["NextToken"] = token

    def list_secrets(self) -> list[SecretInfo]:
        prefix = self.environment.prefix
        found: list[SecretInfo] = []
        for page in self._pages():
            for entry in page.get("SecretList", []):
                name = entry["Name"]
                # the name filter matches prefixes case-insensitively; credctl's names are exact
                if name.startswith(prefix):
                    found.append(self._info(entry))
        return self._dated(found)

    def secret_info(self, name: str) -> SecretInfo | None:
        try:
            described = self._describe_secret(name)
        except NotFoundError:
            return None
        # DescribeSecret names the stages map differently from ListSecrets
        stages = described.get("VersionIdsToStages") or {}
        return self._dated([self._info({**described, "SecretVersionsToStages": stages})])[0]

    def describe_secrets(self, names: Sequence[str]) -> dict[str, SecretInfo | None]:
        """One DescribeSecret each (tags, dates, stages), `concurrency` at a time."""
        unique = list(dict.fromkeys(names))
        if not unique:
            return {}
        workers = min(self.environment.concurrency, len(unique))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return dict(zip(unique, pool.map(self.secret_info, unique), strict=True))

    def _info(self, entry: Mapping[str, Any]) -> SecretInfo:
        name = entry["Name"]
        metadata = {tag["Key"]: tag.get("Value", "") for tag in entry.get("Tags", [])}
        stages: Mapping[str, list[str]] = entry.get("SecretVersionsToStages") or {}
        current = next((v for v, labels in stages.items() if CURRENT in labels), None)
        pending_version = _unfinished_version(stages, metadata.get(PENDING_TAG))
        pending = None
        if pending_version is not None:
            token, created, field = _pending_tag(metadata.get(PENDING_TAG), pending_version)
            pending = PendingInfo(token, created, CURRENT in stages[pending_version], field)
        metadata.pop(PENDING_TAG, None)
        return SecretInfo(
            name=name,
            reference=self.reference(name),
            metadata=metadata,
            created=entry.get("CreatedDate"),
            updated=entry.get("LastChangedDate"),
            store_rotated=entry.get("LastRotatedDate"),
            has_value=current is not None,
            current_version=current,
            pending=pending,
            deleted=entry.get("DeletedDate") is not None,
            rotated_by_store=bool(entry.get("RotationEnabled")),
            # set by AWS on the first read, to the day; absent until then
            last_read=entry.get("LastAccessedDate"),
        )

    def _dated(self, found: list[SecretInfo]) -> list[SecretInfo]:
        """The listing, with the creation dates a listing lacks where they matter: the current
        version of a secret whose AWSCURRENT is not the version credctl made current (another
        tool changed it), and a pending version another tool staged. One ListSecretVersionIds
        each, for those secrets only: a listing of N secrets stays ⌈N/100⌉ calls otherwise."""
        wanted = [index for index, info in enumerate(found) if _needs_dates(info)]
        if not wanted:
            return found
        workers = max(1, min(self.environment.concurrency, len(wanted)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            dates = list(pool.map(lambda index: self._version_dates(found[index].name), wanted))
        dated = list(found)
        for index, created in zip(wanted, dates, strict=True):
            info = found[index]
            current = created.get(info.current_version or "")
            pending = info.pending
            if pending is not None and pending.created is None:
                pending = replace(pending, created=created.get(version_id(pending.token)))
            dated[index] = replace(info, current_created=current, pending=pending)
        return dated

    def _version_dates(self, name: str) -> dict[str, datetime]:
        """When each labelled version of a secret was created (version id -> date)."""
        arguments: dict[str, Any] = {"SecretId": name, "MaxResults": PAGE}
        created: dict[str, datetime] = {}
        while True:
            try:
                page = self._call(
                    "list_secret_version_ids", f"ListSecretVersionIds {name}", **arguments
                )
            except NotFoundError:
                return created  # deleted since it was listed
            except AccessDeniedError:
                # ages then come from credctl's own record, as before it dated versions
                log.warning(
                    "%s: cannot date the version of %s that another tool made current "
                    "(secretsmanager:ListSecretVersionIds is denied)",
                    self.environment.name,
                    name,
                )
                return created
            for version in page.get("Versions", []):
                if version.get("CreatedDate") is not None:
                    created[version["VersionId"]] = version["CreatedDate"]
            token = page.get("NextToken")
            if not token:
                return created
            arguments["NextToken"] = token

    def read_values(self, refs: Sequence[Ref]) -> dict[Ref, ValueResult]:
        results: dict[Ref, ValueResult] = {}
        names: list[str] = []
        for ref in refs:
            try:
                names.append(self.name_for(ref))
            except ConfigError as error:
                results[ref] = BackendError(str(error))
        raw = self._raw_values(names)
        for ref in refs:
            if ref in results:
                continue
            value = raw.get(ref.name)
            if value is None:
                results[ref] = NotFoundError(f"{ref.name} has no value in {self.describe()}")
            elif isinstance(value, BackendError):
                results[ref] = value
            else:
                try:
                    results[ref] = select_field(
                        _text(value, ref.name, ref.field), ref.field, ref.name
                    )
                except BackendError as error:
                    results[ref] = error
        return results

    def value_shapes(self, names: Sequence[str]) -> dict[str, ShapeResult]:
        raw = self._raw_values(names)
        shapes: dict[str, ShapeResult] = {}
        for name in names:
            value = raw.get(name)
            if value is None or isinstance(value, NotFoundError):
                shapes[name] = None
            elif isinstance(value, BackendError):
                shapes[name] = value
            else:
                shapes[name] = shape_of(value)
        return shapes

    def _raw_values(self, names: Sequence[str]) -> dict[str, str | bytes | BackendError]:
        """Current values as AWS holds them (text or bytes), 20 a call, calls in parallel."""
        unique = list(dict.fromkeys(names))
        batches = [unique[start : start + BATCH] for start in range(0, len(unique), BATCH)]
        raw: dict[str, str | bytes | BackendError] = {}
        if batches:
            workers = min(self.environment.concurrency, len(batches))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for answer in pool.map(self._batch_get, batches):
                    raw.update(answer)
        return raw

    def _batch_get(self, names: list[str]) -> dict[str, str | bytes | BackendError]:
        answer: dict[str, str | bytes | BackendError] = {}
        arguments: dict[str, Any] = {"SecretIdList": names}
        while True:
            try:
                page = self._call(
                    "batch_get_secret_value",
                    f"BatchGetSecretValue ({len(names)} secrets)",
                    **arguments,
                )
            except BackendError as error:
                return {name: error for name in names if name not in answer}
            for item in page.get("SecretValues", []):
                answer[item["Name"]] = _raw_of(item, item["Name"])
            for failure in page.get("Errors", []):
                secret_id = failure.get("SecretId", "")
                code = failure.get("ErrorCode", "")
                name = (
                    secret_id.split(":secret:", 1)[-1]
                    if secret_id.startswith("arn:")
                    else secret_id
                )
                answer[name] = _batch_error(code, name, self)
            token = page.get("NextToken")
            if not token:
                return answer
            arguments["NextToken"] = token

    def read_version(self, name: str, version: str) -> Secret:
        answer = self._call(
            "get_secret_value",
            f"GetSecretValue {name} version {version}",
            SecretId=name,
            VersionId=version,
        )
        value = _raw_of(answer, name)
        if isinstance(value, BackendError):
            raise value
        return Secret(_text(value, name, None))

    def read_previous(self, items: Sequence[tuple[str, str | None]]) -> list[Secret | None]:
        workers = max(1, min(self.environment.concurrency, len(items)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda item: self._previous(*item), items))

    def _previous(self, name: str, field: str | None) -> Secret | None:
        try:
            answer = self._call(
                "get_secret_value",
                f"GetSecretValue {name} AWSPREVIOUS",
                SecretId=name,
                VersionStage="AWSPREVIOUS",
            )
        except BackendError:
            return None  # none (NotFound), or not readable: nothing to look for
        value = _raw_of(answer, name)
        if isinstance(value, BackendError):
            return None
        try:
            return select_field(_text(value, name, field), field, name)
        except BackendError:
            return None  # binary data that is not text, or no such field: nothing to look for

    def _current_raw(self, name: str) -> str | bytes | None:
        try:
            answer = self._call("get_secret_value", f"GetSecretValue {name}", SecretId=name)
        except NotFoundError:
            return None
        value = _raw_of(answer, name)
        if isinstance(value, NotFoundError):
            return None
        if isinstance(value, BackendError):
            raise value
        return value

    def read_pending(self, name: str, token: str, field: str | None = None) -> Secret | None:
        stages = self._describe_secret(name).get("VersionIdsToStages") or {}
        if PENDING not in stages.get(version_id(token), []):
            return None
        answer = self._call(
            "get_secret_value",
            f"GetSecretValue {name} (pending)",
            SecretId=name,
            VersionId=version_id(token),
        )
        value = _raw_of(answer, name)
        if isinstance(value, BackendError):
            raise value
        return select_field(_text(value, name, field), field, name)

    # --------------------------------------------------------------- writing

    def create(self, name: str, metadata: Mapping[str, str], value: Secret | None) -> None:
        _check_tags(name, metadata)
        arguments: dict[str, Any] = {
            "Name": name,
            "Tags": [{"Key": key, "Value": text} for key, text in metadata.items()],
            "Description": "managed by credctl",
        }
        if self.config.kms_key_id:
            arguments["KmsKeyId"] = self.config.kms_key_id
        # the same request retried after a lost answer must not make a second version
        version = str(uuid.uuid4())
        recorded = dict(metadata)
        if value is not None:
            arguments["SecretString"] = value.reveal()
            arguments["ClientRequestToken"] = version
            if metadata.get(META_MANAGED) == "true":
                # the version credctl made current: another current one is another tool's
                recorded[META_VERSION] = version
                arguments["Tags"] = [{"Key": key, "Value": text} for key, text in recorded.items()]
        try:
            self._call("create_secret", f"CreateSecret {name}", write=True, **arguments)
        except BackendError as error:
            self._adopt_existing(name, error)

    def _adopt_existing(self, name: str, error: BackendError) -> None:
        """ListSecrets lags behind creation: an existing credctl secret is ours, not a clash.

        One scheduled for deletion is never brought back here (AWS refuses the name with
        an InvalidRequestException, told here by the secret's state: the message is left
        out of errors of calls that carried a value): only `restore` does that, when asked.
        Any other failure is `error`.
        """
        exists = "ResourceExistsException" in str(error)
        if not exists and "InvalidRequestException" not in str(error):
            raise error
        try:
            described = self._describe_secret(name)
        except NotFoundError:
            raise error from None
        scheduled = described.get("DeletedDate") is not None
        if not exists and not scheduled:
            raise error
        tags = {tag["Key"]: tag.get("Value") for tag in described.get("Tags", [])}
        if tags.get(META_MANAGED) != "true":
            raise ConflictError(
                f"{name} already exists in {self.describe()} and is not managed by credctl",
                hint="adopt it with 'credctl import'",
            )
        if scheduled:
            raise SecretDeletedError(
                f"{name} exists in {self.describe()} but is scheduled for deletion; "
                "credctl does not write over it",
                hint="restore it with 'credctl sync --restore'",
            )

    def set_metadata(
        self, name: str, updates: Mapping[str, str], remove: Collection[str] = ()
    ) -> None:
        _check_tags(name, updates)
        if updates:
            self._call(
                "tag_resource",
                f"TagResource {name}",
                write=True,
                SecretId=name,
                Tags=[{"Key": key, "Value": text} for key, text in updates.items()],
            )
        if remove:
            self._call(
                "untag_resource",
                f"UntagResource {name}",
                write=True,
                SecretId=name,
                TagKeys=list(remove),
            )

    def put_pending(self, name: str, value: Secret, token: str, field: str | None = None) -> None:
        mine = version_id(token)
        held = self._pending_version(name)
        if held == mine:
            return
        if held is not None:
            raise RotationInProgressError(
                f"{name}: a rotation is already in progress (an AWSPENDING version exists)",
                hint="wait for it, or discard it with 'credctl rotate --abort'",
            )
        current = self._current_raw(name)
        if isinstance(current, bytes):
            # never turned into text (a row with a field could only make it text)
            check_write(shape_of(current), field, name, self.reference(name))
        whole = replace_field(current if isinstance(current, str) else None, field, value, name)
        mark = f"{token} {format_timestamp(clock.now())}" + (f" {field}" if field else "")
        self.set_metadata(name, {PENDING_TAG: mark})
        self._call(
            "put_secret_value",
            f"PutSecretValue {name} (pending)",
            write=True,
            SecretId=name,
            SecretString=whole,
            ClientRequestToken=mine,
            VersionStages=[PENDING],
        )
        # No compare-and-set in AWS: of stagers racing, the last PutSecretValue holds
        # AWSPENDING (AWS moves the label). Each stager, once a racer that found no pending
        # value just before this write would have written too, goes on only if it holds
        # the label, and then makes the tag name it (a loser may have tagged last). A
        # loser's version is left with no label: it has nothing to clean up, and it never
        # touches the tag.
        self._holds(name, mine)
        time.sleep(STAGE_SETTLE_SECONDS)
        if not _tag_names(self._holds(name, mine), mine):
            self.set_metadata(name, {PENDING_TAG: mark})

    def _holds(self, name: str, mine: str) -> str | None:
        """The pending tag, if `mine` holds AWSPENDING; else the race is lost."""
        described = self._describe_secret(name)
        stages: Mapping[str, list[str]] = described.get("VersionIdsToStages") or {}
        labels = stages.get(mine, [])
        # (The first version of a secret becomes AWSCURRENT at once, as AWS documents.)
        if PENDING not in labels and CURRENT not in labels:
            raise RotationInProgressError(
                f"{name}: a rotation is already in progress (another run staged a value "
                "at the same time)",
                hint="wait for it, or discard it with 'credctl rotate --abort'",
            )
        tags = {tag["Key"]: tag.get("Value", "") for tag in described.get("Tags", [])}
        return tags.get(PENDING_TAG)

    def _pending_version(self, name: str) -> str | None:
        described = self._describe_secret(name)
        stages: Mapping[str, list[str]] = described.get("VersionIdsToStages") or {}
        tags = {tag["Key"]: tag.get("Value", "") for tag in described.get("Tags", [])}
        return _unfinished_version(stages, tags.get(PENDING_TAG))

    def promote(self, name: str, token: str, *, keep_pending: bool = False) -> str:
        mine = version_id(token)
        stages = self._stages(name)
        labels = stages.get(mine)
        if not labels or (PENDING not in labels and CURRENT not in labels):
            # written, then superseded by another run's pending value (AWS drops a version
            # left with no label from the map): that run goes on
            raise RotationInProgressError(
                f"{name}: another rotation took over the pending value (version {mine}); "
                "this one stops",
                hint="wait for it, or discard it with 'credctl rotate --abort'",
            )
        if CURRENT not in labels:
            current = next((v for v, marks in stages.items() if CURRENT in marks), None)
            arguments: dict[str, Any] = {"MoveToVersionId": mine}
            if current is not None:
                arguments["RemoveFromVersionId"] = current
            self._call(
                "update_secret_version_stage",
                f"UpdateSecretVersionStage {name} (promote)",
                write=True,
                settled=lambda: CURRENT in self._stages(name, raw=True).get(mine, []),
                SecretId=name,
                VersionStage=CURRENT,
                **arguments,
            )
        if not keep_pending:
            self.discard_pending(name, token)
        return mine

    def _stages(self, name: str, *, raw: bool = False) -> Mapping[str, list[str]]:
        """Version id -> labels; `raw`: one request, no retries (inside another call's retry)."""
        if raw:
            described = self.client.describe_secret(SecretId=name)
        else:
            described = self._describe_secret(name)
        stages: Mapping[str, list[str]] = described.get("VersionIdsToStages") or {}
        return stages

    def _scheduled(self, name: str) -> bool:
        """Whether the secret is scheduled for deletion (one request, inside a retry)."""
        return self.client.describe_secret(SecretId=name).get("DeletedDate") is not None

    def discard_pending(self, name: str, token: str | None = None) -> None:
        described = self._describe_secret(name)
        stages: Mapping[str, list[str]] = described.get("VersionIdsToStages") or {}
        tags = {tag["Key"]: tag.get("Value", "") for tag in described.get("Tags", [])}
        tag = tags.get(PENDING_TAG)
        if token is None:
            held = _unfinished_version(stages, tag)
        else:
            # only this token's own value: a racer's stage and tag are never touched
            held = version_id(token)
            if PENDING not in stages.get(held, []):
                return
        if held is not None:
            version = held
            self._call(
                "update_secret_version_stage",
                f"UpdateSecretVersionStage {name} (discard pending)",
                write=True,
                settled=lambda: PENDING not in self._stages(name, raw=True).get(version, []),
                SecretId=name,
                VersionStage=PENDING,
                RemoveFromVersionId=version,
            )
        if tag and (token is None or _tag_names(tag, version_id(token))):
            # Done once the label is gone: a tag naming a version that holds no AWSPENDING
            # means nothing, and the next stager overwrites it. Failing here would send the
            # user to retry a change that is complete.
            with contextlib.suppress(BackendError):
                self.set_metadata(name, {}, remove=[PENDING_TAG])

    def rotate_with_function(self, name: str, lambda_arn: str, timeout: float) -> str:
        """AWS's own rotation: RotateSecret with the function, then wait until it finishes."""
        answer = self._call(
            "rotate_secret",
            f"RotateSecret {name}",
            write=True,
            SecretId=name,
            RotationLambdaARN=lambda_arn,
            RotateImmediately=True,
        )
        version = str(answer["VersionId"])
        deadline = time.monotonic() + timeout
        while True:
            stages = self._describe_secret(name).get("VersionIdsToStages") or {}
            if CURRENT in stages.get(version, []):
                return version
            if time.monotonic() > deadline:
                raise BackendError(
                    f"{name}: the rotation function did not finish within {timeout:g} s; "
                    "its version is still pending",
                    hint="check the function's logs in CloudWatch",
                )
            time.sleep(1)

    def restore(self, name: str) -> None:
        if not self._describe_secret(name).get("DeletedDate"):
            return
        self._call(
            "restore_secret",
            f"RestoreSecret {name}",
            write=True,
            settled=lambda: not self._scheduled(name),
            SecretId=name,
        )

    def schedule_delete(self, name: str) -> str:
        days = self.config.recovery_window_days
        self._call(
            "delete_secret",
            f"DeleteSecret {name}",
            write=True,
            settled=lambda: self._scheduled(name),
            SecretId=name,
            RecoveryWindowInDays=days,
        )
        return (
            f"{name} is scheduled for deletion in {days} days; undo with: "
            f"aws secretsmanager restore-secret --secret-id {name}"
        )


def _raw_of(answer: Mapping[str, Any], name: str) -> str | bytes | BackendError:
    """The value of a GetSecretValue answer as AWS holds it: SecretString or SecretBinary."""
    if "SecretString" in answer:
        return str(answer["SecretString"])
    binary = answer.get("SecretBinary")
    if binary is not None:
        return bytes(binary)
    return NotFoundError(f"{name} has no value")


def _text(value: str | bytes, name: str, field: str | None) -> str:
    """A value read as text: binary data only when it is UTF-8 text and no field is asked."""
    if isinstance(value, str):
        return value
    if field is not None:
        raise ShapeError(
            f"{name} holds binary data (AWS SecretBinary), which has no field {field!r}",
            hint="reference it without #field",
        )
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise BinaryValueError(
            f"{name} holds binary data that is not text (AWS SecretBinary): credctl hands "
            "over text only",
            hint=f"read it with: aws secretsmanager get-secret-value --secret-id {name} "
            "--query SecretBinary --output text | base64 -d",
        ) from None


MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
_TAG_PUNCTUATION = set("_.:/=+-@")


def _check_tags(name: str, tags: Mapping[str, str]) -> None:
    """Refuse (exit 2), before the request, tags AWS would refuse."""
    for key, text in tags.items():
        problem = _tag_problem(key, text)
        if problem is not None:
            raise MetadataLimitError(
                f"{name}: {problem}; nothing was written",
                hint="a row's #field is part of its tag keys: keep such a credential in a "
                "secret of its own, or rename the field",
            )


def _tag_problem(key: str, value: str) -> str | None:
    """Why AWS would refuse a tag: too long, or a character tags cannot hold."""
    if len(key) > MAX_TAG_KEY:
        return f"the tag key {key!r} is longer than AWS's {MAX_TAG_KEY} characters"
    if len(value) > MAX_TAG_VALUE:
        return f"the tag {key!r} is longer than AWS's {MAX_TAG_VALUE} characters for a value"
    if any(not (c.isalnum() or c.isspace() or c in _TAG_PUNCTUATION) for c in key):
        return (
            f"the tag key {key!r} holds a character AWS tag keys cannot hold (only letters, "
            "digits, spaces and _ . : / = + - @)"
        )
    return None


def _needs_dates(info: SecretInfo) -> bool:
    """Whether the listing lacks a creation date that the secret's age depends on."""
    recorded = info.metadata.get(META_VERSION)
    pending = info.pending
    outside = (
        recorded is not None
        and info.current_version is not None
        and recorded != info.current_version
        and not (pending is not None and pending.promoted)
    )
    return outside or (pending is not None and pending.created is None and pending.foreign)


def _batch_error(code: str, name: str, backend: AwsBackend) -> BackendError:
    environment = backend.environment.name
    if code == "ResourceNotFoundException":
        return NotFoundError(f"{name} has no value in {backend.describe()}")
    if code in DENIED_CODES or code == "DecryptionFailure":
        return AccessDeniedError(f"environment {environment}: cannot read {name} ({code})")
    if code == "InvalidRequestException":
        return NotFoundError(f"{name} cannot be read (scheduled for deletion?)")
    return BackendError(f"environment {environment}: cannot read {name} ({code})")


def _unfinished_version(stages: Mapping[str, list[str]], tag: str | None) -> str | None:
    """The version holding AWSPENDING that a rotation has yet to finish, if any.

    One that also holds AWSCURRENT counts only when credctl's tag names it: a promote
    whose answer was lost, still to be finished. AWS's own rotations complete that way.
    """
    for version, labels in stages.items():
        if PENDING in labels and (CURRENT not in labels or _tag_names(tag, version)):
            return version
    return None


def _tag_names(text: str | None, version: str) -> bool:
    return bool(text) and version_id((text or "").partition(" ")[0]) == version


def _pending_tag(text: str | None, version: str) -> tuple[str, datetime | None, str | None]:
    """Who staged the pending version, when, and for which field, if the tag is about it."""
    if text and _tag_names(text, version):
        token, _, rest = text.partition(" ")
        stamp, _, field = rest.partition(" ")
        try:
            return token, parse_timestamp(stamp) if stamp else None, field or None
        except ValueError:
            return token, None, field or None
    return version, None, None
