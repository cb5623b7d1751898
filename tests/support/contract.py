"""The contract every backend passes: local, moto, moto_server, OpenBao.

A backend's test module subclasses `BackendContract` and provides the
`backend` fixture: a fresh backend whose environment prefix is unique to the
test, so tests can share one server.
"""

from __future__ import annotations

import json

import pytest

from credctl.backends.base import Backend
from credctl.errors import (
    BackendError,
    NotFoundError,
    RotationInProgressError,
    SecretDeletedError,
)
from credctl.model import META_LAST_ROTATED, META_MANAGED, META_OWNER, Ref
from credctl.schedule import parse_timestamp
from credctl.secret import Secret

CANARY = "canary-Zq8Yv3Tn0Kx5Lp2Wm7Rb"
MANAGED = {META_MANAGED: "true", META_OWNER: "@payments"}


def ref_of(backend: Backend, name: str, field: str | None = None) -> Ref:
    scheme = backend.reference(name).split("://", 1)[0]
    prefix = backend.reference(name).split("://", 1)[1][: -len(name)]
    return Ref(scheme, prefix + name, field)


def value_of(backend: Backend, name: str, field: str | None = None) -> str:
    ref = ref_of(backend, name, field)
    result = backend.read_values([ref])[ref]
    if isinstance(result, BackendError):
        raise result
    return result.reveal()


def by_name(backend: Backend) -> dict[str, object]:
    return {info.name: info for info in backend.list_secrets()}


