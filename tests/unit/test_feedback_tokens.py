"""Signed "did this help?" links: a token names the item and the verdict, and only a correctly signed one reads."""

from __future__ import annotations

import pytest

from services.common.feedback_tokens import BadToken, feedback_url, make_token, read_token

pytestmark = pytest.mark.unit

ENV = {"SWITCHBOARD_FEEDBACK_SECRET": "unit-test-feedback-secret"}
ITEM = "0123456789abcdef01234567"


@pytest.mark.parametrize("verdict", ["helpful", "not_helpful"])
def test_round_trip(verdict):
    assert read_token(make_token(ITEM, verdict, ENV), ENV) == (ITEM, verdict)


def test_url_is_built_on_the_public_url():
    url = feedback_url("https://sb.example.com/", ITEM, "not_helpful", ENV)
    assert url.startswith("https://sb.example.com/feedback/n." + ITEM + ".")
    assert read_token(url.rsplit("/", 1)[1], ENV) == (ITEM, "not_helpful")


def _flip(token: str, index: int) -> str:
    c = token[index]
    return token[:index] + ("A" if c != "A" else "B") + token[index + 1:]


def test_tampered_signature_item_or_verdict_is_refused():
    token = make_token(ITEM, "helpful", ENV)
    code, item, sig = token.split(".")
    for bad in (
        _flip(token, len(token) - 2),  # signature
        f"{code}.{ITEM[:-1]}8.{sig}",  # another item with this item's signature
        f"n.{item}.{sig}",  # the verdict flipped
    ):
        with pytest.raises(BadToken):
            read_token(bad, ENV)


def test_token_signed_with_another_secret_is_refused():
    token = make_token(ITEM, "helpful", {"SWITCHBOARD_FEEDBACK_SECRET": "another-secret"})
    with pytest.raises(BadToken):
        read_token(token, ENV)


@pytest.mark.parametrize(
    "token", ["", "y", f"y.{ITEM}", f"x.{ITEM}.abc", f"y..abc", "y.a.b.c", "y." + "a" * 300 + ".sig", f"y.{ITEM}."]
)
def test_malformed_or_unsigned_tokens_are_refused(token):
    with pytest.raises(BadToken):
        read_token(token, ENV)


def test_without_a_secret_links_are_off():
    token = make_token(ITEM, "helpful", ENV)
    with pytest.raises(BadToken):
        read_token(token, {})
    with pytest.raises(BadToken):
        make_token(ITEM, "helpful", {})
