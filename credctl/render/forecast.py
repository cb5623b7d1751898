"""The forecast section of `status --forecast`: what falls due in the next 30, 60 and 90
days, per owner, for the terminal, Markdown and the HTML page (JSON: `jsondoc`)."""

from __future__ import annotations

from html import escape

from credctl.forecast import WINDOWS, Due, Forecast, OwnerForecast
from credctl.render import Styler, plain
from credctl.render.columns import text_table
from credctl.render.common import md_escape

COUNT_HEADERS = ("OWNER", "OVERDUE", *(f"{days} DAYS" for days in WINDOWS))
ITEM_HEADERS = ("OWNER", "CREDENTIAL", "DUE", "IN", "SET BY")


def heading(forecast: Forecast) -> str:
    windows = ", ".join(str(days) for days in WINDOWS[:-1]) + f" and {WINDOWS[-1]}"
    return (
        f"Forecast from {forecast.as_of:%Y-%m-%d}: due within {windows} days "
        "(each window includes the shorter ones)"
    )


def _counts(owner: OwnerForecast) -> list[str]:
    return [owner.owner, str(owner.overdue), *(str(owner.within(days)) for days in WINDOWS)]


def _when(item: Due) -> str:
    if item.overdue:
        return "overdue"
    if item.days < 0:
        return "due now"
    if item.days == 0:
        return "today"
    return "1 day" if item.days == 1 else f"{item.days} days"


def _items(forecast: Forecast) -> list[list[str]]:
    return [
        [item.owner, item.credential_id, f"{item.due_on:%Y-%m-%d}", _when(item), item.reason]
        for owner in forecast.owners
        for item in owner.items
    ]


def forecast_text(forecast: Forecast, style: Styler = plain) -> str:
    """Counts per owner (and all), then each credential due, soonest first per owner."""
    if not forecast.owners:
        return f"\n{heading(forecast)}: nothing falls due.\n"
    counts = [_counts(owner) for owner in [*forecast.owners, forecast.total]]
    styles = [["", "red" if row[1] != "0" else "", "", "", ""] for row in counts]
    return (
        f"\n{style(heading(forecast), 'bright_white')}\n"
        + text_table(COUNT_HEADERS, counts, styles, style)
        + "\n"
        + text_table(ITEM_HEADERS, _items(forecast))
    )


def forecast_markdown(forecast: Forecast) -> str:
    if not forecast.owners:
        return f"\n## Forecast\n\n{heading(forecast)}: nothing falls due.\n"
    lines = ["", "## Forecast", "", heading(forecast) + ".", ""]
    headers = ["Owner", "Overdue", *(f"{days} days" for days in WINDOWS)]
    lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for owner in [*forecast.owners, forecast.total]:
        lines.append("| " + " | ".join(md_escape(cell) for cell in _counts(owner)) + " |")
    lines += ["", "| Owner | Credential | Due | In | Set by |", "|---|---|---|---|---|"]
    for row in _items(forecast):
        lines.append("| " + " | ".join(md_escape(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


def forecast_html(forecast: Forecast) -> str:
    head = f'<h2>Forecast</h2><p class="note">{escape(heading(forecast))}.</p>'
    if not forecast.owners:
        return head + '<p id="forecast">Nothing falls due.</p>'
    counts = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=num' if index else ''}>{escape(cell)}</td>"
            for index, cell in enumerate(_counts(owner))
        )
        + "</tr>"
        for owner in [*forecast.owners, forecast.total]
    )
    windows = "".join(f"<th class=num>{days} days</th>" for days in WINDOWS)
    items = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>"
        for row in _items(forecast)
    )
    return (
        head
        + '<table id="forecast"><thead><tr><th>Owner</th><th class=num>Overdue</th>'
        + windows
        + f"</tr></thead><tbody>{counts}</tbody></table>"
        + '<table id="forecast-credentials"><thead><tr><th>Owner</th><th>Credential</th>'
        + "<th>Due</th><th>In</th><th>Set by</th></tr></thead>"
        + f"<tbody>{items}</tbody></table>"
    )