class BackendContract:
    """Behaviour every backend must show; subclasses provide `backend`."""

    @pytest.fixture
    def name(self, backend: Backend) -> str:
        return backend.environment.prefix + "stripe/api-key"

    def test_lists_nothing_when_empty(self, backend: Backend) -> None:
        assert backend.list_secrets() == []

    def test_create_with_value_lists_metadata_and_reads_value(
        self, backend: Backend, name: str
    ) -> None:
        backend.create(name, MANAGED, Secret(CANARY))
        [info] = backend.list_secrets()
        assert info.name == name
        assert info.managed
        assert info.metadata[META_OWNER] == "@payments"
        assert info.has_value
        assert info.pending is None
        assert info.created is not None
        assert info.reference == backend.reference(name)
        assert value_of(backend, name) == CANARY

    def test_create_without_value_has_no_value(self, backend: Backend, name: str) -> None:
        backend.create(name, MANAGED, None)
        [info] = backend.list_secrets()
        assert not info.has_value
        ref = ref_of(backend, name)
        assert isinstance(backend.read_values([ref])[ref], NotFoundError)

    def test_create_of_an_existing_managed_secret_is_success(
        self, backend: Backend, name: str
    ) -> None:
        backend.create(name, MANAGED, Secret("first"))
        backend.create(name, MANAGED, Secret("second"))
        assert len(backend.list_secrets()) == 1
        assert value_of(backend, name) == "first"

    def test_set_metadata_merges_and_removes(self, backend: Backend, name: str) -> None:
        backend.create(name, {**MANAGED, "team:other-tool": "keep"}, Secret("v"))
        backend.set_metadata(name, {META_OWNER: "@billing", "credctl:schedule": "30d"})
        backend.set_metadata(name, {}, remove=["credctl:schedule"])
        [info] = backend.list_secrets()
        assert info.metadata[META_OWNER] == "@billing"
        assert info.metadata["team:other-tool"] == "keep"
        assert "credctl:schedule" not in info.metadata

    def test_last_rotated_comes_from_metadata(self, backend: Backend, name: str) -> None:
        backend.create(name, {**MANAGED, META_LAST_ROTATED: "2019-01-02T03:04:05Z"}, Secret("v"))
        [info] = backend.list_secrets()
        assert info.last_rotated == parse_timestamp("2019-01-02T03:04:05Z")

    def test_read_many_values_with_per_id_errors(self, backend: Backend) -> None:
        prefix = backend.environment.prefix
        names = [f"{prefix}svc{i}/key" for i in range(45)]
        for index, secret_name in enumerate(names):
            backend.create(secret_name, MANAGED, Secret(f"value-{index}"))
        refs = [ref_of(backend, n) for n in names]
        missing = ref_of(backend, prefix + "nope/key")
        results = backend.read_values([*refs, missing])
        assert [r.reveal() for r in (results[ref] for ref in refs)] == [  # type: ignore[union-attr]
            f"value-{i}" for i in range(45)
        ]
        assert isinstance(results[missing], NotFoundError)
        assert len(backend.list_secrets()) == 45

    def test_field_references_read_one_key(self, backend: Backend, name: str) -> None:
        backend.create(name, MANAGED, Secret(json.dumps({"client_id": "id", "client_secret": "s"})))
        assert value_of(backend, name, "client_secret") == "s"
        ref = ref_of(backend, name, "absent")
        assert isinstance(backend.read_values([ref])[ref], NotFoundError)

    def test_values_round_trip_byte_identical(self, backend: Backend, name: str) -> None:
        tricky = "multi\nline 'quotes' \"double\" $VAR ${VAR} # ünïcödé 🔑 \\ trailing  "
        backend.create(name, MANAGED, Secret(tricky))
        assert value_of(backend, name) == tricky

    def test_pending_is_staged_without_touching_current(self, backend: Backend, name: str) -> None:
        backend.create(name, MANAGED, Secret("old"))
        backend.put_pending(name, Secret("new"), "token-1")
        [info] = backend.list_secrets()
        assert info.pending is not None
        assert info.pending.token == "token-1"
        assert not info.pending.promoted
        assert value_of(backend, name) == "old"
        pending = backend.read_pending(name, "token-1")
        assert pending is not None
        assert pending.reveal() == "new"
        assert backend.read_pending(name, "other-token") is None

    def test_one_secret_now_agrees_with_the_listing(self, backend: Backend, name: str) -> None:
        assert backend.secret_info(name) is None
        backend.create(name, {**MANAGED, META_OWNER: "@team"}, Secret("old"))
        [listed] = backend.list_secrets()
        one = backend.secret_info(name)
        assert one is not None
        assert (one.name, one.current_version, one.has_value, one.pending) == (
            listed.name,
            listed.current_version,
            listed.has_value,
            None,
        )
        assert one.metadata[META_OWNER] == "@team"
        backend.put_pending(name, Secret("new"), "token-1")
        staged = backend.secret_info(name)
        assert staged is not None
        assert staged.pending is not None
        assert staged.pending.token == "token-1"
        version = backend.promote(name, "token-1")
        promoted = backend.secret_info(name)
        assert promoted is not None
        assert promoted.current_version == version
        assert promoted.pending is None

    def test_second_pending_is_refused_and_same_token_is_a_no_op(
        self, backend: Backend, name: str
    ) -> None:
        backend.create(name, MANAGED, Secret("old"))
        backend.put_pending(name, Secret("new"), "token-1")
        backend.put_pending(name, Secret("new"), "token-1")
        with pytest.raises(RotationInProgressError):
            backend.put_pending(name, Secret("other"), "token-2")
        pending = backend.read_pending(name, "token-1")
        assert pending is not None
        assert pending.reveal() == "new"

    def test_the_previous_value_is_readable_where_the_store_keeps_it(
        self, backend: Backend, name: str
    ) -> None:
        from credctl.backends.base import History

        if not isinstance(backend, History):
            return  # keeping history is a capability, not a duty
        other = backend.environment.prefix + "twilio/api-key"
        backend.create(name, MANAGED, Secret(json.dumps({"user": "a", "password": "old"})))
        backend.create(other, MANAGED, Secret("only"))
        backend.put_pending(name, Secret("new"), "token-1", "password")
        backend.promote(name, "token-1")
        missing = backend.environment.prefix + "nothing/here"
        assert backend.read_previous(
            [(name, "password"), (name, None), (other, None), (missing, None)]
        ) == [
            Secret("old"),
            Secret(json.dumps({"user": "a", "password": "old"})),
            None,
            None,
        ]

    def test_promote_makes_pending_current_and_keeps_previous(
        self, backend: Backend, name: str
    ) -> None:
        backend.create(name, MANAGED, Secret("old"))
        [before] = backend.list_secrets()
        assert before.current_version is not None
        backend.put_pending(name, Secret("new"), "token-1")
        version = backend.promote(name, "token-1")
        assert value_of(backend, name) == "new"
        [after] = backend.list_secrets()
        assert after.pending is None
        assert after.current_version == version
        assert version != before.current_version
        assert backend.read_version(name, before.current_version).reveal() == "old"
        assert backend.promote(name, "token-1") == version  # idempotent on resume

    def test_promote_can_keep_the_mark_until_the_change_is_recorded(
        self, backend: Backend, name: str
    ) -> None:
        backend.create(name, MANAGED, Secret("old"))
        [before] = backend.list_secrets()
        assert before.current_version is not None
        backend.put_pending(name, Secret("new"), "token-1")
        version = backend.promote(name, "token-1", keep_pending=True)
        assert value_of(backend, name) == "new"
        [marked] = backend.list_secrets()
        one = backend.secret_info(name)
        for seen in (marked, one):
            assert seen is not None
            assert seen.current_version == version
            assert seen.pending is not None
            assert (seen.pending.token, seen.pending.promoted) == ("token-1", True)
        # a resume writes nothing new; another token's discard leaves the mark alone
        assert backend.promote(name, "token-1", keep_pending=True) == version
        backend.discard_pending(name, "token-2")
        pending = backend.read_pending(name, "token-1")
        assert pending is not None
        assert pending.reveal() == "new"
        backend.discard_pending(name, "token-1")
        backend.discard_pending(name, "token-1")  # idempotent
        [after] = backend.list_secrets()
        assert (after.current_version, after.pending) == (version, None)
        assert value_of(backend, name) == "new"
        assert backend.read_version(name, before.current_version).reveal() == "old"

    def test_rotating_twice_keeps_each_value_readable(self, backend: Backend, name: str) -> None:
        backend.create(name, MANAGED, Secret("v1"))
        [first] = backend.list_secrets()
        backend.put_pending(name, Secret("v2"), "t2")
        second = backend.promote(name, "t2")
        backend.put_pending(name, Secret("v3"), "t3")
        backend.promote(name, "t3")
        assert first.current_version is not None
        assert backend.read_version(name, second).reveal() == "v2"
        assert value_of(backend, name) == "v3"

    def test_discard_pending_leaves_current(self, backend: Backend, name: str) -> None:
        backend.create(name, MANAGED, Secret("old"))
        backend.put_pending(name, Secret("new"), "token-1")
        backend.discard_pending(name, "token-1")
        [info] = backend.list_secrets()
        assert info.pending is None
        assert value_of(backend, name) == "old"
        backend.put_pending(name, Secret("again"), "token-2")  # the slot is free again
        backend.discard_pending(name)
        assert backend.list_secrets()[0].pending is None

    def test_rotating_one_field_keeps_the_others(self, backend: Backend, name: str) -> None:
        backend.create(name, MANAGED, Secret(json.dumps({"client_id": "id", "client_secret": "s"})))
        backend.put_pending(name, Secret("s2"), "token-1", field="client_secret")
        backend.promote(name, "token-1")
        assert value_of(backend, name, "client_secret") == "s2"
        assert value_of(backend, name, "client_id") == "id"

    def test_schedule_delete_is_recoverable_and_hides_the_value(
        self, backend: Backend, name: str
    ) -> None:
        backend.create(name, MANAGED, Secret("v"))
        hint = backend.schedule_delete(name)
        assert hint
        [listed] = [i for i in backend.list_secrets() if i.name == name]
        assert (listed.deleted, listed.destroyed) == (True, False)
        info = backend.secret_info(name)
        assert info is not None
        assert info.deleted
        ref = ref_of(backend, name)
        assert isinstance(backend.read_values([ref])[ref], BackendError)

    def test_create_never_writes_over_a_deleted_secret_and_restore_brings_it_back(
        self, backend: Backend, name: str
    ) -> None:
        backend.create(name, MANAGED, Secret("before"))
        backend.schedule_delete(name)
        with pytest.raises(SecretDeletedError):
            backend.create(name, MANAGED, Secret("after"))
        backend.restore(name)
        backend.restore(name)  # not deleted any more: nothing to do
        info = backend.secret_info(name)
        assert info is not None
        assert (info.deleted, info.has_value) == (False, True)
        assert value_of(backend, name) == "before"

    def test_describe_secrets_reads_names_outside_the_listing(
        self, backend: Backend, name: str
    ) -> None:
        outside = "zz-outside-" + backend.environment.prefix + "db"
        backend.create(outside, {"team": "data"}, Secret("v"))
        found = backend.describe_secrets([outside, outside + "-missing"])
        info = found[outside]
        assert info is not None
        assert (info.name, info.metadata["team"]) == (outside, "data")
        assert (info.deleted, info.has_value) == (False, True)
        assert found[outside + "-missing"] is None

    def test_lists_only_under_the_prefix(self, backend: Backend, name: str) -> None:
        backend.create(name, MANAGED, Secret("v"))
        outside = "zz-outside-" + backend.environment.prefix + "x/y"
        backend.create(outside, MANAGED, Secret("v"))
        assert [i.name for i in backend.list_secrets()] == [name]

    def test_no_value_in_repr_or_errors(self, backend: Backend, name: str) -> None:
        backend.create(name, MANAGED, Secret(CANARY))
        backend.put_pending(name, Secret(CANARY + "-new"), "token-1")
        with pytest.raises(RotationInProgressError) as caught:
            backend.put_pending(name, Secret(CANARY + "-other"), "token-2")
        ref = ref_of(backend, name)
        texts = [
            str(caught.value),
            repr(backend.read_values([ref])),
            repr(backend.list_secrets()),
            repr(backend.read_pending(name, "token-1")),
        ]
        assert not any(CANARY in text for text in texts)
