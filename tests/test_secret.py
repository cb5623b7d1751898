"""A secret value never shows itself by accident."""

from __future__ import annotations

import pickle

import pytest

from credctl.secret import Secret

CANARY = "canary-Sc4Wq9Lt2Xv7"


def test_a_secret_is_masked_in_every_text_form() -> None:
    secret = Secret(CANARY)
    texts = [repr(secret), str(secret), f"{secret}", f"{secret:>40}", "{}".format(secret)]  # noqa: UP032
    for text in texts:
        assert CANARY not in text
    assert repr([secret]) == "[Secret('********')]"
    assert secret.reveal() == CANARY


def test_secrets_compare_and_hash_by_value() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "a"
    assert len({Secret("a"), Secret("a")}) == 1


def test_a_secret_cannot_be_pickled() -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Secret(CANARY))
