"""The json format: one object of strings (named jsonfile, not json, to leave the library's name)."""

from __future__ import annotations

import json

from credctl.envfile.common import Entries, check_names


def render(entries: Entries) -> str:
    check_names(entries)
    return json.dumps(dict(entries), indent=2, ensure_ascii=False) + "\n"


def parse(text: str) -> dict[str, str]:
    try:
        document = json.loads(text)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in document.items()} if isinstance(document, dict) else {}
