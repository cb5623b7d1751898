"""The reference table: found anywhere, any column order, written back byte-exactly."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from credctl.errors import ConfigError
from credctl.table import read_table

PROSE = "# Team credentials\n\nSome prose with a | pipe in it.\n\n"
OTHER_TABLE = "| Name | Value |\n|---|---|\n| a | b |\n\n"
TABLE = (
    "| Owner | Service | Notes | Environment | Credential Type | Value/Reference "
    "| Rotation Schedule | Last Rotated | Env Var |\n"
    "|:------|---------|-------|-------------|-----------------|-----------------"
    "|------------------:|--------------|---------|\n"
    "| @payments | Stripe | live \\| restricted | prod | API Key | aws-sm://prod/stripe/api-key "
    "| 90d | 2019-09-01 | STRIPE_KEY |\n"
    "| @identity | Google | | prod | Client Secret |  | quarterly | never | |\n"
)
EPILOGUE = "\nTrailing text.\n"


def write(tmp_path: Path, text: str, name: str = "credentials.md") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def test_finds_the_table_by_its_header_anywhere(tmp_path: Path) -> None:
    table = read_table(write(tmp_path, PROSE + OTHER_TABLE + TABLE + EPILOGUE), "credentials.md")
    assert [row.id for row in table.rows] == ["prod/stripe/api-key", "prod/google/client-secret"]
    stripe = table.rows[0]
    assert stripe.line == 11
    assert stripe.owner == "@payments"
    assert stripe.reference == "aws-sm://prod/stripe/api-key"
    assert stripe.env_var == "STRIPE_KEY"
    assert stripe.extra == {"Notes": "live | restricted"}


def test_header_match_ignores_case_and_spaces(tmp_path: Path) -> None:
    text = (
        "|  service|ENVIRONMENT | credential type|value / reference|rotation schedule"
        "|last rotated|owner|\n|-|-|-|-|-|-|-|\n|S|prod|API Key||90d||@x|\n"
    )
    assert read_table(write(tmp_path, text), "t.md").rows[0].service == "S"


def test_update_changes_only_owned_cells_of_changed_rows(tmp_path: Path) -> None:
    original = PROSE + OTHER_TABLE + TABLE + EPILOGUE
    path = write(tmp_path, original)
    table = read_table(path, "credentials.md")
    google = table.rows[1]
    assert table.save(
        {
            google.id: {
                "reference": "aws-sm://prod/google/client-secret",
                "last_rotated": "2019-11-24",
            }
        }
    ).written
    after = path.read_bytes().decode()
    before_lines, after_lines = original.splitlines(True), after.splitlines(True)
    assert len(before_lines) == len(after_lines)
    changed = [i for i, (a, b) in enumerate(zip(before_lines, after_lines, strict=True)) if a != b]
    assert changed == [google.line - 1]
    # Outside the two owned cells, the changed line is the same byte for byte.
    new_line = after_lines[google.line - 1]
    assert new_line.startswith("| @identity | Google | | prod | Client Secret | ")
    assert "aws-sm://prod/google/client-secret" in new_line
    assert new_line.endswith("| quarterly | 2019-11-24 | |\n")
    assert read_table(path, "credentials.md").rows[1].last_rotated == "2019-11-24"


def test_padding_is_kept_when_the_value_fits(tmp_path: Path) -> None:
    text = (
        "| Service | Environment | Credential Type | Value/Reference | Rotation Schedule "
        "| Last Rotated | Owner |\n|---|---|---|---|---|---|---|\n"
        "| Stripe  | prod        | API Key         | aws-sm://prod/stripe/api-key | 90d "
        "| 2019-09-01   | @payments |\n"
    )
    path = write(tmp_path, text)
    table = read_table(path, "t.md")
    table.save({"prod/stripe/api-key": {"last_rotated": "2019-11-24"}})
    assert path.read_text().splitlines()[2].endswith("| 2019-11-24   | @payments |")


def test_crlf_and_utf8_are_preserved(tmp_path: Path) -> None:
    text = (PROSE + "Ünïcode ✓\n" + TABLE + EPILOGUE).replace("\n", "\r\n")
    path = write(tmp_path, text)
    table = read_table(path, "t.md")
    table.save({table.rows[0].id: {"last_rotated": "2019-11-24"}})
    after = path.read_bytes()
    assert after.count(b"\r\n") == text.count("\r\n")
    assert after.replace(b"2019-11-24", b"2019-09-01") == text.encode()


def test_unchanged_update_does_not_write(tmp_path: Path) -> None:
    path = write(tmp_path, TABLE)
    table = read_table(path, "t.md")
    stripe = table.rows[0]
    assert not table.save({stripe.id: {"last_rotated": "2019-09-01"}}).written


def test_writes_keep_the_file_mode(tmp_path: Path) -> None:
    path = write(tmp_path, TABLE)
    path.chmod(0o640)
    table = read_table(path, "t.md")
    table.save({table.rows[0].id: {"last_rotated": "2019-11-24"}})
    assert path.stat().st_mode & 0o777 == 0o640


def test_only_owned_columns_can_be_written(tmp_path: Path) -> None:
    table = read_table(write(tmp_path, TABLE), "t.md")
    with pytest.raises(ValueError, match="does not own"):
        table.save({table.rows[0].id: {"owner": "@evil"}})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no table here\n", "no credentials table found"),
        (
            "| Service | Environment | Credential Type | Owner |\n|---|---|---|---|\n",
            "missing column(s): Value/Reference, Rotation Schedule, Last Rotated",
        ),
    ],
)
def test_malformed_tables_are_errors_with_file(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"credentials\.md") as caught:
        read_table(write(tmp_path, text), "credentials.md")
    assert message in str(caught.value)


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "credentials.md"
    path.write_bytes(b"ok\nbad \xff\n")
    with pytest.raises(ConfigError, match=r"credentials.md:2: not valid UTF-8"):
        read_table(path, "credentials.md")


YAML_TABLE = """\
# Our credentials
credentials:
  - service: Stripe
    environment: prod
    credential_type: API Key
    value_reference: aws-sm://prod/stripe/api-key
    rotation_schedule: 90d
    last_rotated: 2019-09-01
    owner: "@payments"
    notes: keep me
  - service: Google
    environment: prod
    credential_type: Client Secret
    rotation_schedule: quarterly
    owner: "@identity"
