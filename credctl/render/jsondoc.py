"""The JSON documents of audit and status: the stable contract CI jobs parse."""

from __future__ import annotations

import json
from collections.abc import Iterator
from json.encoder import encode_basestring_ascii
from typing import Any

from credctl.audit import AuditReport, CredentialStatus
from credctl.forecast import forecast
from credctl.render import RenderOptions
from credctl.render.common import day
from credctl.results import SCHEMA_VERSION
from credctl.schedule import format_timestamp


def credential_json(status: CredentialStatus) -> dict[str, Any]:
    row = status.credential
    return {
        "id": status.id,
        "environment": row.environment,
        "service": row.service,
        "credential_type": row.credential_type,
        "owner": row.owner or None,
        "reference": status.reference if status.secret else None,
        "env_var": status.env_var,
        "last_rotated": format_timestamp(status.last_rotated) if status.last_rotated else None,
        "rotated_by": status.rotated_by,
        "age_days": status.age_days,
        "max_age_days": status.max_age_days,
        "due_on": day(status.due_on) or None,
        "expires_on": day(status.expires_on) or None,
        "status": status.status,
        "file": row.file,
        "line": row.line,
        "findings": [finding.as_json() for finding in status.findings],
    }


def audit_json(report: AuditReport) -> Iterator[str]:
    """The audit document, streamed in chunks: 10,000 credentials never sit in memory twice."""
    return _stream_json(report, with_findings=True)


def status_json(report: AuditReport, *, with_forecast: bool = False) -> Iterator[str]:
    return _stream_json(report, with_findings=False, with_forecast=with_forecast)


def indented(value: Any, pad: str = "") -> str:
    """What `json.JSONEncoder(indent=2).encode(value)` writes, `pad` before each inner line,
    with every scalar through the C encoder: the indenting encoder is pure Python, and
    10,000 credentials took most of a report's time in it."""
    if isinstance(value, dict) and value:
        inner = pad + "  "
        parts = []
        for key, item in value.items():
            name = _KEYS.get(key)
            if name is None:
                name = _KEYS.setdefault(key, f"{_scalar(str(key))}: ")
            # the common scalars inline: this runs for every key of every credential
            if type(item) is str:
                text = encode_basestring_ascii(item)
            elif item is None:
                text = "null"
            elif type(item) is int:
                text = int.__repr__(item)
            else:
                text = indented(item, inner)
            parts.append(inner + name + text)
        return "{\n" + ",\n".join(parts) + f"\n{pad}}}"
    if isinstance(value, list | tuple) and value:
        inner = pad + "  "
        return "[\n" + ",\n".join(inner + indented(v, inner) for v in value) + f"\n{pad}]"
    return _scalar(value)


_encode = json.JSONEncoder().encode
_KEYS: dict[object, str] = {}  # a key as written, with its ": " (a report has a few dozen)
_LITERALS = {None: "null", True: "true", False: "false"}


def _scalar(value: Any) -> str:
    """One value as the encoder writes it: strings and the literals at once, the rest
    (numbers, `{}`, `[]`) through the encoder itself."""
    if isinstance(value, str):
        return encode_basestring_ascii(value)
    if value is None or isinstance(value, bool):
        return _LITERALS[value]
    if type(value) is int:
        return int.__repr__(value)
    return _encode(value)


def _stream_json(
    report: AuditReport, *, with_findings: bool, with_forecast: bool = False
) -> Iterator[str]:
    encoder = json.JSONEncoder(indent=2)
    generated_at = json.dumps(format_timestamp(report.generated_at))
    as_of = json.dumps(format_timestamp(report.evaluated_at))
    yield (
        f'{{\n  "schema_version": {SCHEMA_VERSION},\n  "generated_at": {generated_at},'
        f'\n  "as_of": {as_of},\n  "credentials": ['
    )
    for index, status in enumerate(report.credentials):
        yield ("," if index else "") + "\n    " + indented(credential_json(status), "    ")
    yield "\n  ]" if report.credentials else "]"
    if with_findings:
        yield ',\n  "findings": ['
        for index, finding in enumerate(report.findings):
            yield ("," if index else "") + "\n    " + indented(finding.as_json(), "    ")
        yield "\n  ]" if report.findings else "]"
    if with_forecast:
        predicted = encoder.encode(forecast(report).as_json()).replace("\n", "\n  ")
        yield f',\n  "forecast": {predicted}'
    summary = encoder.encode(report.summary()).replace("\n", "\n  ")
    evidence = encoder.encode(report.evidence()).replace("\n", "\n  ")
    yield f',\n  "summary": {summary},\n  "evidence": {evidence}\n}}\n'


def render(report: AuditReport, options: RenderOptions) -> Iterator[str]:
    if options.command == "audit":
        return audit_json(report)
    return status_json(report, with_forecast=options.forecast)
