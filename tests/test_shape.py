"""credctl/shape.py: a value's shape by field names, the write check, and writes that keep
every other field, its JSON type and the text's layout."""

from __future__ import annotations

import json

import pytest

from credctl.errors import FieldMissingError, NotFoundError, ShapeError
from credctl.model import PendingInfo, SecretInfo, row_key
from credctl.secret import Secret
from credctl.shape import (
    Shape,
    check_write,
    fields_of,
    looks_like_credential,
    replace_in_text,
    select,
    select_text,
    shape_of,
)
from tests.support.dates import days_ago, stamp

RDS = '{"username":"app","password":"p-Zq8Yv3Tn0Kx5","engine":"postgres","port":5432,"ssl":true}'


def test_shapes_of_what_stores_hold() -> None:
    assert shape_of("sk_live_abc") == Shape("text")
    assert shape_of("12345") == Shape("text")  # a JSON number is text here
    assert shape_of("[1, 2]") == Shape("text")
    assert shape_of(b"\x00\xff") == Shape("binary")
    rds = shape_of(RDS)
    assert rds.kind == "json"
    assert rds.fields == ("username", "password", "engine", "port", "ssl")
    assert rds.whole_field is None
    nested = shape_of('{"db": {"password": "x", "port": 1}, "hosts": ["a", "b"]}')
    assert nested.fields == ("db.password", "db.port")
    assert nested.containers == ("db", "hosts")
    # Vault KV data: credctl's own `value`, a lone field, several fields, JSON kept in `value`
    assert shape_of({"value": "x"}) == Shape("text")
    assert shape_of({"token": "x"}).whole_field == "token"
    several = shape_of({"username": "app", "password": "x", "host": "db"})
    assert (several.kind, several.whole_field) == ("fields", None)
    assert shape_of({"value": '{"a": "1"}'}).kind == "json"
    assert shape_of({"value": "x", "note": "y"}).whole_field == "value"


@pytest.mark.parametrize(
    ("field", "credential"),
    [
        ("password", True),
        ("client_secret", True),
        ("api-key", True),
        ("apiKey", True),
        ("db.password", True),
        ("token", True),
        ("private_key", True),
        ("username", False),
        ("host", False),
        ("port", False),
        ("engine", False),
        ("dbname", False),
        ("client_id", False),
    ],
)
def test_which_fields_look_like_credentials(field: str, credential: bool) -> None:
    assert looks_like_credential(field) is credential


def test_fields_of_names_the_credentials_of_a_value_for_import() -> None:
    assert fields_of(RDS) == ["password"]
    assert fields_of({"client_id": "x", "client_secret": "y", "refresh_token": "z"}) == [
        "client_secret",
        "refresh_token",
    ]
    assert fields_of("sk_live_abc") == []
    assert fields_of(b"\x00") == []
    assert shape_of(RDS).other_fields() == ["username", "engine", "port", "ssl"]


def test_a_row_without_field_on_an_object_is_refused_naming_the_fields() -> None:
    with pytest.raises(ShapeError) as raised:
        check_write(shape_of(RDS), None, "prod/db/password", "aws-sm://prod/db")
    assert str(raised.value) == (
        "prod/db/password: aws-sm://prod/db holds a JSON object (username, password, engine, "
        "port, ssl); a row without #field would replace all of it, so nothing was written"
    )
    assert raised.value.hint == (
        "reference the field this row holds, e.g. aws-sm://prod/db#password (one row per field)"
    )
    assert raised.value.exit_code == 2
    several = shape_of({"username": "app", "password": "x", "host": "db"})
    with pytest.raises(ShapeError, match="holds KV data with several fields"):
        check_write(several, None, "x", "vault://secret/prod/db")
    check_write(shape_of({"password": "x"}), None, "x", "vault://secret/prod/db")  # its one field
    check_write(shape_of("text"), None, "x", "aws-sm://x")
    check_write(None, None, "x", "aws-sm://x")  # no value yet


