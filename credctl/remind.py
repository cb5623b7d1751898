"""`credctl remind`: one digest per owner of what needs doing, delivered where owners.yaml
says (Markdown on stdout or in files, Slack, Microsoft Teams, a generic JSON webhook).

A digest lists each credential, what is wrong, when it is due and the command that
fixes it — never a value. Each delivery is retried with backoff; one that fails is
reported (exit 3) and the other owners still get theirs. `--only-new` sends a finding
again only when its severity rose or after `repeat_after`, keeping what was sent in
a small state file (`.credctl/remind-state.json`, or `--state PATH` for a CI cache).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from credctl import clock
from credctl.audit import AuditReport
from credctl.backends.calls import with_retry
from credctl.errors import BackendError, CredctlError, UsageError
from credctl.findings import REMINDED, fix_for
from credctl.fsutil import write_atomic
from credctl.model import slugify
from credctl.owners import Channel, OwnersFile
from credctl.render import Styler
from credctl.render.columns import text_table
from credctl.results import Result
from credctl.schedule import format_timestamp, parse_timestamp

STATE_FILE = Path(".credctl") / "remind-state.json"
SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}
NO_OWNER = "(no owner)"


@dataclass(frozen=True)
class Item:
    """One thing an owner should do: which credential, what is wrong, the fix."""

    credential_id: str
    environment: str
    code: str
    severity: str
    message: str
    due_on: str | None
    fix: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.credential_id,
            "environment": self.environment,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "due_on": self.due_on,
            "fix": self.fix,
        }


@dataclass
class Digest:
    """Everything one owner should do, and whether it reached them."""

    owner: str
    channel: str
    items: list[Item]
    delivered: bool = False
    error: str | None = None

    def markdown(self) -> str:
        lines = [
            f"## Credentials of {self.owner}: {len(self.items)} to act on",
            "",
            "| Credential | What | Due | Fix |",
            "|---|---|---|---|",
        ]
        for item in self.items:
            lines.append(
                f"| {item.credential_id} | {item.severity} {item.code}: {_cell(item.message)} "
                f"| {item.due_on or ''} | `{_cell(item.fix)}` |"
            )
        return "\n".join(lines) + "\n"

    def as_json(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "channel": self.channel,
            "delivered": self.delivered,
            "error": self.error,
            "items": [item.as_json() for item in self.items],
        }


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


@dataclass
class Reminders(Result):
    """The digests of one run: sent (or, with --dry-run, what would be sent)."""

    digests: list[Digest]
    dry_run: bool
    stdout: list[str] = field(default_factory=list)  # Markdown digests for standard output

    def as_json(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "digests": [d.as_json() for d in self.digests]}

    def as_text(self, style: Styler) -> str:
        if self.dry_run:
            return "\n".join(digest.markdown() for digest in self.digests)
        shown = "\n".join(self.stdout)
        rows = [
            [d.owner, d.channel, str(len(d.items)), "sent" if d.delivered else "FAILED"]
            for d in self.digests
            if d.channel != "stdout"
        ]
        table = text_table(["OWNER", "CHANNEL", "ITEMS", "DELIVERY"], rows) if rows else ""
        return shown + ("\n" if shown and table else "") + table

    def notes(self) -> list[str]:
        if not self.digests:
            return ["Nothing to remind anyone of."]
        failed = [d for d in self.digests if d.error]
        return [f"{d.owner}: not delivered ({d.error})" for d in failed]

    def failure(self, fmt: str) -> CredctlError | None:
        failed = [d.owner for d in self.digests if d.error]
        if not failed:
            return None
        return BackendError(
            f"{len(failed)} of {len(self.digests)} digests were not delivered: {', '.join(failed)}",
            hint="the others were; check the channel in owners.yaml and run credctl remind again",
        )


def digests(report: AuditReport, owners: OwnersFile) -> list[Digest]:
    """The findings of a report that someone should act on, grouped by owner."""
    by_owner: dict[str, list[Item]] = {}
    for status in report.credentials:
        credential = status.credential
        for finding in status.findings:
            if finding.code not in REMINDED:
                continue
            owner = credential.owner or NO_OWNER
            where = f"{finding.file}:{finding.line}"
            by_owner.setdefault(owner, []).append(
                Item(
                    credential.id,
                    credential.environment,
                    finding.code,
                    finding.severity,
                    finding.message,
                    status.due_on.strftime("%Y-%m-%d") if status.due_on else None,
                    fix_for(
                        finding.code,
                        credential.id,
                        credential.environment,
                        where,
                        person=credential.person_rotates,
                    ),
                )
            )
    return [
        Digest(owner, owners.channel(owner).kind, items)
        for owner, items in sorted(by_owner.items())
    ]


def remind(
    report: AuditReport,
    owners: OwnersFile,
    root: Path,
    *,
    dry_run: bool = False,
    only_new: bool = False,
    state_path: Path | None = None,
    post: Callable[[str, bytes], None] | None = None,
) -> Reminders:
    """Build each owner's digest and deliver it (unless a dry run)."""
    state_file = state_path or root / STATE_FILE
    sent = _load_state(state_file) if only_new else {}
    now = clock.now()
    chosen = []
    for digest in digests(report, owners):
        if only_new:
            digest.items = [
                item for item in digest.items if _due(item, digest.owner, sent, owners, now)
            ]
        if digest.items:
            chosen.append(digest)
    result = Reminders(chosen, dry_run)
    if dry_run:
        return result
    for digest in chosen:
        channel = owners.channel(digest.owner)
        try:
            _deliver(digest, channel, root, owners, result, post or _post)
        except CredctlError as error:
            digest.error = str(error)
            continue
        digest.delivered = True
        for item in digest.items:
            sent[_key(digest.owner, item)] = {
                "severity": item.severity,
                "sent": format_timestamp(now),
            }
    if only_new or state_path is not None:
        _save_state(state_file, sent)
    return result


