"""Expiry dates the provider sets: a certificate's `notAfter`, or a date a person gives.

A value that holds PEM certificates (one, a chain, or a bundle with its key) expires
when the first of them does: the earliest `notAfter` of every certificate in it, as a
chain stops working when any link does. Any other value's expiry is only known when a
person gives it (`credctl set ID --expires DATE`, or the table's `Expires` column).
credctl records it in the store's metadata (`credctl:expires`, per row), never reads a
value to audit it, and reports `expires-soon` and `expired` from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from credctl.findings import fix_for
from credctl.model import META_EXPIRES, SecretInfo, Severity, Status, row_key
from credctl.schedule import format_timestamp, parse_instant
from credctl.secret import Secret

if TYPE_CHECKING:  # credential.py parses Expires cells with this module
    from credctl.credential import Credential

_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.DOTALL
)


def parse_expiry(text: str) -> datetime | None:
    """An Expires cell or `--expires` value: an ISO date (that day, 00:00 UTC) or date-time;
    None when empty. ValueError naming the text otherwise."""
    cleaned = text.strip()
    if not cleaned:
        return None
    return parse_instant(
        cleaned,
        f"invalid expiry date {cleaned!r} (use an ISO date such as 2027-03-31, or a "
        "date-time such as 2027-03-31T12:00:00Z)",
    )


def certificate_expiry(value: Secret) -> datetime | None:
    """The earliest `notAfter` of the PEM certificates in a value; None when it holds none
    (or none that parses: then it is no certificate credctl can date)."""
    raw = value.reveal().encode("utf-8", "surrogateescape")
    blocks = _PEM_CERTIFICATE.findall(raw)
    if not blocks:
        return None
    from cryptography import x509  # only when a value holds a certificate

    moments = []
    for block in blocks:
        try:
            certificate = x509.load_pem_x509_certificate(block)
        except ValueError:
            continue
        moments.append(certificate.not_valid_after_utc)
    return min(moments, default=None)


@dataclass(frozen=True)
class Expiry:
    """What a stored value's expiry is, and where it came from (for messages)."""

    on: datetime | None
    source: str  # "given", "certificate" or "none"

    @classmethod
    def of(cls, value: Secret | None, given: datetime | None = None) -> Expiry:
        """A new value's expiry: the date given, else its certificates', else none."""
        if given is not None:
            return cls(given, "given")
        found = certificate_expiry(value) if value is not None else None
        return cls(found, "certificate") if found is not None else cls(None, "none")

    def metadata(self, field: str | None) -> dict[str, str]:
        """The metadata to write for a row on `field` (none when the value has no expiry)."""
        if self.on is None:
            return {}
        return {row_key(META_EXPIRES, field): format_timestamp(self.on)}

    def stale(self, info: SecretInfo | None, field: str | None) -> list[str]:
        """The recorded expiry to remove: the old value's, when the new one has none."""
        key = row_key(META_EXPIRES, field)
        if self.on is not None or info is None or key not in info.metadata:
            return []
        return [key]

    def cell(self) -> str:
        """The table's Expires cell for it (empty: none known)."""
        return _day(self.on) if self.on is not None else ""


def expiry_state(expires_on: datetime, warn_before: timedelta, now: datetime) -> str | None:
    """`expired`, `expires-soon` (within the warning window) or None."""
    if now >= expires_on:
        return "expired"
    if now >= expires_on - warn_before:
        return "expires-soon"
    return None


def expiry_sync(
    credential: Credential, info: SecretInfo | None, table_has_column: bool
) -> tuple[dict[str, str], dict[str, str]]:
    """What sync does about a row's expiry: (metadata for the store, cells for the table).

    The table's Expires cell, when given, is what the store records (people give dates
    there, as they give owners); an empty cell gets the store's date written back. Dates
    are compared by day, as the cell holds one. An external row's secret gets none of
    credctl's metadata beyond the record of a rotation.
    """
    recorded = info.expires_on if info is not None else None
    given = credential.expires_on
    if given is not None:
        if credential.external or (recorded is not None and _day(recorded) == _day(given)):
            return {}, {}
        return {row_key(META_EXPIRES, credential.field): format_timestamp(given)}, {}
    if recorded is not None and table_has_column:
        return {}, {"expires": _day(recorded)}
    return {}, {}


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def effective_expiry(credential: Credential, info: SecretInfo | None) -> datetime | None:
    """A row's expiry: the table's Expires cell when given (what sync makes the store say;
    the store's own moment when it falls on that day), else the store's record."""
    recorded = info.expires_on if info is not None else None
    given = credential.expires_on
    if given is None or (recorded is not None and _day(recorded) == _day(given)):
        return recorded
    return given


def expiry_finding(
    credential: Credential, expires_on: datetime | None, warn_before: timedelta, now: datetime
) -> tuple[str, Severity, str] | None:
    """`expired` (error) or `expires-soon` (warning), with its message and its fix."""
    if expires_on is None:
        return None
    state = expiry_state(expires_on, warn_before, now)
    if state is None:
        return None
    fix = renewal(credential)
    if state == "expired":
        return "expired", "error", f"{credential.id}: expired on {_day(expires_on)} ({fix})"
    left = (expires_on.date() - now.date()).days  # calendar days, as the date reads
    within = f"in {left} days" if left > 1 else ("tomorrow" if left == 1 else "today")
    return (
        "expires-soon",
        "warning",
        f"{credential.id}: expires on {_day(expires_on)}, {within} ({fix})",
    )


def renewal(credential: Credential) -> str:
    """How an expiring credential gets a new value and a new expiry, as a message says it:
    `credctl rotate ID` where credctl makes or obtains the value; where a person renews it
    at the provider, `credctl set ID --expires DATE` with the new value on stdin."""
    where = f"{credential.file}:{credential.line}"
    person = credential.person_rotates
    command = fix_for("expired", credential.id, credential.environment, where, person=person)
    if person:
        return f"renew it at its provider, then '{command}' with the new value"
    return f"'{command}'"


def escalated(status: Status, severity: Severity) -> Status:
    """A row's status once a finding that makes it due is weighed (an expiry, a team
    change): an error makes it overdue, a warning due soon."""
    if severity == "error":
        return "overdue"
    if status in ("ok", "never-rotated", "unknown"):
        return "due-soon"
    return status
