"""Read and write the credentials reference table (Markdown or YAML), in place.

Reading finds every table whose header names the credential columns, anywhere
in the file. Writing changes only the owned cells (`Value/Reference`, `Last
Rotated`, and `Expires` where the table has that optional column) of the rows asked for; every other byte stays as it was. A write
re-reads the file under a lock and lands on the rows by credential id, so an
edit saved (or a row moved) since credctl read the file is kept, and an edit of
a cell credctl wanted to change is reported instead of overwritten.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from credctl.errors import ConfigError, Problem
from credctl.fsutil import locked, write_atomic
from credctl.model import OWNED_COLUMNS, Row, slugify

log = logging.getLogger("credctl")
# under the project's .credctl/: every credctl process writing the table takes it
LOCK_FILE = Path(".credctl") / "locks" / "table.lock"

# Canonical column -> the header spellings accepted (compared without case,
# spaces or punctuation).
COLUMNS: dict[str, tuple[str, ...]] = {
    "service": ("service",),
    "environment": ("environment", "env"),
    "credential_type": ("credentialtype", "type"),
    "reference": ("valuereference", "reference", "value"),
    "schedule": ("rotationschedule", "schedule"),
    "last_rotated": ("lastrotated",),
    "owner": ("owner",),
    "env_var": ("envvar", "environmentvariable"),
    "expires": ("expires", "expiry", "expireson"),
}
REQUIRED = ("service", "environment", "credential_type", "reference", "schedule", "last_rotated")
HEADERS = {
    "service": "Service",
    "environment": "Environment",
    "credential_type": "Credential Type",
    "reference": "Value/Reference",
    "schedule": "Rotation Schedule",
    "last_rotated": "Last Rotated",
    "owner": "Owner",
    "env_var": "Env Var",
    "expires": "Expires",
}
YAML_KEYS = {
    "service": "service",
    "environment": "environment",
    "credential_type": "credential_type",
    "reference": "value_reference",
    "schedule": "rotation_schedule",
    "last_rotated": "last_rotated",
    "owner": "owner",
    "env_var": "env_var",
    "expires": "expires",
}
_DELIMITER = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def _column_key(header: str) -> str | None:
    compact = re.sub(r"[^a-z0-9]", "", header.lower())
    for key, spellings in COLUMNS.items():
        if compact in spellings:
            return key
    return None


@dataclass
class _CellSpan:
    start: int
    end: int


@dataclass
class _RowPlace:
    line_index: int
    spans: dict[str, _CellSpan]  # owned column -> span of the cell's inner text in the line


@dataclass(frozen=True)
class Skipped:
    """A write-back credctl did not make, and why; the reason names what fixes it."""

    file: str
    line: int | None
    id: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.id}: {self.reason}" if self.id else f"{where}: {self.reason}"


@dataclass
class WriteResult:
    """What a write did: whether the file changed, and what it left alone."""

    written: bool
    skipped: list[Skipped] = field(default_factory=list)


@dataclass
class Table:
    """The parsed reference table, as read, and where its owned cells are in the file."""

    path: Path
    display: str
    text: str
    rows: list[Row]
    kind: str  # "markdown" or "yaml"
    lock_path: Path | None = None  # default: .credctl/locks/table.lock beside the file
    _places: dict[int, _RowPlace] = field(default_factory=dict)  # row line -> place
    _yaml_nodes: dict[int, tuple[yaml.MappingNode, int]] = field(default_factory=dict)
    _columns: list[str | None] = field(default_factory=list)  # header cells, in file order
    _header_names: list[str] = field(default_factory=list)
    _append_at: int | None = None  # line index after the table's last row (Markdown)
    _yaml_end: int | None = None  # offset after the list's last item (YAML)
    _yaml_indent: int = 0
    _yaml_columns: set[str] = field(default_factory=set)  # the keys any item has (YAML)

    def has_column(self, column: str) -> bool:
        """Whether the table has this column (YAML: whether any item has its key)."""
        if self.kind == "yaml":
            return column in self._yaml_columns
        return column in self._columns

    def _writable(self, line: int, column: str, text: str) -> bool:
        """Whether a cell can be written: an optional column the table lacks (or a
        Markdown row too short to reach it, or a YAML item without it, to be emptied) is
        left alone."""
        if column != "expires":
            return True
        if self.kind == "yaml":
            present = {str(key.value) for key, _ in self._yaml_nodes[line][0].value}
            return self.has_column(column) and (bool(text) or YAML_KEYS[column] in present)
        return column in self._places[line].spans

    def save(self, updates: Mapping[str, Mapping[str, str]]) -> WriteResult:
        """Write owned cells by row id, {id: {column: new text}}, onto the file as it is now.

        This Table's rows are the cells as credctl read them; a cell edited in the file
        since then (to other text than credctl's) is kept and reported, not overwritten.
        """
        as_read = _by_id(self.rows)
        for row_id, cells in updates.items():
            for column in cells:
                if column not in OWNED_COLUMNS:
                    raise ValueError(f"credctl does not own the column {column!r}")
            if row_id not in as_read:
                raise ValueError(f"no table row {row_id!r}")
        if not any(updates.values()):
            return WriteResult(False)
        with self._locked():
            fresh, unreadable = self._reread(len(updates))
            if fresh is None:
                return _reported(WriteResult(False, unreadable))
            edits, skipped = self._merge(as_read, fresh, updates)
            written = self._write(fresh, fresh._with_cells(edits))
        return _reported(WriteResult(written, skipped))

    def append(self, rows: Sequence[Mapping[str, str]]) -> WriteResult:
        """Append rows ({column: text}) after the file's last row as it is now.

        A row whose id the file has gained since credctl read it is not added twice.
        """
        if not rows:
            return WriteResult(False)
        with self._locked():
            fresh, unreadable = self._reread(len(rows))
            if fresh is None:
                return _reported(WriteResult(False, unreadable))
            present = {row.id for row in fresh.rows}
            added, skipped = [], []
            for values in rows:
                row_id = "/".join(
                    slugify(values.get(c, ""))
                    for c in ("environment", "service", "credential_type")
                )
                if row_id in present:
                    skipped.append(
                        Skipped(
                            self.display,
                            None,
                            row_id,
                            "a row for it was added to the file since credctl read it; "
                            "not added again",
                        )
                    )
                else:
                    added.append(values)
            written = self._write(fresh, fresh.with_new_rows(added))
        return _reported(WriteResult(written, skipped))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        lock_path = self.lock_path or self.path.parent / LOCK_FILE
        lock_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with locked(lock_path):
            yield

    def _reread(self, count: int) -> tuple[Table | None, list[Skipped]]:
        """The file as it is now; None and why when it no longer reads as a table."""
        try:
            return read_table(self.path, self.display, lock_path=self.lock_path), []
        except ConfigError as error:
            first = error.problems[0]
            more = (
                f" (and {len(error.problems) - 1} more problems)" if len(error.problems) > 1 else ""
            )
            reason = (
                f"{first.message}{more}: the file changed since credctl read it and no "
                f"longer reads as a table, so credctl's {count} change(s) to it were not "
                "written (the store has them): fix the table, then run 'credctl sync'"
            )
            return None, [Skipped(first.file, first.line, None, reason)]

    def _merge(
        self,
        as_read_by_id: Mapping[str, list[Row]],
        fresh: Table,
        updates: Mapping[str, Mapping[str, str]],
    ) -> tuple[dict[int, dict[str, str]], list[Skipped]]:
        """Cells to write in `fresh`, by its line numbers, and the updates left alone."""
        edits: dict[int, dict[str, str]] = {}
        skipped: list[Skipped] = []
        fresh_by_id = _by_id(fresh.rows)
        for row_id, cells in updates.items():
            as_read = as_read_by_id[row_id][0]
            now = fresh_by_id.get(row_id, [])
            if not now:
                skipped.append(
                    Skipped(
                        self.display,
                        as_read.line,
                        row_id,
                        "the row was removed from the file since credctl read it; not "
                        "written (the store has the change; if the row should stay, "
                        "'credctl import' adds it back)",
                    )
                )
                continue
            if len(now) > 1:
                lines = " and ".join(str(row.line) for row in now)
                skipped.append(
                    Skipped(
                        self.display,
                        now[0].line,
                        row_id,
                        f"the file now has it on lines {lines}; not written "
                        "('credctl validate' names the duplicate)",
                    )
                )
                continue
            current = now[0]
            for column, new_text in cells.items():
                read_text, current_text = getattr(as_read, column), getattr(current, column)
                if current_text == new_text or not fresh._writable(current.line, column, new_text):
                    continue
                if current_text != read_text:
                    skipped.append(
                        Skipped(
                            self.display,
                            current.line,
                            row_id,
                            f"{HEADERS[column]} was edited since credctl read the file; kept "
                            f"the edit, did not write {new_text!r} (the store has credctl's "
                            "change: run 'credctl sync' to bring the table and the store "
                            "back in line)",
                        )
                    )
                    continue
                edits.setdefault(current.line, {})[column] = new_text
        return edits, skipped

    def _write(self, fresh: Table, new_text: str) -> bool:
        """Write `new_text` over the file `fresh` was read from; this Table becomes it."""
        changed = new_text != fresh.text
        if changed:
            mode = self.path.stat().st_mode & 0o777
            write_atomic(self.path, new_text, mode=mode)
            fresh = _parse(self.path, self.display, new_text, self.lock_path)
        for attribute in dataclasses.fields(self):
            setattr(self, attribute.name, getattr(fresh, attribute.name))
        return changed

    def _with_cells(self, updates: Mapping[int, Mapping[str, str]]) -> str:
        """The text with owned cells replaced: {row line: {column: new text}}."""
        if self.kind == "yaml":
            return _yaml_with_updates(self, updates)
        lines = self.text.splitlines(keepends=True)
        for line, cells in updates.items():
            place = self._places[line]
            original = lines[place.line_index]
            edits = sorted(
                ((place.spans[column], value) for column, value in cells.items()),
                key=lambda edit: edit[0].start,
                reverse=True,
            )
            for span, value in edits:
                inner = original[span.start : span.end]
                original = original[: span.start] + _fit(inner, value) + original[span.end :]
            lines[place.line_index] = original
        return "".join(lines)

    def with_new_rows(self, rows: Sequence[Mapping[str, str]]) -> str:
        """The file's text with rows appended after the table's last row: {column: text}."""
        if not rows:
            return self.text
        if self.kind == "yaml":
            return self._yaml_with_new_rows(rows)
        if self._append_at is None:
            raise ValueError("no table to append to")
        lines = self.text.splitlines(keepends=True)
        newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
        before = lines[: self._append_at]
        if before and not before[-1].endswith(("\n", "\r")):
            before[-1] += newline
        added = []
        for values in rows:
            cells = [
                values.get(column, "") if column else values.get(name, "")
                for column, name in zip(self._columns, self._header_names, strict=True)
            ]
            added.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |" + newline)
        return "".join(before + added + lines[self._append_at :])

    def _yaml_with_new_rows(self, rows: Sequence[Mapping[str, str]]) -> str:
        indent = " " * self._yaml_indent
        end = self._yaml_end if self._yaml_end is not None else len(self.text)
        head = self.text[:end]
        newline = "\r\n" if "\r\n" in self.text else "\n"
        if head and not head.endswith("\n"):
            head += newline
        if self._yaml_end is None and not self.rows:
            head = ""  # an empty document becomes the list
        items = []
        for values in rows:
            pairs = [(YAML_KEYS[c], values[c]) for c in YAML_KEYS if c in values]
            lines = [
                f"{indent}{'- ' if i == 0 else '  '}{key}: {_yaml_scalar(text)}{newline}"
                for i, (key, text) in enumerate(pairs)
            ]
            items.append("".join(lines))
        return head + "".join(items) + self.text[end:]


def _by_id(rows: Sequence[Row]) -> dict[str, list[Row]]:
    """Rows by credential id, in file order (a duplicate is a validation error)."""
    found: dict[str, list[Row]] = {}
    for row in rows:
        found.setdefault(row.id, []).append(row)
    return found


def _reported(result: WriteResult) -> WriteResult:
    for skipped in result.skipped:
        log.warning("%s", skipped)
    return result


def _fit(inner: str, value: str) -> str:
    """New cell text keeping the old padding where it fits (aligned tables stay aligned)."""
    escaped = value.replace("|", "\\|")
    if inner.strip():
        leading = inner[: len(inner) - len(inner.lstrip())]
    else:
        leading = " " if inner else ""  # an empty cell: one space, as Markdown tables do
    trailing_needed = 1 if inner.endswith((" ", "\t")) or not inner else 0
    body = leading + escaped
    width = len(inner)
    if len(body) + trailing_needed <= width:
        return body.ljust(width)
    return body + " " * trailing_needed


def split_cells(line: str) -> list[_CellSpan]:
    """Spans of the cells' inner text, honouring `\\|` escapes and outer pipes."""
    # a byte order mark opening the file is not part of the first cell (it stays in the text)
    content_start = 1 if line.startswith("\ufeff") else 0
    content_end = len(line.rstrip("\r\n"))
    positions = [
        index
        for index in range(content_start, content_end)
        if line[index] == "|" and (index == 0 or line[index - 1] != "\\")
    ]
    stripped = line[content_start:content_end].strip()
    bounds = [content_start - 1, *positions, content_end]
    spans = [_CellSpan(a + 1, b) for a, b in itertools.pairwise(bounds)]
    if stripped.startswith("|") and spans:
        spans = spans[1:]
    if stripped.endswith("|") and not stripped.endswith("\\|") and spans:
        spans = spans[:-1]
    return spans


def _cell(line: str, span: _CellSpan) -> str:
    return line[span.start : span.end].strip().replace("\\|", "|")


def read_table(path: Path, display: str, *, lock_path: Path | None = None) -> Table:
    """Parse the reference table at `path` (Markdown, or YAML by extension).

    Writes take `lock_path` (default: `.credctl/locks/table.lock` beside the file).
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            Problem(display, None, "the reference table does not exist"),
            hint="create it with 'credctl init' or point --table at it",
        ) from None
    except OSError as error:
        raise ConfigError(Problem(display, None, f"cannot read: {error.strerror}")) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            Problem(display, text_line(raw, error.start), "not valid UTF-8")
        ) from None
    return _parse(path, display, text, lock_path)


def _parse(path: Path, display: str, text: str, lock_path: Path | None) -> Table:
    if path.suffix.lower() in (".yaml", ".yml"):
        table = _read_yaml(path, display, text)
    else:
        table = _read_markdown(path, display, text)
    table.lock_path = lock_path
    return table


def text_line(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def _read_markdown(path: Path, display: str, text: str) -> Table:
    lines = text.splitlines(keepends=True)
    table = Table(path=path, display=display, text=text, rows=[], kind="markdown")
    problems: list[Problem] = []
    fenced = _fenced_lines(lines)
    index = 0
    found = False
    while index < len(lines) - 1:
        line = lines[index]
        if (
            index in fenced
            or "|" not in line
            or not _DELIMITER.match(lines[index + 1].rstrip("\r\n"))
        ):
            index += 1
            continue
        header_spans = split_cells(line)
        columns = [_column_key(_cell(line, span)) for span in header_spans]
        if not {"service", "environment", "credential_type"} <= set(columns):
            index += 1
            continue
        missing = [HEADERS[c] for c in REQUIRED if c not in columns]
        duplicated = sorted({HEADERS[c] for c in columns if c and columns.count(c) > 1})
        if missing or duplicated:
            detail = (
                f"missing column(s): {', '.join(missing)}"
                if missing
                else f"column(s) given twice: {', '.join(duplicated)}"
            )
            problems.append(Problem(display, index + 1, f"credentials table header {detail}"))
            index += 2
            continue
        found = True
        table._columns = columns
        table._header_names = [_cell(line, span) for span in header_spans]
        extra_names = {
            i: _cell(line, span) for i, span in enumerate(header_spans) if columns[i] is None
        }
        index += 2
        while index < len(lines) and "|" in lines[index] and lines[index].strip():
            row_line = lines[index]
            spans = split_cells(row_line)
            values: dict[str, str] = {}
            for position, span in enumerate(spans):
                column = columns[position] if position < len(columns) else None
                if column:
                    values[column] = _cell(row_line, span)
            if len(spans) > len(columns) and any(_cell(row_line, span) for span in spans):
                # an unescaped | shifts every cell after it: never guess which one it was
                problems.append(
                    Problem(
                        display,
                        index + 1,
                        f"row has more cells than the header ({len(spans)}, the header has "
                        f"{len(columns)}; write a | inside a cell as \\|)",
                    )
                )
            elif any(values.values()):
                extra = {
                    name: _cell(row_line, spans[i])
                    for i, name in extra_names.items()
                    if i < len(spans)
                }
                owned = {
                    column: spans[columns.index(column)]
                    for column in OWNED_COLUMNS
                    if column in columns and columns.index(column) < len(spans)
                }
                if "reference" not in owned or "last_rotated" not in owned:
                    problems.append(
                        Problem(display, index + 1, "row has fewer cells than the header")
                    )
                else:
                    table.rows.append(_row(display, index + 1, values, extra))
                    table._places[index + 1] = _RowPlace(index, owned)
            index += 1
        table._append_at = index
    if problems:
        raise ConfigError(problems)
    if not found:
        raise ConfigError(
            Problem(
                display,
                None,
                "no credentials table found (a Markdown table whose header has Service, "
                "Environment, Credential Type, Value/Reference, Rotation Schedule, "
                "Last Rotated and Owner)",
            )
        )
    return table


def _fenced_lines(lines: list[str]) -> set[int]:
    """Indexes of lines inside fenced code blocks (an example table there is not the table)."""
    inside: set[int] = set()
    fence: str | None = None
    for index, line in enumerate(lines):
        stripped = line.lstrip()
        marker = stripped[:3]
        if fence is None and marker in ("```", "~~~"):
            fence = marker
            inside.add(index)
        elif fence is not None:
            inside.add(index)
            if stripped.startswith(fence):
                fence = None
    return inside


def _row(display: str, line: int, values: Mapping[str, str], extra: dict[str, str]) -> Row:
    return Row(
        file=display,
        line=line,
        environment=values.get("environment", ""),
        service=values.get("service", ""),
        credential_type=values.get("credential_type", ""),
        reference=values.get("reference", ""),
        schedule=values.get("schedule", ""),
        last_rotated=values.get("last_rotated", ""),
        owner=values.get("owner", ""),
        env_var=values.get("env_var", ""),
        extra=extra,
        expires=values.get("expires", ""),
    )


# ----------------------------------------------------------------------- YAML

_YAML_ALIASES = {"reference": "reference", "value": "reference", "schedule": "schedule"}


def _read_yaml(path: Path, display: str, text: str) -> Table:
    try:
        document = yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(error, "problem", None) or "invalid YAML"
        raise ConfigError(Problem(display, line, f"invalid YAML: {reason}")) from None
    table = Table(path=path, display=display, text=text, rows=[], kind="yaml")
    if document is None:
        return table
    if isinstance(document, yaml.MappingNode):  # allow {credentials: [...]}
        lists = [(k, v) for k, v in document.value if k.value == "credentials"]
        if len(lists) > 1:
            raise ConfigError(
                Problem(
                    display,
                    lists[1][0].start_mark.line + 1,
                    f"duplicate key 'credentials' (first at line {lists[0][0].start_mark.line + 1})",
                )
            )
        if lists:
            document = lists[0][1]
    if not isinstance(document, yaml.SequenceNode):
        raise ConfigError(
            Problem(display, document.start_mark.line + 1, "expected a list of credentials")
        )
    by_key = {yaml_key: column for column, yaml_key in YAML_KEYS.items()}
    if document.value:
        table._yaml_indent = document.value[0].start_mark.column - 2
        last = document.value[-1].end_mark
        # end of the last item's line: appended items follow it
        newline_at = text.find("\n", last.index - 1 if last.column == 0 else last.index)
        table._yaml_end = len(text) if newline_at == -1 else newline_at + 1
    problems: list[Problem] = []
    for item in document.value:
        line = item.start_mark.line + 1
        if not isinstance(item, yaml.MappingNode):
            problems.append(Problem(display, line, "each credential must be a mapping"))
            continue
        values: dict[str, str] = {}
        extra: dict[str, str] = {}
        seen: dict[str, tuple[str, int]] = {}  # column (or other key) -> key as written, line
        for key_node, value_node in item.value:
            key = str(key_node.value)
            column = by_key.get(key) or _YAML_ALIASES.get(key)
            key_line = key_node.start_mark.line + 1
            if (column or key) in seen:
                # YAML would silently keep the last one: which did the person mean?
                first_key, first_line = seen[column or key]
                same = "" if first_key == key else f", the same field as {first_key!r}"
                problems.append(
                    Problem(
                        display,
                        key_line,
                        f"duplicate key {key!r} (first at line {first_line}{same})",
                    )
                )
                continue
            seen[column or key] = (key, key_line)
            if not isinstance(value_node, yaml.ScalarNode):
                problems.append(
                    Problem(display, value_node.start_mark.line + 1, f"{key} must be a scalar")
                )
                continue
            raw_value = "" if value_node.tag.endswith(":null") else str(value_node.value)
            if column:
                values[column] = raw_value
                table._yaml_columns.add(column)
            else:
                extra[key] = raw_value
        table.rows.append(_row(display, line, values, extra))
        table._yaml_nodes[line] = (item, line)
    if problems:
        raise ConfigError(problems)
    return table


def _yaml_with_updates(table: Table, updates: Mapping[int, Mapping[str, str]]) -> str:
    text = table.text
    edits: list[tuple[int, int, str]] = []
    for line, cells in updates.items():
        node, _ = table._yaml_nodes[line]
        present = {str(k.value): v for k, v in node.value if str(k.value) in YAML_KEYS.values()}
        for column, value in cells.items():
            yaml_key = YAML_KEYS[column]
            alias = "reference" if column == "reference" else None
            target = present.get(yaml_key) or (present.get(alias) if alias else None)
            rendered = _yaml_scalar(value)
            if target is not None:
                edits.append((target.start_mark.index, target.end_mark.index, rendered))
            else:
                last_key, last_value = node.value[-1]
                indent = " " * last_key.start_mark.column
                end = text.find("\n", last_value.end_mark.index)
                end = len(text) if end == -1 else end
                newline = "\r\n" if text[end - 1 : end] == "\r" else "\n"
                if newline == "\r\n":
                    end -= 1
                edits.append((end, end, f"{newline}{indent}{yaml_key}: {rendered}"))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


_PLAIN = re.compile(r"^[A-Za-z0-9_./+][A-Za-z0-9_./:@+-]*(?<!:)$")


def _yaml_scalar(value: str) -> str:
    """`value` as YAML that reads back as the same text: plain where that is safe, else quoted."""
    if (_PLAIN.match(value) and value.lower() != "null") or _reads_back_plain(value):
        return value
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML double-quoted one


def _reads_back_plain(value: str) -> bool:
    """Whether `value` unquoted is one scalar with this text (`@team`, `a: b`, `null` are not)."""
    if not value or value != value.strip():
        return False
    try:
        node = yaml.compose(value)
    except yaml.YAMLError:
        return False
    return (
        isinstance(node, yaml.ScalarNode)
        and node.style is None
        and node.value == value
        and not node.tag.endswith(":null")
    )
