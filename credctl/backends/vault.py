"""HashiCorp Vault / OpenBao KV version 2, on hvac.

Listing asks for every secret's metadata under the prefix in one request where the
server has OpenBao's SCAN of `detailed-metadata/`; elsewhere (HashiCorp Vault, older
OpenBao, a policy without `scan`) it walks the prefix with LIST (each folder level in
parallel), then reads every secret's metadata in parallel. Which one works is found
out once per backend, silently (`-v` says). Values are read in parallel too. Each
worker thread has its own hvac client and `requests.Session`, so connections
are kept alive and never shared between threads. Writes use check-and-set.
A rotation stages the new data at the sibling path `<name>.credctl-pending`,
created with `cas=0`: of two rotations, the second cannot create it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import re
import threading
import warnings
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import certifi
import hvac
import hvac.exceptions
import hvac.utils
import requests
import requests.adapters
import requests.utils
import urllib3
import urllib3.exceptions

from credctl import clock
from credctl.backends.base import (
    BackendContext,
    ShapeResult,
    StoreNames,
    ValueResult,
)
from credctl.backends.calls import Caller, CallRules
from credctl.backends.config import LISTING_VARIABLE, VAULT_LISTINGS, VaultBackendConfig
from credctl.errors import (
    AccessDeniedError,
    AuthError,
    BackendError,
    ConfigError,
    ConflictError,
    CredctlError,
    MetadataLimitError,
    NotFoundError,
    Problem,
    RotationInProgressError,
    SecretDeletedError,
    ShapeError,
    ThrottledError,
    UnreachableError,
)
from credctl.fields import url_problem
from credctl.model import (
    LAST_ROTATED_SUFFIX,
    META_MANAGED,
    META_VERSION,
    EnvironmentConfig,
    PendingInfo,
    Ref,
    SecretInfo,
)
from credctl.secret import Secret
from credctl.shape import (
    VALUE_FIELD,
    as_text,
    check_write,
    replace_in_text,
    select,
    select_text,
    shape_of,
    with_field,
)

log = logging.getLogger("credctl")

PENDING_SUFFIX = ".credctl-pending"
# the rotation token of the current version, so that promote is idempotent
LAST_TOKEN = "credctl:last-token"  # noqa: S105 - a metadata key
MAX_METADATA_KEYS = 64
MAX_KEY_BYTES = 128
MAX_VALUE_BYTES = 512
RETRYABLE = (
    hvac.exceptions.RateLimitExceeded,
    hvac.exceptions.InternalServerError,
    hvac.exceptions.BadGateway,
    hvac.exceptions.VaultDown,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
)
# What a server without SCAN on detailed-metadata answers: 400 (a proxy that does not
# know the method), 403 (a policy without `scan`), 404 (no such path: HashiCorp Vault),
# 405 (no such method: older OpenBao and Vault), 501.
SCAN_UNSUPPORTED = frozenset({400, 403, 404, 405, 501})
# keys asked for a SCAN page; OpenBao 2.x answers the whole prefix at once
SCAN_PAGE = 2500
T = TypeVar("T")


def _retryable(error: Exception) -> bool:
    # a certificate or handshake failure answers the same way every time
    return isinstance(error, RETRYABLE) and not isinstance(error, requests.exceptions.SSLError)


def from_config(environment: EnvironmentConfig, context: BackendContext) -> VaultBackend:
    config = environment.backend
    assert isinstance(config, VaultBackendConfig)
    where = f"environments/{environment.name}.yaml"
    url = config.url or os.environ.get("VAULT_ADDR")
    if not url:
        raise ConfigError(
            Problem(where, None, "no Vault address: set 'url' in the file or VAULT_ADDR")
        )
    problem = url_problem(url)
    if problem:  # the file's own url was checked when it was read
        raise ConfigError(Problem("VAULT_ADDR", None, problem), hint=f"or set 'url' in {where}")
    if urlsplit(url).scheme == "http" and not _is_loopback(urlsplit(url).hostname or ""):
        log.warning(
            "%s: Vault at %s is plain http: the token and every value cross the network "
            "unencrypted; use https://",
            environment.name,
            url,
        )
    ca_cert = config.ca_cert or os.environ.get("VAULT_CACERT")
    verify: bool | str = True
    if not config.tls_verify:
        verify = False
        if url.startswith("https:"):
            _warn_tls_off(environment.name, url)
    elif ca_cert:
        path = Path(ca_cert).expanduser()
        if not path.is_absolute():
            path = context.project_dir / path
        if not path.is_file():
            raise ConfigError(Problem(where, None, f"ca_cert {ca_cert} does not exist"))
        verify = str(path)
    namespace = config.namespace or os.environ.get("VAULT_NAMESPACE") or None
    listing = os.environ.get(LISTING_VARIABLE) or config.listing
    if listing not in VAULT_LISTINGS:
        raise ConfigError(
            Problem(
                LISTING_VARIABLE, None, f"{listing!r} is not one of {', '.join(VAULT_LISTINGS)}"
            ),
            hint=f"unset {LISTING_VARIABLE} to use 'listing' in {where} (default auto)",
        )
    return VaultBackend(
        environment,
        url.rstrip("/"),
        verify=verify,
        namespace=namespace,
        client=context.client,
        listing=listing,
    )


def _is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1: traffic that never leaves this machine."""
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(
        ".localhost"
    ):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _warn_tls_off(environment: str, url: str) -> None:
    """Say once (the CLI shows it as `warning: …`) that the file turned TLS verification off.

    urllib3 would repeat it, several lines long, for each new connection: its warning
    is ignored for this host only.
    """
    log.warning("%s: TLS verification is off for %s", environment, url)
    host = urlsplit(url).hostname or ""
    warnings.filterwarnings(
        "ignore",
        message=re.escape(f"Unverified HTTPS request is being made to host '{host}'"),
        category=urllib3.exceptions.InsecureRequestWarning,
    )


