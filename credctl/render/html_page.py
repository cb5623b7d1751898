"""The credential status report as one self-contained HTML page.

No external scripts, fonts, styles or images: inline CSS and an inline SVG
chart of each credential's age against its maximum age. Status colours come
from a colour-blind-safe palette (Okabe-Ito) and every status is also written
as text. The page prints cleanly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from html import escape

from credctl import __version__
from credctl.audit import AuditReport, CredentialStatus
from credctl.forecast import forecast
from credctl.render import RenderOptions
from credctl.render.common import group_key
from credctl.render.forecast import forecast_html
from credctl.schedule import format_timestamp

COLOURS = {
    "ok": "#009E73",
    "due-soon": "#E69F00",
    "overdue": "#D55E00",
    "never-rotated": "#0072B2",
    "missing": "#CC79A7",
    "deleted": "#000000",
    "unknown": "#777777",
    "config": "#999999",
}
ORDER = ["overdue", "due-soon", "never-rotated", "missing", "deleted", "unknown", "ok"]
CHART_LIMIT = 300  # bars drawn; beyond that the chart shows the oldest ones

CSS = """
:root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
body { margin: 2rem auto; max-width: 72rem; padding: 0 1.5rem; color: #1b1b1b; background: #fff; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.15rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: .3rem; }
.meta { color: #555; font-size: .9rem; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; margin-top: 1.2rem; }
.card { border: 1px solid #ddd; border-left: .45rem solid var(--c); border-radius: .4rem;
        padding: .6rem 1rem; min-width: 8rem; }
.card .n { font-size: 1.7rem; font-weight: 650; }
.card .l { font-size: .85rem; color: #444; }
table { border-collapse: collapse; width: 100%; font-size: .88rem; margin-top: .6rem; }
th, td { text-align: left; padding: .35rem .55rem; border-bottom: 1px solid #eee; vertical-align: top; }
th { background: #f6f6f6; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 1rem; color: #fff;
         font-size: .78rem; font-weight: 600; white-space: nowrap; }
.badge.due-soon { color: #1b1b1b; }
.split { display: grid; grid-template-columns: 1fr 1fr; gap: 2rem; }
svg text { font-size: 11px; fill: #1b1b1b; }
.legend span { display: inline-flex; align-items: center; margin-right: 1rem; font-size: .85rem; }
.legend i { width: .8rem; height: .8rem; border-radius: .15rem; margin-right: .3rem; background: var(--c); }
.note { color: #555; font-size: .85rem; }
code { font-size: .85em; }
@media (max-width: 800px) { .split { grid-template-columns: 1fr; } }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; }
               tr, .card { break-inside: avoid; } .badge { border: 1px solid #000; } }
"""


def render(report: AuditReport, options: RenderOptions) -> str:
    return html(report, by=options.by, with_forecast=options.forecast)


def html(
    report: AuditReport,
    *,
    title: str = "Credential status",
    by: str | None = None,
    with_forecast: bool = False,
) -> str:
    secrets = [c for c in report.credentials if c.secret]
    counts: Counter[str] = Counter(c.status for c in secrets)
    as_of = (
        f" &middot; <strong>as of {escape(format_timestamp(report.as_of))}</strong>"
        if report.as_of is not None
        else ""
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">Generated {escape(format_timestamp(report.generated_at))} by credctl '
        f"{escape(__version__)}{as_of} &middot; {len(report.credentials)} credentials, "
        f"{len(secrets)} secrets &middot; findings: {report.summary()['error']} errors, "
        f"{report.summary()['warning']} warnings</p>",
        '<section id="summary" class="cards">',
    ]
    for status in ORDER:
        parts.append(
            f'<div class="card" style="--c:{COLOURS[status]}" data-status="{status}">'
            f'<div class="n">{counts.get(status, 0)}</div><div class="l">{status}</div></div>'
        )
    parts.append("</section>")
    parts.append("<h2>Age against maximum age</h2>")
    parts.append(_legend(any(c.expires_on is not None for c in secrets)))
    parts.append(_chart(secrets, report.evaluated_at))
    parts.append('<div class="split">')
    parts.append(
        _counts_table("By owner", "by-owner", secrets, lambda c: c.credential.owner or "(no owner)")
    )
    parts.append(
        _counts_table(
            "By environment", "by-environment", secrets, lambda c: c.credential.environment
        )
    )
    parts.append("</div>")
    if with_forecast:
        parts.append(forecast_html(forecast(report)))
    parts.append(_credentials_table(report.credentials, by))
    if report.findings:
        parts.append(
            '<h2>Findings</h2><table id="findings"><thead><tr><th>Severity</th>'
            "<th>Code</th><th>Where</th><th>Message</th></tr></thead><tbody>"
        )
        for finding in report.findings:
            where = (
                f"{finding.file}:{finding.line}"
                if finding.file and finding.line
                else (finding.file or "")
            )
            parts.append(
                f"<tr><td>{escape(finding.severity)}</td><td><code>{escape(finding.code)}</code></td>"
                f"<td>{escape(where)}</td><td>{escape(finding.message)}</td></tr>"
            )
        parts.append("</tbody></table>")
    parts.append(_evidence(report))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _legend(expiries: bool) -> str:
    items = "".join(f'<span><i style="--c:{COLOURS[s]}"></i>{s}</span>' for s in ORDER)
    expiry = "<span>&#x25C6; = the provider's expiry</span>" if expiries else ""
    return f'<p class="legend">{items}<span>&#x2502; = maximum age</span>{expiry}</p>'


def _ratio(status: CredentialStatus) -> float:
    if status.age_days is None or not status.max_age_days:
        return 0.0
    return status.age_days / status.max_age_days


def _expiry_ratio(status: CredentialStatus, now: datetime) -> float | None:
    """Where its expiry falls on its bar: days from its last rotation to the expiry, as a
    share of its maximum age (None: no expiry, or no age to draw it against)."""
    if status.expires_on is None or status.age_days is None or not status.max_age_days:
        return None
    return max(0.0, (status.age_days + (status.expires_on - now).days) / status.max_age_days)


def _urgency(status: CredentialStatus, now: datetime) -> float:
    """How close it is to its due date (its expiry weighed), as a share of its maximum age:
    its age ratio when its schedule sets the date. The chart draws the closest first."""
    if status.due_on is None or not status.max_age_days:
        return _ratio(status)
    return max(_ratio(status), 1 - (status.due_on - now).days / status.max_age_days)


def _chart(secrets: list[CredentialStatus], now: datetime) -> str:
    """Horizontal bars: age as a share of maximum age, the limit marked at 100 %, and a
    diamond where a credential's expiry falls."""
    ranked = sorted(secrets, key=lambda c: (-_urgency(c, now), c.id))[:CHART_LIMIT]
    label_width, bar_width, row_height = 260, 560, 20
    top, scale_max = 24, max(1.5, min(3.0, max((_ratio(c) for c in ranked), default=1.0)))
    height = top + row_height * len(ranked) + 10
    width = label_width + bar_width + 90
    limit_x = label_width + bar_width / scale_max
    out = [
        f'<svg id="age-chart" role="img" aria-label="Age of each credential against its maximum age" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{label_width}" y="14">0</text>',
        f'<text x="{limit_x - 40:.1f}" y="14">max age</text>',
    ]
    for index, status in enumerate(ranked):
        y = top + index * row_height
        ratio = _ratio(status)
        length = min(ratio, scale_max) / scale_max * bar_width
        colour = COLOURS.get(status.status, COLOURS["unknown"])
        age = (
            "no age"
            if status.age_days is None
            else f"{status.age_days} / {status.max_age_days or '∞'} days"
        )
        if status.expires_on is not None:
            age += f", expires {status.expires_on:%Y-%m-%d}"
        out.append(
            f'<text x="{label_width - 8}" y="{y + 14}" text-anchor="end">{escape(status.id)}</text>'
            f'<rect class="bar" data-status="{status.status}" x="{label_width}" y="{y + 3}" '
            f'width="{max(length, 1.5):.1f}" height="{row_height - 6}" rx="2" fill="{colour}">'
            f"<title>{escape(status.id)}: {escape(status.status)}, {escape(age)}</title></rect>"
            f'<text x="{label_width + max(length, 1.5) + 6:.1f}" y="{y + 14}">{escape(age)}</text>'
        )
        expiry = _expiry_ratio(status, now)
        if expiry is not None and status.expires_on is not None:
            x = label_width + min(expiry, scale_max) / scale_max * bar_width
            out.append(
                f'<path class="expiry" d="M{x:.1f} {y + 2}l5 7l-5 7l-5 -7z" fill="#1b1b1b">'
                f"<title>{escape(status.id)}: expires {status.expires_on:%Y-%m-%d}</title></path>"
            )
    out.append(
        f'<line x1="{limit_x:.1f}" y1="{top - 4}" x2="{limit_x:.1f}" y2="{height - 6}" '
        'stroke="#1b1b1b" stroke-width="1.5" stroke-dasharray="4 3"/>'
    )
    out.append("</svg>")
    if len(secrets) > CHART_LIMIT:
        out.append(
            f'<p class="note">The {CHART_LIMIT} credentials closest to or past their maximum age are drawn; the table lists all {len(secrets)}.</p>'
        )
    return "".join(out)


def _counts_table(
    title: str,
    element_id: str,
    secrets: list[CredentialStatus],
    key: Callable[[CredentialStatus], str],
) -> str:
    groups: dict[str, Counter[str]] = {}
    for status in secrets:
        groups.setdefault(key(status), Counter())[status.status] += 1
    rows = []
    for name, counts in sorted(
        groups.items(), key=lambda item: (-item[1]["overdue"], -item[1]["due-soon"], item[0])
    ):
        rows.append(
            f"<tr><td>{escape(name)}</td><td class=num>{sum(counts.values())}</td>"
            f"<td class=num>{counts['overdue']}</td><td class=num>{counts['due-soon']}</td>"
            f"<td class=num>{counts['never-rotated']}</td></tr>"
        )
    return (
        f'<section><h2>{escape(title)}</h2><table id="{element_id}"><thead><tr><th></th>'
        "<th class=num>Total</th><th class=num>Overdue</th><th class=num>Due soon</th>"
        "<th class=num>Never rotated</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></section>"
    )


def _badge(status: str) -> str:
    colour = COLOURS.get(status, COLOURS["unknown"])
    return (
        f'<span class="badge {escape(status)}" style="background:{colour}">{escape(status)}</span>'
    )


def _credentials_table(credentials: list[CredentialStatus], by: str | None) -> str:
    group_of = group_key(by)
    expires = any(status.expires_on is not None for status in credentials)
    expires_header = "<th>Expires</th>" if expires else ""

    groups: dict[str, list[CredentialStatus]] = {}
    for status in credentials:
        groups.setdefault(group_of(status), []).append(status)
    out = ["<h2>Credentials</h2>"]
    for name in sorted(groups):
        if by:
            out.append(f"<h3>{escape(by)}: {escape(name)}</h3>")
        out.append(
            '<table class="credentials"><thead><tr><th>Credential</th><th>Owner</th><th>Status</th>'
            "<th>Last rotated</th><th>Rotated by</th><th class=num>Age</th><th class=num>Max age</th>"
            f"{expires_header}<th>Due</th><th>Table</th></tr></thead><tbody>"
        )
        for status in groups[name]:
            label = status.status if status.secret else "config"
            out.append(
                f'<tr data-status="{escape(label)}"><td>{escape(status.id)}</td>'
                f"<td>{escape(status.credential.owner or '—')}</td><td>{_badge(label)}</td>"
                f"<td>{status.last_rotated.strftime('%Y-%m-%d') if status.last_rotated else ('never' if status.secret else '')}</td>"
                f"<td>{escape(status.rotated_by or '')}</td>"
                f"<td class=num>{'' if status.age_days is None else status.age_days}</td>"
                f"<td class=num>{'' if status.max_age_days is None else status.max_age_days}</td>"
                + (f"<td>{_day(status.expires_on)}</td>" if expires else "")
                + f"<td>{status.due_on.strftime('%Y-%m-%d') if status.due_on else ''}</td>"
                f"<td>{escape(status.credential.file)}:{status.credential.line}</td></tr>"
            )
        out.append("</tbody></table>")
    return "".join(out)


def _day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment is not None else ""


def _evidence(report: AuditReport) -> str:
    """What produced the page, from which inputs, over which population (for an auditor)."""
    evidence = report.evidence()
    rows = "".join(
        f"<tr><td>{escape(share.environment)}</td><td>{escape(share.store)}</td>"
        f"<td class=num>{share.listed}</td><td class=num>{share.matched}</td>"
        f"<td class=num>{share.orphans}</td><td class=num>{share.unmanaged}</td>"
        f"<td class=num>{share.deleted}</td><td class=num>{share.rows}</td>"
        f"<td>{'yes' if share.reconciles else 'NO'}</td></tr>"
        for share in report.population
    )
    return (
        '<h2>Evidence</h2><p class="note">credctl '
        f"{escape(evidence['version'])}, as of {escape(evidence['as_of'])}; inputs SHA-256 "
        f"<code>{escape(evidence['inputs_sha256'])}</code> ({len(report.inputs)} files)</p>"
        '<table id="population"><thead><tr><th>Environment</th><th>Store</th>'
        "<th class=num>Listed</th><th class=num>Named by rows</th><th class=num>Orphans</th>"
        "<th class=num>Unmanaged</th><th class=num>Deleted</th><th class=num>Rows</th>"
        f"<th>Reconciles</th></tr></thead><tbody>{rows}</tbody></table>"
    )
