"""Checked values the configuration models share: safe store paths and prefixes,
http(s) URLs, and the strict base model (unknown keys are errors)."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode's category Cc


def has_control_character(text: str) -> bool:
    return _CONTROL.search(text) is not None


def path_problem(path: str) -> str | None:
    """Why a store path could escape where it is meant to live, or None when it is safe.

    Stores and their HTTP clients resolve `.` and `..` (Vault reads another mount's
    secret through `secret/../../other/data/x`), so such names are never built.
    """
    if has_control_character(path):
        return "has a control character"
    if "\\" in path:
        return "has a backslash"
    segments = path.split("/")
    if "" in segments:
        return "has an empty path segment (a leading, trailing or doubled /)"
    for segment in segments:
        if segment in (".", ".."):
            return f"has a {segment!r} path segment"
    return None


def prefix_problem(prefix: str) -> str | None:
    """`path_problem` for a name prefix, which may be empty or end with one `/`."""
    if prefix == "":
        return None
    return path_problem(prefix.removesuffix("/"))


def _safe_prefix(value: str | None) -> str | None:
    if value is not None:
        problem = prefix_problem(value)
        if problem:
            raise ValueError(f"{value!r} {problem}")
    return value


def url_problem(url: str) -> str | None:
    """Why `url` is no http(s) URL a client can use, or None."""
    example = "use e.g. https://vault.example.com:8200 or http://localhost:4566"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return f"not a valid URL ({example})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"not an http:// or https:// URL ({example})"
    if has_control_character(url) or any(character.isspace() for character in url):
        return f"a URL cannot hold spaces or control characters ({example})"
    return None


def _http_url(value: str | None) -> str | None:
    problem = None if value is None else url_problem(value)
    if problem:
        raise ValueError(problem)
    return value


SafePrefix = Annotated[str | None, AfterValidator(_safe_prefix)]
HttpUrl = Annotated[str | None, AfterValidator(_http_url)]