def _deliver(
    digest: Digest,
    channel: Channel,
    root: Path,
    owners: OwnersFile,
    result: Reminders,
    post: Callable[[str, bytes], None],
) -> None:
    if channel.markdown is not None:
        if channel.markdown == "-":
            digest.channel = "stdout"
            result.stdout.append(digest.markdown())
            return
        folder = root / channel.markdown
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / f"{slugify(digest.owner) or 'no-owner'}.md", digest.markdown(), 0o644)
        return
    endpoint = channel.slack or channel.teams or channel.webhook
    assert endpoint is not None
    body = _body(digest, channel)
    url = endpoint.address(digest.owner)
    with_retry(
        lambda: post(url, body),
        owners.retry,
        is_retryable=lambda error: isinstance(error, _Retryable),
        exhausted=lambda error, attempts: BackendError(f"{error} after {attempts} attempts"),
    )


def _body(digest: Digest, channel: Channel) -> bytes:
    """What the channel expects: Slack's and Teams' incoming-webhook JSON, or the digest."""
    text = digest.markdown()
    if channel.slack is not None:
        document: dict[str, Any] = {"text": text}
    elif channel.teams is not None:
        document = {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "text": text,
        }
    else:
        document = {"schema_version": 1, **digest.as_json()}
    return json.dumps(document).encode("utf-8")


class _Retryable(BackendError):
    """A delivery worth trying again: the server was down or said so (5xx, 429)."""


def _post(url: str, body: bytes) -> None:
    """POST the JSON body; errors name the status, never the address (it is a secret)."""
    request = urllib.request.Request(  # noqa: S310 - the owner's configured http(s) webhook
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:  # noqa: S310
            answer.read()
    except urllib.error.HTTPError as error:
        if error.code >= 500 or error.code == 429:
            raise _Retryable(f"the webhook answered {error.code}") from None
        raise BackendError(f"the webhook refused the digest ({error.code})") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", None) or type(error).__name__
        raise _Retryable(f"the webhook could not be reached ({reason})") from None


def _key(owner: str, item: Item) -> str:
    return f"{owner}|{item.credential_id}|{item.code}"


def _due(
    item: Item, owner: str, sent: dict[str, dict[str, str]], owners: OwnersFile, now: datetime
) -> bool:
    """Whether `--only-new` sends it: never sent, more severe now, or sent long enough ago."""
    before = sent.get(_key(owner, item))
    if before is None:
        return True
    if SEVERITY_RANK[item.severity] > SEVERITY_RANK.get(before.get("severity", "info"), 0):
        return True
    when = parse_timestamp(before.get("sent", "")) if before.get("sent") else None
    return when is None or now - when >= owners.repeat_after


def _load_state(path: Path) -> dict[str, dict[str, str]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        raise UsageError(
            f"cannot read the reminder state {path}",
            hint=f"remove it (reminders are then sent again): rm {path}",
        ) from None
    sent = document.get("sent") if isinstance(document, dict) else None
    return sent if isinstance(sent, dict) else {}


def _save_state(path: Path, sent: dict[str, dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps({"schema_version": 1, "sent": sent}, indent=1) + "\n", 0o600)
