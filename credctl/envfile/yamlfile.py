"""The yaml format: one mapping of double-quoted scalars (named yamlfile, not yaml, as PyYAML is)."""

from __future__ import annotations

import yaml

from credctl.envfile.common import Entries, check_names


def render(entries: Entries) -> str:
    check_names(entries)
    return str(
        yaml.safe_dump(
            dict(entries), allow_unicode=True, default_style='"', sort_keys=False, width=2**31
        )
    )


def parse(text: str) -> dict[str, str]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return {str(k): str(v) for k, v in document.items()} if isinstance(document, dict) else {}
