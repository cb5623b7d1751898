"""Print the fault matrix's summary from the outcomes `tests/test_faults.py` recorded.

    python -m tests.support.fault_summary build/faults.jsonl

One line per backend, command and fault: how many scenarios ran, how many were fine at
once (the command survived the fault by itself), fine after the user's retry, or failed.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

VERDICTS = ("ok at once", "ok after retry", "FAILED")


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "build/faults.jsonl")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        print(f"no outcomes in {path}: did the fault tests run?")
        return 1
    outcomes = [json.loads(line) for line in lines if line.strip()]
    groups: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    first_exits: dict[tuple[str, str, str], Counter[int]] = defaultdict(Counter)
    for outcome in outcomes:
        key = (outcome["backend"], outcome["command"], outcome["fault"])
        groups[key][outcome["verdict"]] += 1
        first_exits[key][outcome["first_exit"]] += 1
    header = ["backend", "command", "fault", "scenarios", *VERDICTS, "first exit codes"]
    rows = []
    for key in sorted(groups):
        counts = groups[key]
        exits = ", ".join(f"{code}: {n}" for code, n in sorted(first_exits[key].items()))
        rows.append([*key, str(sum(counts.values())), *(str(counts[v]) for v in VERDICTS), exits])
    total = Counter(outcome["verdict"] for outcome in outcomes)
    rows.append(["all", "", "", str(len(outcomes)), *(str(total[v]) for v in VERDICTS), ""])
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    for line in [header, ["-" * width for width in widths], *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
    for outcome in outcomes:
        if outcome["verdict"] == "FAILED":
            print(
                f"FAILED {outcome['backend']} {outcome['command']} {outcome['fault']} at "
                f"#{outcome['index']} ({outcome['request']}): " + "; ".join(outcome["problems"])
            )
    return 1 if total["FAILED"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
