"""`env --check`'s comparison: wanted names that differ, a count of the rest, never file text."""

from __future__ import annotations

from credctl.envfile.check import Staleness, compare

CANARY = "canary-Pw6Rc1Zj8Ly3Qf5"


def test_a_file_holding_exactly_the_entries_is_fresh() -> None:
    staleness = compare("A='1'\nB='2'\n", [("A", "1"), ("B", "2")], "dotenv")
    assert not staleness
    assert staleness == Staleness([], 0)


def test_names_the_wanted_that_differ_and_counts_the_others() -> None:
    existing = f"B='old'\nEXTRA='{CANARY}'\nOTHER='x'\n"
    staleness = compare(existing, [("C", "3"), ("B", "2"), ("A", "1")], "dotenv")
    assert staleness == Staleness(["A", "B", "C"], 2)
    assert staleness.describe() == "A, B, C; 2 entries credctl would not write"
    assert Staleness([], 1).describe() == "1 entry credctl would not write"


def test_a_file_in_another_format_names_no_fragment_of_it() -> None:
    existing = f"KEY<<END\n{CANARY}=x\nSECOND_LINE=y\nEND\n"
    staleness = compare(existing, [("KEY", f"{CANARY}=x\nSECOND_LINE=y")], "docker")
    assert staleness.differing == ["KEY"]
    assert CANARY not in staleness.describe()
    assert "SECOND_LINE" not in staleness.describe()


def test_an_unreadable_file_is_stale() -> None:
    assert compare("{not json", [("A", "1")], "json") == Staleness(["A"], 0)
    assert compare("\x00\x01", [("A", "1")], "yaml") == Staleness(["A"], 0)
