"""The shape of a secret's value, and the one rule every write keeps.

A value is plain text, a JSON object (AWS's key/value secrets, RDS's), Vault KV data
with several fields, or binary data (AWS `SecretBinary`). A write changes only the
field a row references (`#password`, or `#db.password` inside a nested object) and
keeps every other field and its JSON type. A row without `#field` never writes over a
JSON object or several fields, and binary data is never turned into text: such a write
is refused before anything is stored (exit 2).

A `Shape` names fields, never values, so it may travel anywhere (messages, `import`).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from credctl.errors import FieldMissingError, NotFoundError, ShapeError

Kind = Literal["text", "json", "fields", "binary"]
VALUE_FIELD = "value"  # where a Vault secret that credctl made keeps its one value
# the last part of a field name that holds a credential, not a setting beside it
_CREDENTIAL_WORDS = re.compile(
    r"(pass(word|wd|phrase)?|secret|key|token|credential|pwd|pin|private|auth|signature|salt)$",
    re.IGNORECASE,
)
# last words of a field that names something about a credential, not the credential
_ABOUT_A_CREDENTIAL = {"id", "name", "arn", "url", "uri", "host", "type", "user", "username"}
_SHOWN_FIELDS = 12  # a message lists at most this many fields


@dataclass(frozen=True)
class Shape:
    """What a value looks like, by its field names only."""

    kind: Kind
    fields: tuple[str, ...] = ()  # paths of the scalar fields ("db.password" inside "db")
    containers: tuple[str, ...] = ()  # paths of fields that hold an object or an array
    whole_field: str | None = None  # the field a row without #field reads and writes (Vault)

    @property
    def structured(self) -> bool:
        return self.kind in ("json", "fields")

    def describe(self) -> str:
        return {
            "text": "plain text",
            "json": "a JSON object",
            "fields": "KV data with several fields",
            "binary": "binary data (AWS SecretBinary)",
        }[self.kind]

    def credential_fields(self) -> list[str]:
        """The fields whose names say they hold a credential (password, secret, key, token…)."""
        return [field for field in self.fields if looks_like_credential(field)]

    def other_fields(self) -> list[str]:
        """The fields beside them (user names, hosts, ports): settings, not credentials."""
        return [field for field in self.fields if not looks_like_credential(field)]


def looks_like_credential(field: str) -> bool:
    """Whether a field's name says it holds a credential: `password`, `client_secret`,
    `api-key`, `db.token` (its last part is what counts), unless it names something about
    one (`key_id`, `secret_name`, `token_url`)."""
    last = field.rsplit(".", 1)[-1]
    words = [word for word in re.split(r"[^A-Za-z0-9]+", last.lower()) if word]
    if not words or words[-1] in _ABOUT_A_CREDENTIAL:
        return False
    return any(_CREDENTIAL_WORDS.search(word) for word in words[-2:])


def fields_of(value: str | bytes | Mapping[str, Any]) -> list[str]:
    """The credential-looking fields of a value as a store holds it (a string, bytes, or
    Vault KV data): one row each with `#field` keeps the value's shape."""
    return shape_of(value).credential_fields()


def shape_of(value: str | bytes | Mapping[str, Any]) -> Shape:
    """The shape of a value: AWS's SecretString or SecretBinary, the local store's text,
    or Vault KV data (a mapping)."""
    if isinstance(value, bytes):
        return Shape("binary")
    if isinstance(value, str):
        document = _object(value)
        if document is None:
            return Shape("text")
        return _structured("json", document)
    if set(value) == {VALUE_FIELD} and isinstance(value[VALUE_FIELD], str):
        # credctl's own Vault secrets; a JSON object kept in `value` is an object all the same
        return shape_of(value[VALUE_FIELD])
    whole = None
    if isinstance(value.get(VALUE_FIELD), str):
        whole = VALUE_FIELD
    elif len(value) == 1 and not isinstance(next(iter(value.values())), dict | list):
        whole = next(iter(value))
    shape = _structured("fields", value)
    return Shape(shape.kind, shape.fields, shape.containers, whole)


def _structured(kind: Kind, document: Mapping[str, Any]) -> Shape:
    leaves: list[str] = []
    containers: list[str] = []

    def walk(node: Mapping[str, Any], path: str) -> None:
        for key, item in node.items():
            where = f"{path}{key}"
            if isinstance(item, dict):
                containers.append(where)
                walk(item, where + ".")
            elif isinstance(item, list):
                containers.append(where)
            else:
                leaves.append(where)

    walk(document, "")
    return Shape(kind, tuple(leaves), tuple(containers))


def _object(raw: str) -> dict[str, Any] | None:
    """The JSON object a text holds, or None (any other text, JSON scalars and arrays too)."""
    if not raw.lstrip().startswith("{"):
        return None
    try:
        document = json.loads(raw)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _listed(fields: tuple[str, ...] | list[str]) -> str:
    shown = ", ".join(fields[:_SHOWN_FIELDS])
    return shown + (
        f" and {len(fields) - _SHOWN_FIELDS} more" if len(fields) > _SHOWN_FIELDS else ""
    )


def example_field(shape: Shape) -> str:
    """The field a message suggests: the first that looks like a credential."""
    return next(iter(shape.credential_fields() or list(shape.fields)), "password")


# ------------------------------------------------------------------- checks


