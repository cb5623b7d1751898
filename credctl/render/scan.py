"""Scan hits for CI: SARIF (code scanning shows each on its file and line) and GitHub
annotations. Like every renderer, they only ever see where a value was, never the value."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from credctl import __version__

if TYPE_CHECKING:
    from credctl.scan import Hit

RULES = {
    "current-value": "A current value of a managed credential is in a file: rotate it.",
    "previous-value": "A previous value of a managed credential is in a file.",
}


def sarif(hits: Sequence[Hit]) -> str:
    results = []
    for hit in hits:
        rule = f"{hit.kind}-value"
        where = hit.path + (f" (commit {hit.commit})" if hit.commit else "")
        results.append(
            {
                "ruleId": rule,
                "level": "error" if hit.kind == "current" else "warning",
                "message": {"text": f"the {hit.kind} value of {hit.credential_id} is in {where}"},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": hit.path},
                            "region": {"startLine": hit.line or 1},
                        }
                    }
                ],
            }
        )
    rules = [{"id": rule, "shortDescription": {"text": text}} for rule, text in RULES.items()]
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "credctl", "version": __version__, "rules": rules}},
                "automationDetails": {"id": "credctl/scan/"},
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def github(hits: Sequence[Hit]) -> str:
    lines = []
    for hit in hits:
        command = "error" if hit.kind == "current" else "warning"
        line = f",line={hit.line}" if hit.line else ""
        commit = f" (commit {hit.commit})" if hit.commit else ""
        lines.append(
            f"::{command} file={hit.path}{line},title=credctl {hit.kind} value::"
            f"the {hit.kind} value of {hit.credential_id} is here{commit}"
        )
    return "".join(f"{line}\n" for line in lines)