def test_binary_is_never_written_as_text() -> None:
    for field in (None, "password"):
        with pytest.raises(ShapeError) as raised:
            check_write(Shape("binary"), field, "prod/tls/key", "aws-sm://prod/tls/key")
        assert str(raised.value) == (
            "prod/tls/key: aws-sm://prod/tls/key holds binary data (AWS SecretBinary); credctl "
            "never turns it into text, so it does not write it"
        )
        assert "--secret-binary fileb://FILE" in (raised.value.hint or "")


@pytest.mark.parametrize(
    ("value", "field", "problem"),
    [
        ("sk_live", "password", "is plain text, not a JSON object, so it has no field 'password'"),
        ('{"db": {"a": "1"}}', "db", "field 'db' holds an object, not a value (its fields: db.a)"),
        ('{"hosts": ["a"]}', "hosts", "field 'hosts' holds an object or an array, not a value"),
        ('{"port": 1}', "port.x", "field 'port' is a value, not an object, so it has no field"),
    ],
)
def test_fields_that_cannot_be_written(value: str, field: str, problem: str) -> None:
    with pytest.raises(ShapeError) as raised:
        check_write(shape_of(value), field, "id", "aws-sm://x")
    assert problem in str(raised.value)
    assert str(raised.value).endswith("; nothing was written")


def test_writing_one_field_keeps_the_others_their_types_and_the_layout() -> None:
    changed = replace_in_text(RDS, "password", "new-Hq2Wd8", "prod/db")
    assert json.loads(changed) == {**json.loads(RDS), "password": "new-Hq2Wd8"}
    assert changed == RDS.replace("p-Zq8Yv3Tn0Kx5", "new-Hq2Wd8")  # compact stays compact
    spaced = json.dumps({"user": "ü", "pin": 1234, "ok": False, "n": None})
    assert replace_in_text(spaced, "user", "x", "n") == spaced.replace('"\\u00fc"', '"x"')
    indented = json.dumps({"a": "1", "b": {"c": 2}}, indent=2) + "\n"
    assert replace_in_text(indented, "a", "9", "n") == indented.replace('"1"', '"9"')
    # a number stays a number when the new value is one
    assert json.loads(replace_in_text(spaced, "pin", "5678", "n"))["pin"] == 5678
    assert json.loads(replace_in_text(spaced, "pin", "x1", "n"))["pin"] == "x1"
    # nested fields; an exact key with a dot wins over a path
    nested = '{"db": {"password": "a", "port": 5432}, "db.password": "b"}'
    assert json.loads(replace_in_text(nested, "db.password", "z", "n"))["db.password"] == "z"
    deep = '{"db": {"password": "a", "port": 5432}}'
    assert json.loads(replace_in_text(deep, "db.password", "z", "n")) == {
        "db": {"password": "z", "port": 5432}
    }
    # a new field beside the others, and a first value
    assert json.loads(replace_in_text(RDS, "token", "t", "n"))["token"] == "t"
    assert json.loads(replace_in_text(None, "db.password", "z", "n")) == {"db": {"password": "z"}}


def test_reading_fields() -> None:
    assert select_text(RDS, "password", "prod/db") == "p-Zq8Yv3Tn0Kx5"
    assert select_text(RDS, "port", "prod/db") == "5432"
    assert select_text('{"db": {"password": "a"}}', "db.password", "n") == "a"
    with pytest.raises(NotFoundError, match="has no field 'nope'"):
        select_text(RDS, "nope", "prod/db")
    with pytest.raises(NotFoundError, match="not a JSON object"):
        select_text("text", "password", "prod/db")


def test_no_value_reaches_a_message() -> None:
    for attempt in (
        lambda: check_write(shape_of(RDS), None, "id", "aws-sm://x"),
        lambda: replace_in_text(RDS, "port.x", "v", "n"),
        lambda: replace_in_text('{"db": {"password": "p-Zq8Yv3Tn0Kx5"}}', "db", "v", "n"),
    ):
        with pytest.raises(ShapeError) as raised:
            attempt()
        assert "p-Zq8Yv3Tn0Kx5" not in f"{raised.value} {raised.value.hint}"