def _translate(
    error: Exception, environment: EnvironmentConfig, address: str, path: str, capability: str
) -> BackendError:
    """A vendor failure as credctl's own error: one line, no value, the right exit code."""
    env = environment.name
    if isinstance(error, BackendError):
        return error
    if isinstance(error, requests.exceptions.SSLError):
        if "CERTIFICATE_VERIFY_FAILED" in str(error):
            return UnreachableError(
                f"environment {env}: TLS certificate verification failed for Vault at "
                f"{address}: its certificate is not signed by a CA this machine trusts",
                hint=f"set 'ca_cert' in environments/{env}.yaml (or VAULT_CACERT) to the CA "
                "certificate that signed the server's",
            )
        return UnreachableError(
            f"environment {env}: the TLS handshake with Vault at {address} failed",
            hint="check that the server speaks https at that address (or use http:// for "
            "a server without TLS)",
        )
    if isinstance(error, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return UnreachableError(
            f"environment {env}: cannot reach Vault at {address}",
            hint="check VAULT_ADDR / 'url' in the environment file and that the server is up",
        )
    if isinstance(error, hvac.exceptions.VaultDown):
        return BackendError(
            f"environment {env}: Vault at {address} is sealed or unavailable",
            hint="unseal it (bao operator unseal / vault operator unseal)",
        )
    if isinstance(error, hvac.exceptions.Forbidden):
        return AccessDeniedError(
            f"environment {env}: permission denied: '{capability}' on {path} at {address}",
            hint=f"the token's policy needs the '{capability}' capability on {path}",
        )
    if isinstance(error, hvac.exceptions.Unauthorized):
        return AuthError(
            f"environment {env}: Vault at {address} rejected the token",
            hint="log in again (bao login / vault login) or set VAULT_TOKEN",
        )
    if isinstance(error, hvac.exceptions.InvalidPath):
        return NotFoundError(f"environment {env}: {path} not found at {address}")
    if isinstance(error, hvac.exceptions.RateLimitExceeded):
        return ThrottledError(f"environment {env}: Vault at {address} is rate limiting")
    if isinstance(error, hvac.exceptions.InvalidRequest) and "check-and-set" in str(error):
        return ConflictError(f"environment {env}: {path} was changed by another writer")
    if isinstance(error, hvac.exceptions.VaultError):
        first = (str(error).splitlines() or [type(error).__name__])[0]
        return BackendError(f"environment {env}: Vault error on {path}: {first}")
    return BackendError(f"environment {env}: {path} failed ({type(error).__name__})")


class Reads:
    """GETs over one thread-safe urllib3 pool of kept-alive connections (as many as the
    environment's `concurrency`), with what requests would take from the environment:
    HTTP(S)_PROXY / NO_PROXY, REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE. Failures are raised as
    hvac and requests raise them, so the same rules translate and repeat them."""

    def __init__(self, url: str, verify: bool | str, namespace: str | None, size: int) -> None:
        self.url = url
        self.headers = {"X-Vault-Request": "true"}
        if namespace:
            self.headers["X-Vault-Namespace"] = namespace
        tls: dict[str, Any] = {"cert_reqs": "CERT_NONE"} if verify is False else {}
        if verify is not False:
            bundle = verify if isinstance(verify, str) else _default_ca_bundle()
            where = "ca_cert_dir" if os.path.isdir(bundle) else "ca_certs"
            tls = {"cert_reqs": "CERT_REQUIRED", where: bundle}
        options: dict[str, Any] = {
            "maxsize": size,
            "retries": False,  # the caller repeats what is worth repeating
            "timeout": urllib3.Timeout(connect=30, read=30),
            **tls,
        }
        proxy = requests.utils.get_environ_proxies(url).get(urlsplit(url).scheme)
        self.pool: urllib3.PoolManager = (
            urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        )

    def get(self, path: str, token: str) -> dict[str, Any]:
        url = self.url + path
        try:
            response = self.pool.request(
                "GET", url, headers={**self.headers, "X-Vault-Token": token}
            )
        except urllib3.exceptions.SSLError as error:
            raise requests.exceptions.SSLError(str(error)) from None
        except (urllib3.exceptions.TimeoutError, urllib3.exceptions.ProxyError) as error:
            raise requests.exceptions.Timeout(str(error)) from None
        except urllib3.exceptions.HTTPError as error:
            raise requests.exceptions.ConnectionError(str(error)) from None
        text = response.data.decode("utf-8", "replace")
        try:
            answer = json.loads(text) if text else None
        except ValueError:
            answer = None
        if response.status == 200 and isinstance(answer, dict):
            return answer
        errors = answer.get("errors") if isinstance(answer, dict) else None
        hvac.utils.raise_for_error(
            "GET",
            url,
            response.status,
            None if errors else text,
            errors=errors,
            text=text,
            json=answer,
        )
        raise AssertionError("raise_for_error raises")  # pragma: no cover

    def close(self) -> None:
        self.pool.clear()


def _default_ca_bundle() -> str:
    """The CA certificates requests would verify with: its variables, else certifi's."""
    return (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
    )


@dataclass(frozen=True)
class VaultCall:
    """One request as messages name it: "read secret/data/prod/x"."""

    path: str  # the full path, mount included
    capability: str  # the policy capability it needs: read, list, create, update, delete

    def __str__(self) -> str:
        return f"{self.capability} {self.path}"


class VaultRules(CallRules[VaultCall]):
    """Vault's failures: 429, 5xx and lost connections are repeated, the rest translated."""

    vendor = "Vault"

    def __init__(self, backend: VaultBackend) -> None:
        self.backend = backend

    def is_retryable(self, error: Exception) -> bool:
        return _retryable(error)

    def translate(self, error: Exception, call: VaultCall) -> CredctlError:
        backend = self.backend
        if isinstance(error, hvac.exceptions.InvalidPath) and "no handler for route" in str(error):
            return backend._mount_error("does not exist")
        return _translate(error, backend.environment, backend.url, call.path, call.capability)

    def exhausted(self, error: Exception, attempts: int, call: VaultCall) -> BackendError:
        if isinstance(
            error,
            hvac.exceptions.RateLimitExceeded
            | hvac.exceptions.InternalServerError
            | hvac.exceptions.BadGateway,
        ):
            return ThrottledError(
                f"environment {self.backend.environment.name}: Vault still failing on "
                f"{call.path} after {attempts} attempts",
                hint="lower 'concurrency' or raise 'retry.max_attempts'",
            )
        return _translate(
            error, self.backend.environment, self.backend.url, call.path, call.capability
        )

    def outcome(self, error: Exception) -> str:
        if isinstance(error, hvac.exceptions.InvalidPath):
            return "not found"
        return type(error).__name__


class VaultBackend(StoreNames):
    """One environment's secrets in a Vault or OpenBao KV v2 mount."""

    def __init__(
        self,
        environment: EnvironmentConfig,
        url: str,
        *,
        verify: bool | str = True,
        namespace: str | None = None,
        client: Any = None,
        listing: str = "auto",
    ) -> None:
        self.environment = environment
        config = environment.backend
        assert isinstance(config, VaultBackendConfig)
        self.config = config
        self.mount = config.mount_path
        self.url = url
        self.verify = verify
        self.namespace = namespace
        self._token: str | None = client.token if client is not None else None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._sessions: list[requests.Session] = []
        # one pool for the backend's life, so worker threads keep their sessions between phases
        self._executor: ThreadPoolExecutor | None = None
        self._mount_checked = False
        self._mount_lock = threading.Lock()
        # auto: SCAN until the server shows it has none (then LIST for the backend's life)
        self.listing = listing
        self._configured_listing = listing
        self._said: set[str] = set()
        self._calls = Caller(environment, VaultRules(self))
        self._http: Reads | None = None
        if client is not None:
            self._local.client = client
        else:
            self._http = Reads(url, verify, namespace, max(1, environment.concurrency))

    # ------------------------------------------------------------- plumbing

    def describe(self) -> str:
        return f"Vault {self.url} mount {self.mount}/"

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
        if self._http is not None:
            self._http.close()

    def _client(self) -> Any:
        """This thread's hvac client (its own kept-alive session)."""
        client = getattr(self._local, "client", None)
        if client is None:
            session = requests.Session()
            # hvac takes a given session's `verify` over its own argument: set it here
            session.verify = self.verify
            adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=4)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            client = hvac.Client(
                url=self.url,
                token=self._login(),
                verify=self.verify,
                namespace=self.namespace,
                session=session,
                timeout=30,
            )
            with self._lock:
                self._sessions.append(session)
            self._local.client = client
        return client

    def _login(self) -> str:
        with self._lock:
            if self._token is None:
                self._token = self._authenticate()
            return self._token

    def _authenticate(self) -> str:
        auth = self.config.auth
        env = self.environment.name
        if auth.method == "approle":
            secret_id = os.environ.get(auth.secret_id_env or "", "")
            if not auth.role_id or not secret_id:
                raise AuthError(
                    f"environment {env}: AppRole login needs role_id in the file and the "
                    f"secret id in ${auth.secret_id_env or '<secret_id_env>'}",
                )
            client = hvac.Client(url=self.url, verify=self.verify, namespace=self.namespace)
            try:
                answer = client.auth.approle.login(
                    role_id=auth.role_id, secret_id=secret_id, mount_point=auth.mount
                )
            except Exception as error:
                translated = _translate(
                    error, self.environment, self.url, f"auth/{auth.mount}/login", "update"
                )
                if not isinstance(translated, UnreachableError):
                    translated = AuthError(
                        f"environment {env}: AppRole login at auth/{auth.mount} failed",
                        hint="check role_id and the secret id",
                    )
                raise translated from None
            finally:
                client.adapter.close()
            return str(answer["auth"]["client_token"])
        token = os.environ.get(auth.token_env, "")
        if not token:
            token_file = Path.home() / ".vault-token"
            try:
                token = token_file.read_text().strip()
            except OSError:
                token = ""
        if not token:
            raise AuthError(
                f"environment {env}: no Vault token (${auth.token_env} or ~/.vault-token)",
                hint="log in with 'bao login' or 'vault login', or set VAULT_TOKEN",
            )
        return token

    def _call(self, action: Callable[[Any], T], path: str, capability: str) -> T:
        """One request inside the mount, through the shared wrapper (retry, write rate,
        translation); a request needing more than read or list counts as a write."""
        self._check_mount()
        return self._calls(
            lambda: action(self._client()),
            VaultCall(f"{self.mount}/{path}", capability),
            write=capability not in ("read", "list", "scan"),
        )

    def _system(self, action: Callable[[Any], T], path: str) -> T:
        """A read of a system path (outside the mount), before the mount is known good."""
        return self._calls(lambda: action(self._client()), VaultCall(path, "read"))

    def _check_mount(self) -> None:
        """A missing mount or a KV version 1 mount is a clear error, once, up front (the
        first of many worker threads asks; the others wait for its answer)."""
        if self._mount_checked:
            return
        with self._mount_lock:
            if not self._mount_checked:
                self._ask_mount()

    def _ask_mount(self) -> None:
        try:
            answer = self._system(
                lambda client: client.adapter.get(f"/v1/sys/internal/ui/mounts/{self.mount}"),
                f"sys/internal/ui/mounts/{self.mount}",
            )
        except AccessDeniedError:
            # not visible to this token: the first real request will tell
            self._mount_checked = True
            return
        except NotFoundError:
            # Vault answers 403 for a mount it does not have; a 404 here is another server
            # (every LIST answering 404 would otherwise read as an empty store)
            answer = None
        if not isinstance(answer, dict):
            if not self._is_vault():
                raise BackendError(
                    f"environment {self.environment.name}: {self.url} is not a Vault server "
                    "(its sys/health is not Vault's, and the mount cannot be found)",
                    hint=f"set 'url' in environments/{self.environment.name}.yaml (or "
                    "VAULT_ADDR) to the Vault server's address, e.g. https://vault.example.com:8200",
                )
            self._mount_checked = True  # a Vault without that endpoint: the requests will tell
            return
        data = answer.get("data", {})
        kind = data.get("type")
        version = str((data.get("options") or {}).get("version", "1"))
        if kind not in ("kv", "generic") or version != "2":
            what = "is a KV version 1 mount" if kind in ("kv", "generic") else f"is a {kind} mount"
            raise self._mount_error(what)
        self._mount_checked = True

    def permissions(self) -> dict[str, tuple[bool, str]]:
        """What this token may do under the prefix, as the server says (no secret touched)."""
        probe = f"{self.environment.prefix}credctl-doctor-probe"
        needs = {
            "list": (f"metadata/{self.environment.prefix}", {"list"}),
            "metadata": (f"metadata/{probe}", {"read"}),
            "read": (f"data/{probe}", {"read"}),
            "write": (f"data/{probe}", {"create", "update"}),
            "delete": (f"data/{probe}", {"delete"}),
        }
        # SCAN of detailed-metadata lists the prefix as well as LIST does (OpenBao)
        scan = f"{self.mount}/detailed-metadata/{self._folder()}"
        paths = sorted({f"{self.mount}/{path}" for path, _ in needs.values()} | {scan})
        answer = self._system(
            lambda client: client.adapter.post("/v1/sys/capabilities-self", json={"paths": paths}),
            "sys/capabilities-self",
        )
        granted = answer.get("data", answer) if isinstance(answer, dict) else {}
        result = {}
        for permission, (path, wanted) in needs.items():
            full = f"{self.mount}/{path}"
            have = set(granted.get(full) or [])
            allowed = "root" in have or wanted <= have
            shown = full.replace(probe, f"{self.environment.prefix}*")
            what = f"{'/'.join(sorted(wanted))} on {shown}"
            if permission == "list" and self.listing != "list":
                scans = bool({"root", "scan"} & set(granted.get(scan) or []))
                allowed = scans or (allowed and self.listing == "auto")
                what = (
                    f"scan on {scan}" if self.listing == "scan" else f"{what} (or scan on {scan})"
                )
            result[permission] = (allowed, what)
        return result

    def _is_vault(self) -> bool:
        """Whether the server answers sys/health as Vault and OpenBao do (any status)."""
        try:
            answer = self._system(
                lambda client: client.adapter.get("/v1/sys/health", raise_exception=False),
                "sys/health",
            )
        except BackendError:
            return False
        if isinstance(answer, requests.Response):
            try:
                answer = answer.json()
            except ValueError:
                return False
        return isinstance(answer, dict) and "initialized" in answer and "sealed" in answer

    def _mount_error(self, what: str) -> ConfigError:
        return ConfigError(
            Problem(
                f"environments/{self.environment.name}.yaml",
                None,
                f"the Vault mount {self.mount}/ at {self.url} {what}; credctl needs KV version 2",
            ),
            hint=f"enable it with: bao secrets enable -path={self.mount} kv-v2",
        )

    # ------------------------------------------------------------- requests

    def _read(self, path: str, query: str = "") -> dict[str, Any] | None:
        """A GET in the mount (a value, a secret's metadata): its JSON, None when absent
        (or, for a value, deleted). The reads of thousands of secrets go straight to
        urllib3's shared pool of kept-alive connections: no per-request work beyond the
        HTTP call (an injected test client is asked through hvac instead)."""
        self._check_mount()
        call: Callable[[], Any]
        if self._http is None:
            call = partial(self._read_with_hvac, path, query)
        else:
            url = f"/v1/{quote(self.mount)}/{quote(path)}{query}"
            call = partial(self._http.get, url, self._login())
        try:
            answer: dict[str, Any] = self._calls(call, VaultCall(f"{self.mount}/{path}", "read"))
        except NotFoundError:
            return None
        return answer

    def _read_with_hvac(self, path: str, query: str) -> Any:
        kind, _, name = path.partition("/")
        kv = self._client().secrets.kv.v2
        if kind == "metadata":
            return kv.read_secret_metadata(path=name, mount_point=self.mount)
        version = int(query.partition("=")[2]) if query else None
        return kv.read_secret_version(
            path=name, version=version, mount_point=self.mount, raise_on_deleted_version=True
        )

    def _metadata(self, name: str) -> dict[str, Any] | None:
        answer = self._read(f"metadata/{name}")
        return None if answer is None else dict(answer["data"])

    def _data(self, name: str, version: int | None = None) -> dict[str, Any] | None:
        """The KV data of the current (or a given) version; None when absent or deleted."""
        answer = self._read(f"data/{name}", "" if version is None else f"?version={version}")
        if answer is None:
            return None
        data: dict[str, Any] | None = answer["data"]["data"]
        return data

    def _write(self, name: str, data: Mapping[str, Any], cas: int) -> int:
        """Write with check-and-set; a repeat first looks whether the lost attempt landed
        (repeating a write that landed would fail its check-and-set, although the store
        holds exactly what was asked)."""
        self._check_mount()
        version = self._calls(
            lambda: int(
                self._client().secrets.kv.v2.create_or_update_secret(
                    path=name, secret=dict(data), cas=cas, mount_point=self.mount
                )["data"]["version"]
            ),
            VaultCall(f"{self.mount}/data/{name}", "create" if cas == 0 else "update"),
            write=True,
            settled=lambda: self._landed(self._client(), name, data, cas + 1),
        )
        return cas + 1 if version is None else version

    def _landed(self, client: Any, name: str, data: Mapping[str, Any], version: int) -> bool:
        """Whether `version` of `name` holds exactly `data`."""
        try:
            answer = client.secrets.kv.v2.read_secret_version(
                path=name, version=version, mount_point=self.mount, raise_on_deleted_version=True
            )
        except hvac.exceptions.InvalidPath:
            return False
        return bool(answer["data"]["data"] == dict(data))

    def _write_metadata(
        self, name: str, custom: Mapping[str, str], delete_after: str | None = None
    ) -> None:
        """Write custom_metadata; `delete_after`, the secret's `delete_version_after` as it
        is (hvac sends "0s" unless told, which would switch another tool's setting off)."""
        self._check_limits(name, custom)
        self._call(
            lambda c: c.secrets.kv.v2.update_metadata(
                path=name,
                custom_metadata=dict(custom),
                delete_version_after=delete_after or "0s",
                mount_point=self.mount,
            ),
            f"metadata/{name}",
            "update",
        )

    def _check_limits(self, name: str, custom: Mapping[str, str]) -> None:
        hint = "keep fewer rows on this secret, or give a credential a secret of its own"
        if len(custom) > MAX_METADATA_KEYS:
            raise MetadataLimitError(
                f"{name}: Vault custom_metadata holds at most {MAX_METADATA_KEYS} keys "
                f"({len(custom)} after credctl's); nothing was written",
                hint=hint,
            )
        for key, text in custom.items():
            if len(key.encode()) > MAX_KEY_BYTES or len(str(text).encode()) > MAX_VALUE_BYTES:
                raise MetadataLimitError(
                    f"{name}: custom_metadata key {key!r} exceeds Vault's limits "
                    f"({MAX_KEY_BYTES} B keys, {MAX_VALUE_BYTES} B values); nothing was written",
                    hint=hint,
                )

    def _parallel(self, work: Callable[[str], T], items: Iterable[str]) -> list[T]:
        listed = list(items)
        if len(listed) <= 1 or getattr(self._local, "in_pool", False):
            # inline when called from a worker: waiting on the same pool could deadlock
            return [work(item) for item in listed]
        return list(self._pool().map(work, listed))

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=max(1, self.environment.concurrency),
                    thread_name_prefix=f"credctl-vault-{self.environment.name}",
                    initializer=self._mark_worker,
                )
            return self._executor

    def _mark_worker(self) -> None:
        self._local.in_pool = True

    # --------------------------------------------------------------- reading

    def _list_folder(self, folder: str) -> list[str]:
        try:
            answer = self._call(
                lambda c: c.secrets.kv.v2.list_secrets(path=folder, mount_point=self.mount),
                f"metadata/{folder}",
                "list",
            )
        except NotFoundError:
            return []
        return [folder + key for key in answer["data"]["keys"]]

    def _folder(self) -> str:
        """The folder the prefix is in: `prod/` for `prod/`, `` (the mount) for `team-a`."""
        folder, _, _ = self.environment.prefix.rpartition("/")
        return folder + "/" if folder else ""

    def _walk(self) -> list[str]:
        """Every key under the prefix: one LIST per folder, each level's folders in parallel."""
        prefix = self.environment.prefix
        start = [k for k in self._list_folder(self._folder()) if k.startswith(prefix)]
        names: list[str] = []
        level = start
        while level:
            names.extend(k for k in level if not k.endswith("/"))
            folders = [k for k in level if k.endswith("/")]
            level = [key for keys in self._parallel(self._list_folder, folders) for key in keys]
        return names

    def list_secrets(self) -> list[SecretInfo]:
        if self.listing == "list" and self._configured_listing == "list":
            self._say_listing("listing with LIST and one metadata read per secret (listing: list)")
        scanned = None if self.listing == "list" else self._scan()
        staged: dict[str, Mapping[str, Any] | None]
        if scanned is None:
            keys = self._walk()
            names = [k for k in keys if not k.endswith(PENDING_SUFFIX)]
            metadata = self._parallel(self._metadata, names)
            # deleted between LIST and read: left out
            listed = {n: m for n, m in zip(names, metadata, strict=True) if m is not None}
            staged = {k[: -len(PENDING_SUFFIX)]: None for k in keys if k.endswith(PENDING_SUFFIX)}
        else:
            listed = {n: m for n, m in scanned.items() if not n.endswith(PENDING_SUFFIX)}
            staged = {
                n[: -len(PENDING_SUFFIX)]: m
                for n, m in scanned.items()
                if n.endswith(PENDING_SUFFIX)
            }
        found = []
        for name, meta in listed.items():
            pending = None
            if name in staged:
                pending = self._pending_info(name, meta, staged[name])
            found.append(self._info(name, meta, pending))
        return found

    def _scan(self) -> dict[str, dict[str, Any]] | None:
        """Every secret's metadata under the prefix from OpenBao's SCAN of detailed-metadata,
        page after page; None when the server has no SCAN there (`auto` only: HashiCorp
        Vault, older OpenBao and a policy without `scan` answer 400/403/404/405/501)."""
        folder = self._folder()
        path = f"detailed-metadata/{folder}"
        url = f"/v1/{self.mount}/{quote(path)}"
        found: dict[str, dict[str, Any]] = {}
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": SCAN_PAGE}
            if after is not None:
                params["after"] = after
            # no mount check first: only a KV version 2 mount answers SCAN with key_info, and
            # anything else goes the LIST way, which checks it (one round trip fewer)
            if self.listing == "scan":
                self._check_mount()
            answer = self._calls(
                partial(self._scan_request, url=url, params=params),
                VaultCall(f"{self.mount}/{path}", "scan"),
            )
            data = answer.get("data") if isinstance(answer, dict) else None
            if not isinstance(data, dict) or (data and "key_info" not in data):
                if self.listing == "scan":
                    raise BackendError(
                        f"environment {self.environment.name}: Vault at {self.url} does not "
                        f"answer SCAN on {self.mount}/{path} with metadata (listing: scan)",
                        hint=f"set 'listing: auto' in environments/{self.environment.name}.yaml "
                        "(or unset CREDCTL_VAULT_LISTING) to list with LIST",
                    )
                self._say_listing(
                    f"Vault at {self.url} has no SCAN on {self.mount}/{path} "
                    f"({answer if isinstance(answer, str) else 'no key_info'}): listing with "
                    "LIST and one metadata read per secret"
                )
                self.listing = "list"
                return None
            keys = [str(key) for key in data.get("keys") or []]
            info = data.get("key_info") or {}
            fresh = [key for key in keys if folder + key not in found]
            for key in fresh:
                if isinstance(info.get(key), dict):
                    found[folder + key] = info[key]
            # a server that pages gives `limit` keys a page; one that ignores `limit` gives
            # them all, and asked again from the last gives nothing new
            if len(keys) != SCAN_PAGE or not fresh:
                break
            after = keys[-1]
        if found:
            self._mount_checked = True  # detailed-metadata with key_info: a KV version 2 mount
        else:
            self._check_mount()  # nothing there: a KV version 1 mount answers so too
        self._say_listing(f"listing with one SCAN of {self.mount}/{path} (OpenBao)")
        self.listing = "scan"
        prefix = self.environment.prefix
        return {name: meta for name, meta in found.items() if name.startswith(prefix)}

    def _say_listing(self, how: str) -> None:
        """`-v`: which way this environment's store is listed, once."""
        if how not in self._said:
            self._said.add(how)
            log.info("%s: %s", self.environment.name, how)

    def _scan_request(self, url: str, params: dict[str, Any]) -> Any:
        """One SCAN. A server without it (SCAN_UNSUPPORTED) comes back as its status, a
        string, in `auto`, so the LIST path takes over without an error shown; told to
        SCAN, it is an error, as is any other failure."""
        adapter = self._client().adapter
        answer = adapter.request("SCAN", url, params=params, raise_exception=False)
        if not isinstance(answer, requests.Response) or answer.ok:
            return answer
        status = answer.status_code
        if status in SCAN_UNSUPPORTED and self.listing == "auto":
            return f"answered {status}"
        if status in SCAN_UNSUPPORTED - {403}:
            raise BackendError(
                f"environment {self.environment.name}: Vault at {self.url} does not answer "
                f"SCAN on {self.mount}/detailed-metadata/ (it answered {status}; listing: scan)",
                hint=f"set 'listing: auto' in environments/{self.environment.name}.yaml "
                "(or unset CREDCTL_VAULT_LISTING) to list with LIST",
            )
        try:
            errors = answer.json().get("errors")
        except ValueError:
            errors = None
        raise hvac.exceptions.VaultError.from_status(
            status, "; ".join(map(str, errors or [answer.reason])), errors=errors
        )

    def secret_info(self, name: str) -> SecretInfo | None:
        meta = self._metadata(name)
        return None if meta is None else self._info(name, meta, self._pending_info(name, meta))

    def _pending_info(
        self,
        name: str,
        meta: Mapping[str, Any],
        staged_meta: Mapping[str, Any] | None = None,
    ) -> PendingInfo | None:
        """The value staged for `name`, if any; `staged_meta`, its metadata when a SCAN
        gave it already."""
        staged = self._pending(name)
        if staged is None:
            return None
        if staged_meta is None:
            staged_meta = self._metadata(name + PENDING_SUFFIX) or {}
        token = str(staged.get("token", ""))
        field = staged.get("field")
        return PendingInfo(
            token,
            _time(staged_meta.get("created_time")),
            self._is_promoted(name, meta, staged),
            field if isinstance(field, str) else None,
        )

    def _is_promoted(self, name: str, meta: Mapping[str, Any], staged: Mapping[str, Any]) -> bool:
        """Whether the staged data is current already (a promote that was not finished)."""
        if (meta.get("custom_metadata") or {}).get(LAST_TOKEN) == staged.get("token"):
            return True
        base = staged.get("base")
        current = int(meta.get("current_version") or 0)
        if not isinstance(base, int) or current <= base:
            return False
        # written, then stopped before the token was recorded
        return self._data(name, base + 1) == (staged.get("data") or {})

    def _info(self, name: str, meta: Mapping[str, Any], pending: PendingInfo | None) -> SecretInfo:
        custom: dict[str, str] = {
            k: str(v) for k, v in (meta.get("custom_metadata") or {}).items() if k != LAST_TOKEN
        }
        versions: Mapping[str, Any] = meta.get("versions") or {}
        current = int(meta.get("current_version") or 0)
        current_entry = versions.get(str(current)) or {}
        destroyed = bool(current_entry.get("destroyed"))
        # a deletion_time ahead is a `delete_version_after` still to come: readable until then
        deletion = _time(current_entry.get("deletion_time"))
        deleted = destroyed or (deletion is not None and deletion <= clock.now())
        first = versions.get(str(min((int(v) for v in versions), default=0))) or {}
        current_created = None if deleted else _time(current_entry.get("created_time"))
        store_rotated = None
        recorded = any(k.startswith("credctl:") and k.endswith(LAST_ROTATED_SUFFIX) for k in custom)
        if not recorded and current > 1:
            # written again since it was made, and no record of credctl's: the newest version
            # (so a secret is aged alike before and after credctl adopts it)
            store_rotated = current_created
        return SecretInfo(
            name=name,
            reference=self.reference(name),
            metadata=custom,
            created=_time(first.get("created_time")) or _time(meta.get("created_time")),
            updated=_time(meta.get("updated_time")),
            store_rotated=store_rotated,
            has_value=current > 0 and not deleted,
            current_version=str(current) if current > 0 else None,
            current_created=current_created,
            pending=pending,
            deleted=deleted,
            destroyed=destroyed,
        )

    def describe_secrets(self, names: Sequence[str]) -> dict[str, SecretInfo | None]:
        """One metadata read each, in parallel (`concurrency` at a time)."""
        unique = list(dict.fromkeys(names))
        found = self._parallel(self._metadata, unique)
        return {
            name: None if meta is None else self._info(name, meta, None)
            for name, meta in zip(unique, found, strict=True)
        }

    def read_values(self, refs: Sequence[Ref]) -> dict[Ref, ValueResult]:
        results: dict[Ref, ValueResult] = {}
        wanted: dict[Ref, str] = {}
        for ref in refs:
            try:
                wanted[ref] = self.name_for(ref)
            except ConfigError as error:
                results[ref] = BackendError(str(error))
        names = list(dict.fromkeys(wanted.values()))

        def fetch(name: str) -> dict[str, Any] | BackendError:
            try:
                data = self._data(name)
            except BackendError as error:
                return error
            if data is None:
                return NotFoundError(f"{name} has no value in {self.describe()}")
            return data

        fetched = dict(zip(names, self._parallel(fetch, names), strict=True))
        for ref, name in wanted.items():
            data = fetched[name]
            if isinstance(data, BackendError):
                results[ref] = data
                continue
            try:
                results[ref] = _field_of(data, ref.field, name)
            except BackendError as error:
                results[ref] = error
        return results

    def value_shapes(self, names: Sequence[str]) -> dict[str, ShapeResult]:
        def shape(name: str) -> ShapeResult:
            try:
                data = self._data(name)
            except BackendError as error:
                return error
            return None if data is None else shape_of(data)

        unique = list(dict.fromkeys(names))
        return dict(zip(unique, self._parallel(shape, unique), strict=True))

    def read_version(self, name: str, version: str) -> Secret:
        data = self._data(name, int(version))
        if data is None:
            raise NotFoundError(f"{name} has no version {version} in {self.describe()}")
        return _field_of(data, None, name)

    def read_previous(self, items: Sequence[tuple[str, str | None]]) -> list[Secret | None]:
        positions = [str(index) for index in range(len(items))]
        return self._parallel(lambda index: self._previous(*items[int(index)]), positions)

    def _previous(self, name: str, field: str | None) -> Secret | None:
        try:
            meta = self._metadata(name) or {}
            current = int(meta.get("current_version") or 0)
            data = self._data(name, current - 1) if current > 1 else None
            return None if data is None else _field_of(data, field, name)
        except BackendError:
            return None

    def _pending(self, name: str) -> dict[str, Any] | None:
        return self._data(name + PENDING_SUFFIX)

    def read_pending(self, name: str, token: str, field: str | None = None) -> Secret | None:
        staged = self._pending(name)
        if staged is None or staged.get("token") != token:
            return None
        return _field_of(staged.get("data") or {}, field, name)

    # --------------------------------------------------------------- writing

    def create(self, name: str, metadata: Mapping[str, str], value: Secret | None) -> None:
        existing = self._metadata(name)
        if existing is not None:
            custom = existing.get("custom_metadata") or {}
            if custom.get(META_MANAGED) != "true":
                raise ConflictError(
                    f"{name} already exists in {self.describe()} and is not managed by credctl",
                    hint="adopt it with 'credctl import'",
                )
            info = self._info(name, existing, None)
            if info.deleted:
                raise SecretDeletedError(
                    f"{name} exists in {self.describe()} but its current version is "
                    f"{'destroyed' if info.destroyed else 'deleted'}; credctl does not write "
                    "over it",
                    hint="'credctl sync --restore' brings it back, '--recreate' gives it a "
                    "new value",
                )
            if value is not None and not info.has_value:
                # an earlier create stopped after the metadata
                version = self._write(
                    name, {VALUE_FIELD: value.reveal()}, int(existing.get("current_version") or 0)
                )
                self.set_metadata(name, {META_VERSION: str(version)})
            return
        # metadata first: a crash after it leaves a managed secret without a value,
        # which the next create completes, never an unmanaged one
        recorded = dict(metadata)
        if value is not None and metadata.get(META_MANAGED) == "true":
            recorded[META_VERSION] = "1"  # written with cas=0 below: version 1 or nothing
        self._write_metadata(name, recorded)
        if value is not None:
            self._write(name, {VALUE_FIELD: value.reveal()}, 0)

    def set_metadata(
        self, name: str, updates: Mapping[str, str], remove: Collection[str] = ()
    ) -> None:
        existing = self._metadata(name)
        if existing is None:
            raise NotFoundError(f"{name} does not exist in {self.describe()}")
        # POST replaces the whole map: merge, so other tools' keys are kept
        merged = {k: str(v) for k, v in (existing.get("custom_metadata") or {}).items()}
        merged.update(updates)
        for key in remove:
            merged.pop(key, None)
        self._write_metadata(name, merged, existing.get("delete_version_after"))

    def put_pending(self, name: str, value: Secret, token: str, field: str | None = None) -> None:
        staged = self._pending(name)
        if staged is not None:
            if staged.get("token") == token:
                return
            raise RotationInProgressError(
                f"{name}: a rotation is already in progress (a pending value is staged)",
                hint="wait for it, or discard it with 'credctl rotate --abort'",
            )
        current, base = self._current(name)
        whole = _with_value(current, field, value, name, self.reference(name))
        record: dict[str, Any] = {"token": token, "data": whole, "base": base}
        if field is not None:
            record["field"] = field
        try:
            # `base`: the version this value replaces; promote writes with cas=base, so a
            # write by another tool in between makes the promote fail instead of being lost
            self._write(name + PENDING_SUFFIX, record, 0)
        except ConflictError:
            staged = self._pending(name)
            if staged is not None and staged.get("token") == token:
                return  # this run's own earlier attempt
            raise RotationInProgressError(
                f"{name}: a rotation is already in progress (another run staged a value first)",
                hint="wait for it, or discard it with 'credctl rotate --abort'",
            ) from None

    def promote(self, name: str, token: str, *, keep_pending: bool = False) -> str:
        staged = self._pending(name)
        meta = self._metadata(name)
        if meta is None:
            raise NotFoundError(f"{name} does not exist in {self.describe()}")
        custom = meta.get("custom_metadata") or {}
        current = int(meta.get("current_version") or 0)
        if staged is None or staged.get("token") != token:
            if custom.get(LAST_TOKEN) == token:
                return str(current)  # promoted already
            raise NotFoundError(f"{name} has no pending value for this rotation")
        new_data = staged.get("data") or {}
        recorded = staged.get("base")
        # a value staged before the base version was recorded: the version read now
        base = int(recorded) if isinstance(recorded, int | float) else current
        version = current
        if current != base:
            version = self._promoted_before(name, base, new_data)
        elif current == 0 or self._data(name) != new_data:
            try:
                version = self._write(name, new_data, base)
            except ConflictError:
                version = self._promoted_before(name, base, new_data)
        if custom.get(LAST_TOKEN) != token or custom.get(META_VERSION) != str(version):
            # the version credctl made current: another current one is another tool's
            self.set_metadata(name, {LAST_TOKEN: token, META_VERSION: str(version)})
        if not keep_pending:
            self._delete_pending(name)
        return str(version)

    def _promoted_before(self, name: str, base: int, new_data: Mapping[str, Any]) -> int:
        """The version after `base` when it holds the staged data (an earlier attempt wrote it).

        Anything else there was written by someone else since the value was staged:
        promoting over it would lose that write, so the pending value stays for a person.
        """
        if self._data(name, base + 1) == new_data:
            return base + 1
        raise ConflictError(
            f"environment {self.environment.name}: {name} was written by someone else after "
            f"version {base}, when the new value was staged; the new value was not promoted "
            "and is still pending",
            hint="find out which value the provider uses now before anything else: "
            "'--abort' destroys the pending one, so only abort if the provider does not use it",
        )

    def _current(self, name: str) -> tuple[dict[str, Any] | None, int]:
        """The KV data of the current version (None when absent or deleted) and its number."""
        try:
            answer = self._call(
                lambda c: c.secrets.kv.v2.read_secret_version(
                    path=name, mount_point=self.mount, raise_on_deleted_version=True
                ),
                f"data/{name}",
                "read",
            )
        except NotFoundError:
            meta = self._metadata(name) or {}
            return None, int(meta.get("current_version") or 0)
        data: dict[str, Any] | None = answer["data"]["data"]
        return data, int(answer["data"]["metadata"]["version"])

    def _delete_pending(self, name: str) -> None:
        path = name + PENDING_SUFFIX
        with contextlib.suppress(NotFoundError):
            self._call(
                lambda c: c.secrets.kv.v2.delete_metadata_and_all_versions(
                    path=path, mount_point=self.mount
                ),
                f"metadata/{path}",
                "delete",
            )

    def discard_pending(self, name: str, token: str | None = None) -> None:
        staged = self._pending(name)
        if staged is None or (token is not None and staged.get("token") != token):
            return
        self._delete_pending(name)

    def restore(self, name: str) -> None:
        meta = self._metadata(name)
        if meta is None:
            raise NotFoundError(f"{name} does not exist in {self.describe()}")
        info = self._info(name, meta, None)
        if not info.deleted:
            return
        version = info.current_version
        if info.destroyed:
            raise SecretDeletedError(
                f"{name}: version {version} in {self.describe()} is destroyed; its value "
                "cannot be restored",
                hint="give it a new value with 'credctl sync --recreate'",
            )
        self._call(
            lambda c: c.secrets.kv.v2.undelete_secret_versions(
                versions=[int(version or 0)], path=name, mount_point=self.mount
            ),
            f"undelete/{name}",
            "update",
        )

    def schedule_delete(self, name: str) -> str:
        meta = self._metadata(name)
        if meta is None:
            raise NotFoundError(f"{name} does not exist in {self.describe()}")
        self._call(
            lambda c: c.secrets.kv.v2.delete_latest_version_of_secret(
                path=name, mount_point=self.mount
            ),
            f"data/{name}",
            "delete",
        )
        version = meta.get("current_version")
        return (
            f"{name} version {version} is soft-deleted; undo with: "
            f"bao kv undelete -mount={self.mount} -versions={version} {name}"
        )


