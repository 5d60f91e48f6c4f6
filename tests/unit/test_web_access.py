"""Users, sessions, CSRF tokens and the failed-login throttle (pure)."""

from __future__ import annotations

import pytest

from services.config.teams import UserConfig
from services.web.access import Access, users_from
from services.web.throttle import LoginThrottle

pytestmark = pytest.mark.unit

USERS = [UserConfig(email="Dana@Example.com", name="Dana", teams=["insights"], token="T_DANA"),
         UserConfig(email="ops@example.com", teams=["*"], token="T_OPS"),
         UserConfig(email="nobody@example.com", teams=["*"], token="T_UNSET")]
ENV = {"T_DANA": "dana-token", "T_OPS": "ops-token", "T_UNSET": ""}


def access(secret: str | None = "k") -> Access:
    return Access(users_from(USERS, ENV), secret)


def test_users_without_a_token_cannot_log_in_and_teams_are_enforced() -> None:
    users = users_from(USERS, ENV)
    assert [u.email for u in users] == ["dana@example.com", "ops@example.com"]
    a = access()
    assert a.by_token("") is None and a.by_token("dana-token").email == "dana@example.com"
    assert a.login(" DANA@example.com ", "dana-token").email == "dana@example.com"
    assert a.login("ops@example.com", "dana-token") is None  # another user's token
    assert a.login("dana@example.com", "dana-token ") is None
    assert a.bearer("Bearer ops-token").sees("anything") and not a.bearer("Bearer dana-token").sees("platform")
    assert a.bearer("Basic ops-token") is None and a.bearer(None) is None and a.bearer("Bearer ") is None


def test_session_cookie_is_signed_and_bound_to_the_csrf_nonce() -> None:
    a = access()
    user = a.by_token("dana-token")
    nonce = a.new_nonce()
    cookie = a.session_cookie(user, nonce)
    assert a.session_user(cookie, nonce) == user
    assert a.session_user(cookie, a.new_nonce()) is None  # another browser's nonce
    assert a.session_user(cookie[:-2] + "xx", nonce) is None  # tampered
    assert access("other-key").session_user(cookie, nonce) is None  # another key
    assert Access(users_from(USERS, ENV)).session_user(cookie, nonce) is None  # random key per process


def test_csrf_token_checks() -> None:
    a = access()
    nonce = a.new_nonce()
    token = a.csrf_token(nonce)
    assert a.csrf_ok(nonce, token)
    assert not a.csrf_ok(nonce, token[:-1] + ("0" if token[-1] != "0" else "1"))
    assert not a.csrf_ok(a.new_nonce(), token) and not a.csrf_ok(None, token) and not a.csrf_ok(nonce, None)
    assert not a.csrf_ok(nonce, nonce)  # the nonce itself is not the token


def test_login_throttle_per_email_and_client() -> None:
    t = LoginThrottle(limit=3, window=60)
    for i in range(3):
        assert t.retry_after("dana@example.com", "1.2.3.4", 100 + i) == 0
        t.failed("Dana@example.com", "1.2.3.4", 100 + i)
    assert t.retry_after("dana@example.com", "1.2.3.4", 110) == pytest.approx(50)
    assert t.retry_after("dana@example.com", "5.6.7.8", 110) == 0  # another client
    assert t.retry_after("ops@example.com", "1.2.3.4", 110) == 0  # another e-mail
    assert t.retry_after("dana@example.com", "1.2.3.4", 160.5) == 0  # the oldest failure aged out
    t.failed("dana@example.com", "1.2.3.4", 161)
    t.succeeded("dana@example.com", "1.2.3.4")
    assert t.retry_after("dana@example.com", "1.2.3.4", 162) == 0