"""


def test_yaml_table_reads_and_writes_in_place(tmp_path: Path) -> None:
    path = write(tmp_path, YAML_TABLE, "credentials.yaml")
    table = read_table(path, "credentials.yaml")
    stripe, google = table.rows
    assert (stripe.line, google.line) == (3, 11)
    assert stripe.last_rotated == "2019-09-01"
    assert stripe.extra == {"notes": "keep me"}
    table.save(
        {
            stripe.id: {"last_rotated": "2019-11-24"},
            google.id: {"reference": "aws-sm://prod/google/client-secret"},
        }
    )
    after = path.read_text()
    assert after == YAML_TABLE.replace("2019-09-01", "2019-11-24") + (
        "    value_reference: aws-sm://prod/google/client-secret\n"
    )
    reread = read_table(path, "credentials.yaml")
    assert reread.rows[1].reference == "aws-sm://prod/google/client-secret"


def test_a_table_inside_a_code_fence_is_an_example_not_the_table(tmp_path: Path) -> None:
    example = "```markdown\n" + TABLE.replace("Stripe", "Example") + "```\n\n"
    table = read_table(write(tmp_path, PROSE + example + TABLE), "credentials.md")
    assert [row.service for row in table.rows] == ["Stripe", "Google"]


def test_a_byte_order_mark_before_the_header_is_no_cell_and_is_kept(tmp_path: Path) -> None:
    text = "\ufeff" + TABLE + EPILOGUE
    path = write(tmp_path, text)
    table = read_table(path, "credentials.md")
    assert [row.id for row in table.rows] == ["prod/stripe/api-key", "prod/google/client-secret"]
    assert (table.rows[0].owner, table.rows[0].extra) == (
        "@payments",
        {"Notes": "live | restricted"},
    )
    assert table.save({"prod/google/client-secret": {"last_rotated": "2099-01-01"}}).written
    table.append([{"service": "Twilio", "environment": "prod", "credential_type": "API Key"}])
    after = path.read_bytes()
    assert after.startswith(codecs.BOM_UTF8 + b"| Owner |")
    assert after.decode("utf-8").replace("| 2099-01-01 |", "| never |") == (
        "\ufeff" + TABLE + "|  | Twilio |  | prod | API Key |  |  |  |  |\n" + EPILOGUE
    )


def test_a_byte_order_mark_opening_a_yaml_table_is_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeff" + YAML_TABLE, "credentials.yaml")
    table = read_table(path, "credentials.yaml")
    assert [row.service for row in table.rows] == ["Stripe", "Google"]
    table.save({"prod/stripe/api-key": {"last_rotated": "2099-01-01"}})
    assert path.read_bytes() == ("\ufeff" + YAML_TABLE.replace("2019-09-01", "2099-01-01")).encode()


def test_cells_beyond_the_header_are_an_error_not_dropped(tmp_path: Path) -> None:
    # an unescaped | in Notes moves every later cell one column to the right
    text = TABLE.replace("live \\| restricted", "live | restricted")
    with pytest.raises(ConfigError) as caught:
        read_table(write(tmp_path, text), "credentials.md")
    assert str(caught.value) == (
        "credentials.md:3: row has more cells than the header (10, the header has 9; "
        "write a | inside a cell as \\|)"
    )


def test_an_empty_row_with_extra_pipes_is_still_no_row(tmp_path: Path) -> None:
    table = read_table(write(tmp_path, TABLE + "| | | | | | | | | | |\n"), "t.md")
    assert len(table.rows) == 2


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (
            "  - service: Stripe\n    service: Google\n",
            "credentials.yaml:4: duplicate key 'service' (first at line 3)",
        ),
        (
            "  - service: Stripe\n    notes: a\n    notes: b\n",
            "credentials.yaml:5: duplicate key 'notes' (first at line 4)",
        ),
        (
            "  - service: Stripe\n    schedule: 30d\n    rotation_schedule: 90d\n",
            "credentials.yaml:5: duplicate key 'rotation_schedule' (first at line 4, the same "
            "field as 'schedule')",
        ),
    ],
)
def test_duplicate_yaml_keys_are_errors_not_the_last_one_wins(
    tmp_path: Path, item: str, expected: str
) -> None:
    path = write(tmp_path, "# Our credentials\ncredentials:\n" + item, "credentials.yaml")
    with pytest.raises(ConfigError) as caught:
        read_table(path, "credentials.yaml")
    assert str(caught.value) == expected


@pytest.mark.parametrize(
    "text",
    ["@payments", "a: b", "x #y", "null", "~", "- x", "*a", '"q"', "  padded", "two\nlines", "é"],
)
def test_yaml_cells_credctl_writes_read_back_as_the_same_text(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, YAML_TABLE, "credentials.yaml")
    table = read_table(path, "credentials.yaml")
    table.append(
        [{"service": "Twilio", "environment": "prod", "credential_type": "API Key", "owner": text}]
    )
    table.save({"prod/google/client-secret": {"reference": text}})
    _, google, twilio = read_table(path, "credentials.yaml").rows
    assert (google.reference, twilio.owner) == (text, text)
