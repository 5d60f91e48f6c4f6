"""Who is asking: users from users.yaml (tokens from the environment variables they name), the signed session
cookie, and CSRF tokens for forms.

- Tokens are compared with `hmac.compare_digest`, against every user, so the time taken says nothing about
  which user (or how much of a token) matched.
- The session cookie is `itsdangerous`-signed (HMAC-SHA1 over `{"e": email, "n": nonce}` with a timestamp),
  HttpOnly, SameSite=Lax, Secure when the inbox is served over https; its key is `SWITCHBOARD_SESSION_SECRET`,
  or a random key per process when that is unset (sessions then end when the process restarts).
- CSRF: a random nonce in its own HttpOnly cookie; every form carries HMAC(key, nonce), and every POST checks
  it (signed double-submit). A logged-in session also carries the nonce, so a form token only works with the
  session it was issued to.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from typing import Mapping

from itsdangerous import BadSignature, URLSafeTimedSerializer

from services.config.teams import UserConfig

SESSION_SECRET_ENV = "SWITCHBOARD_SESSION_SECRET"
SESSION_COOKIE = "sb_session"
CSRF_COOKIE = "sb_csrf"
SESSION_MAX_AGE = 12 * 3600


@dataclass(frozen=True)
class User:
    email: str
    name: str | None
    teams: tuple[str, ...]
    token: str  # the secret itself (from the environment); never logged or rendered

    def sees(self, team: str) -> bool:
        return "*" in self.teams or team in self.teams

    @property
    def label(self) -> str:
        return self.name or self.email


def users_from(config_users: list[UserConfig], environ: Mapping[str, str]) -> list[User]:
    """Users whose token variable is set and non-empty; the others cannot log in."""
    out = []
    for u in config_users:
        token = environ.get(u.token, "")
        if token:
            out.append(User(email=u.email, name=u.name, teams=tuple(u.teams), token=token))
    return out


class Access:
    def __init__(self, users: list[User], secret: str | None = None) -> None:
        self.users = users
        self._by_email = {u.email: u for u in users}
        key = secret or secrets.token_urlsafe(32)
        self._key = key.encode()
        self._sessions = URLSafeTimedSerializer(key, salt="switchboard.inbox.session")

    @classmethod
    def from_env(cls, users: list[User], environ: Mapping[str, str] | None = None) -> "Access":
        env = environ if environ is not None else os.environ
        return cls(users, env.get(SESSION_SECRET_ENV) or None)

    def by_token(self, token: str) -> User | None:
        """Compare against every user (no early exit): constant time in which one matched."""
        sent = token.encode("utf-8", "replace")
        found = None
        for user in self.users:
            if hmac.compare_digest(sent, user.token.encode()):
                found = user
        return found

    def login(self, email: str, token: str) -> User | None:
        user = self.by_token(token)
        ok = user is not None and hmac.compare_digest(user.email.encode(), email.strip().lower().encode("utf-8", "replace"))
        return user if ok else None

    def bearer(self, authorization: str | None) -> User | None:
        if not authorization or not authorization[:7].lower() == "bearer ":
            return None
        return self.by_token(authorization[7:].strip())

    # sessions
    def session_cookie(self, user: User, nonce: str) -> str:
        return self._sessions.dumps({"e": user.email, "n": nonce})

    def session_user(self, cookie: str | None, nonce: str | None) -> User | None:
        if not cookie or not nonce:
            return None
        try:
            data = self._sessions.loads(cookie, max_age=SESSION_MAX_AGE)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not hmac.compare_digest(str(data.get("n", "")).encode(), nonce.encode()):
            return None
        return self._by_email.get(str(data.get("e", "")))

    # CSRF
    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(24)

    def csrf_token(self, nonce: str) -> str:
        return hmac.new(self._key, b"csrf:" + nonce.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, nonce: str | None, sent: str | None) -> bool:
        if not nonce or not sent:
            return False
        return hmac.compare_digest(self.csrf_token(nonce).encode(), sent.encode("utf-8", "replace"))