# ------------------------------------------------- one row's view of its secret


def info(metadata: dict[str, str], **facts: object) -> SecretInfo:
    return SecretInfo("prod/db", "aws-sm://prod/db", metadata, **facts)  # type: ignore[arg-type]


def test_each_field_keeps_its_own_metadata_and_last_rotation() -> None:
    metadata = {
        "credctl:managed": "true",
        "credctl:version": "v2",
        row_key("credctl:owner", "password"): "@platform",
        row_key("credctl:last-rotated", "password"): stamp(3),
        row_key("credctl:owner", "username"): "@dba",
        row_key("credctl:last-rotated", "username"): stamp(200),
    }
    secret = info(metadata, current_version="v2", current_created=days_ago(3))
    assert row_key("credctl:owner", "password") == "credctl:field:password:owner"
    password, username = secret.for_field("password"), secret.for_field("username")
    assert (password.own("credctl:owner"), username.own("credctl:owner")) == ("@platform", "@dba")
    assert password.last_rotated is not None
    assert username.last_rotated is not None
    assert (password.last_rotated.date(), username.last_rotated.date()) == (
        days_ago(3).date(),
        days_ago(200).date(),
    )
    assert password.changed_outside is None
    # a field with no keys of its own, on a secret whose keys older credctl kept on it
    legacy = info({"credctl:owner": "@old", "credctl:last-rotated": stamp(9)}).for_field("x")
    assert legacy.own("credctl:owner") == "@old"


def test_a_version_credctl_did_not_make_is_a_change_outside() -> None:
    metadata = {"credctl:version": "v1", "credctl:last-rotated": stamp(200)}
    made = days_ago(2)
    outside = info(metadata, current_version="v2", current_created=made)
    assert outside.changed_outside == made
    assert outside.last_rotated == made
    ours = info(metadata, current_version="v1", current_created=days_ago(200))
    assert ours.changed_outside is None
    # made current by credctl and not recorded yet (a rotation stopped after its promote)
    staged = PendingInfo("r-1-2-host", days_ago(2), promoted=True)
    assert (
        info(
            metadata, current_version="v2", current_created=days_ago(2), pending=staged
        ).changed_outside
        is None
    )
    # no date for the version (AWS dates it only when asked): credctl's record stands
    assert info(metadata, current_version="v2").last_rotated is not None
    # written before credctl recorded versions: a version well after its last record
    older = {"credctl:last-rotated": stamp(200)}
    made = days_ago(1)
    assert info(older, current_version="3", current_created=made).changed_outside == made
    assert info(older, current_version="3", current_created=days_ago(200)).changed_outside is None


def test_another_tools_pending_value_is_foreign() -> None:
    assert PendingInfo("3f9c1a9e-0b6d-4c8e-9c1e-1f2a3b4c5d6e", None).foreign
    assert not PendingInfo("r-0a1b2c3d4e5f6a7b-4242-host", None).foreign
    owned = PendingInfo("r-0a1b2c3d4e5f6a7b-4242-host", None, field="password")
    assert owned.belongs_to("password")
    assert not owned.belongs_to("username")
    assert PendingInfo("r-0a1b2c3d4e5f6a7b-4242-host", None).belongs_to("username")


def test_secret_objects_stay_masked() -> None:
    assert "p-Zq8" not in repr(Secret(RDS))


def test_only_a_key_missing_from_an_object_is_a_missing_field() -> None:
    """The one case `credctl set ID` mends (its hint names it); a plain value where an object
    is wanted is another error, which `set` would refuse to write through."""
    with pytest.raises(FieldMissingError, match="has no field 'password'"):
        select({"user": "app"}, "password", "db")
    with pytest.raises(FieldMissingError):
        select({"db": {"user": "app"}}, "db.password", "db")
    with pytest.raises(NotFoundError) as raised:
        select({"db": "plain"}, "db.password", "db")
    assert not isinstance(raised.value, FieldMissingError)
