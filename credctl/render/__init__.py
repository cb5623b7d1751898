"""Report renderers, one module per format, and the registry the rest derives from.

The CLI's `--format` choices, the settings' `format` values and the docs'
table of formats all come from `RENDERERS`; a format is one module with a
`render(report, options)` function and one entry here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the registry is read by the CLI at start-up: nothing heavy at import
    from credctl.audit import AuditReport

Styler = Callable[[str, str], str]  # (text, colour) -> text


def plain(text: str, colour: str) -> str:
    return text


@dataclass(frozen=True)
class RenderOptions:
    """How to render: for `audit` (findings listed) or `status`, styled, grouped."""

    command: str = "audit"
    style: Styler = plain
    by: str | None = None
    forecast: bool = False  # status --forecast: what falls due in the next 30/60/90 days


__all__ = [
    "FORECAST_FORMATS",
    "FORMATS",
    "RENDERERS",
    "RenderOptions",
    "Renderer",
    "Styler",
    "plain",
    "render",
]


@dataclass(frozen=True)
class Renderer:
    """One report format: its name, its module's `render`, and what it is for."""

    name: str
    module: str  # imported when the format is used
    summary: str
    page: bool = False  # a whole page, written to a file rather than a terminal

    def load(self) -> Callable[[AuditReport, RenderOptions], str | Iterator[str]]:
        function: Callable[[AuditReport, RenderOptions], str | Iterator[str]] = (
            importlib.import_module(self.module).render
        )
        return function


RENDERERS: dict[str, Renderer] = {
    renderer.name: renderer
    for renderer in (
        Renderer("table", "credctl.render.text", "aligned columns for people (the default)"),
        Renderer("json", "credctl.render.jsondoc", "the stable contract for CI jobs"),
        Renderer("markdown", "credctl.render.markdown", "the table with status columns"),
        Renderer("junit", "credctl.render.junit", "one test case per credential"),
        Renderer("sarif", "credctl.render.sarif", "SARIF 2.1.0 for code scanning"),
        Renderer("github", "credctl.render.github", "GitHub workflow annotations"),
        Renderer("html", "credctl.render.html_page", "a self-contained page", page=True),
    )
}
FORMATS = tuple(RENDERERS)
# the formats `status --forecast` adds its section to
FORECAST_FORMATS = ("table", "json", "markdown", "html")


def render(report: AuditReport, fmt: str, options: RenderOptions) -> str | Iterator[str]:
    """The report in the format named `fmt` (one of FORMATS)."""
    return RENDERERS[fmt].load()(report, options)
