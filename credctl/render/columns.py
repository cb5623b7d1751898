"""Aligned plain-text columns, for every table credctl prints for people."""

from __future__ import annotations

from collections.abc import Sequence

from credctl.render import Styler, plain


def text_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    styles: Sequence[Sequence[str]] | None = None,
    style: Styler = plain,
) -> str:
    """An aligned plain-text table; `styles` gives a colour per cell ("" for none)."""
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for index, row in enumerate(rows):
        cells = []
        for column, (cell, width) in enumerate(zip(row, widths, strict=False)):
            padded = cell.ljust(width)
            colour = styles[index][column] if styles else ""
            cells.append(style(padded, colour) if colour else padded)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"