def check_write(shape: Shape | None, field: str | None, who: str, reference: str) -> None:
    """Refuse (exit 2) a write that would damage the value's shape; None: no value yet.

    `who` names the row (its credential id), `reference` the secret without a field.
    """
    if shape is None:
        return
    subject = reference if who == reference else f"{who}: {reference}"
    if shape.kind == "binary":
        raise ShapeError(
            f"{subject} holds binary data (AWS SecretBinary); credctl never turns it "
            "into text, so it does not write it",
            hint="rotate it with the aws-lambda rotator (AWS's own rotation function), or "
            f"store it with: aws secretsmanager put-secret-value --secret-id "
            f"{reference.split('://', 1)[-1]} --secret-binary fileb://FILE",
        )
    if field is None:
        if shape.kind == "text" or shape.whole_field is not None:
            return
        example = example_field(shape)
        raise ShapeError(
            f"{subject} holds {shape.describe()} ({_listed(shape.fields)}); a row "
            "without #field would replace all of it, so nothing was written",
            hint=f"reference the field this row holds, e.g. {reference}#{example} (one row "
            "per field)",
        )
    problem = field_problem(shape, field)
    if problem is not None:
        raise ShapeError(f"{subject} {problem}; nothing was written", hint=_fix(shape))


def field_problem(shape: Shape, field: str) -> str | None:
    """Why `field` cannot be written in a value of this shape, or None."""
    if shape.kind == "text":
        return f"is plain text, not a JSON object, so it has no field {field!r}"
    if field in shape.fields:
        return None
    if field in shape.containers:
        inside = [leaf for leaf in shape.fields if leaf.startswith(field + ".")]
        kind = "an object" if inside else "an object or an array"
        return f"field {field!r} holds {kind}, not a value" + (
            f" (its fields: {_listed(inside)})" if inside else ""
        )
    parts = field.split(".")
    for end in range(1, len(parts)):
        above = ".".join(parts[:end])
        if above in shape.fields:
            return f"field {above!r} is a value, not an object, so it has no field {field!r}"
    return None  # a new field beside the others


def _fix(shape: Shape) -> str:
    if shape.kind == "text":
        return "reference the secret without #field"
    return f"reference one of its fields: {_listed(shape.fields)}"


# ---------------------------------------------------------- reading, writing


def select(document: Mapping[str, Any], field: str, name: str) -> Any:
    """The value of `field` in an object: the key itself, else a dotted path into nested
    objects (`db.password`). NotFoundError when there is none."""
    if field in document:
        return document[field]
    node: Any = document
    for part in field.split("."):
        if not isinstance(node, dict):  # a value where the path wants an object
            raise NotFoundError(f"{name} has no field {field!r}")
        if part not in node:  # an object without the key: a value to give it mends it
            raise FieldMissingError(f"{name} has no field {field!r}")
        node = node[part]
    return node


def as_text(value: Any) -> str:
    """A field's value as an environment variable carries it: strings as they are, other
    JSON values in their JSON form."""
    return value if isinstance(value, str) else json.dumps(value)


def with_field(document: Mapping[str, Any], field: str, text: str, name: str) -> dict[str, Any]:
    """A copy of the object with `field` set to `text`, every other field (and its JSON type)
    kept. A number stays a number when the new value is one. ShapeError when the field
    holds an object or an array, or lies under a value that is no object."""
    updated: dict[str, Any] = copy.deepcopy(dict(document))
    if field in updated or "." not in field:
        parent, key = updated, field
    else:
        parent = updated
        parts = field.split(".")
        for part in parts[:-1]:
            node = parent.setdefault(part, {})
            if not isinstance(node, dict):
                raise ShapeError(
                    f"{name}: field {part!r} is a value, not an object, so it has no field "
                    f"{field!r}; nothing was written"
                )
            parent = node
        key = parts[-1]
    old = parent.get(key)
    if isinstance(old, dict | list):
        raise ShapeError(
            f"{name}: field {field!r} holds an object or an array, not a value; nothing was "
            "written",
            hint="reference one of the fields inside it",
        )
    parent[key] = _typed_like(old, text)
    return updated


def _typed_like(old: Any, text: str) -> Any:
    if isinstance(old, int | float) and not isinstance(old, bool):
        try:
            number = json.loads(text)
        except ValueError:
            return text
        if isinstance(number, int | float) and not isinstance(number, bool):
            return number
    return text


def select_text(raw: str, field: str, name: str) -> str:
    """One field of a JSON object held as text."""
    document = _object(raw)
    if document is None:
        raise NotFoundError(f"{name} is not a JSON object, so it has no field {field!r}")
    return as_text(select(document, field, name))


def replace_in_text(raw: str | None, field: str, text: str, name: str) -> str:
    """The JSON text after setting one field: the others kept, and the text laid out as it
    was (compact, spaced or indented) where credctl can tell how."""
    if not raw:
        return json.dumps(with_field({}, field, text, name), ensure_ascii=False)
    document = _object(raw)
    if document is None:
        raise ShapeError(
            f"{name} is plain text, not a JSON object, so it has no field {field!r}; nothing "
            "was written",
            hint="reference the secret without #field",
        )
    return _dump_like(with_field(document, field, text, name), raw)


_LAYOUTS: tuple[dict[str, Any], ...] = tuple(
    {**layout, "ensure_ascii": ascii_only}
    for ascii_only in (False, True)
    for layout in ({}, {"separators": (",", ":")}, {"indent": 2}, {"indent": 4}, {"indent": "\t"})
)


def _dump_like(document: dict[str, Any], original: str) -> str:
    body = original.rstrip("\r\n")
    ending = original[len(body) :]
    parsed = json.loads(body)
    for layout in _LAYOUTS:
        if json.dumps(parsed, **layout) == body:
            return json.dumps(document, **layout) + ending
    return json.dumps(document, ensure_ascii=False) + ending