def _field_of(data: Mapping[str, Any], field: str | None, name: str) -> Secret:
    """The value a row reads from KV data: its field (`#password`, `#db.password`, or one
    of a JSON object kept in `value`), or without a field the secret's one value."""
    if field is None:
        shape = shape_of(data)
        if shape.kind == "text" or (shape.kind == "json" and set(data) == {VALUE_FIELD}):
            return Secret(as_text(data[VALUE_FIELD]))
        if shape.whole_field is None:
            raise ShapeError(
                f"{name} holds several fields; reference one with #field "
                f"({', '.join(shape.fields)})"
            )
        return Secret(as_text(data[shape.whole_field]))
    try:
        return Secret(as_text(select(data, field, name)))
    except NotFoundError:
        inner = data.get(VALUE_FIELD)
        if isinstance(inner, str):  # a JSON object kept in the `value` field
            return Secret(select_text(inner, field, name))
        raise


def _with_value(
    data: Mapping[str, Any] | None, field: str | None, value: Secret, name: str, reference: str
) -> dict[str, Any]:
    """The KV data after a write of one row: its field set, every other field kept;
    ShapeError, before anything is written, for a write that would damage the data."""
    current = dict(data or {})
    if not current:
        return with_field({}, field or VALUE_FIELD, value.reveal(), name)
    shape = shape_of(current)
    check_write(shape, field, reference, reference)
    if field is None:
        return {**current, shape.whole_field or VALUE_FIELD: value.reveal()}
    if shape.kind == "json" and set(current) == {VALUE_FIELD}:
        return {VALUE_FIELD: replace_in_text(current[VALUE_FIELD], field, value.reveal(), name)}
    return with_field(current, field, value.reveal(), name)


def _time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    return _stamp(text)


def _stamp(text: str | None) -> datetime | None:
    """A Vault time (RFC 3339, nanoseconds: 2026-11-24T05:12:01.123456789Z) in UTC, to the
    microsecond Python keeps; None when empty or not a time. Four a secret in a listing."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
