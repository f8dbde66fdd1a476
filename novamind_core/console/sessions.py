"""Who is signed in to the console, and the protection of its forms.

The session cookie holds the platform's own JWT (pasted once, or issued for a development
user by the token issuer's key): ``HttpOnly``, ``SameSite=Strict``, ``Secure`` when served
over TLS; it lives no longer than the token. Every form carries a CSRF token bound to the
session (an HMAC of the token) and a one-time form id: a form submitted twice is refused
the second time, so nothing is recorded twice.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass

from novamind_core.domain.errors import AuthenticationError, AuthorizationError
from novamind_core.domain.security import Principal, Role

COOKIE = "novamind_session"
READ_ROLES = (Role.REVIEWER, Role.ML_ENGINEER)
DECIDE_ROLES = (Role.REVIEWER,)
PATIENT_ROLES = (Role.CLINICIAN,)
FORM_SECONDS = 3600


@dataclass(frozen=True)
class Session:
    token: str
    principal: Principal
    expires: float


class Sessions:
    def __init__(self, tokens, dev_users: dict[str, dict] | None = None, signer=None):
        """``tokens`` verifies JWTs; ``dev_users`` (name -> {"password_sha256", "roles"})
        may sign in with a password when ``signer`` (the token issuer) is configured."""
        self.tokens = tokens
        self.dev_users = dev_users or {}
        self.signer = signer
        self._secret = os.urandom(32)
        self._forms: dict[str, tuple[str, float]] = {}

    def from_token(self, token: str) -> Session:
        principal, expires = self.tokens.verify_until(token.strip())
        return Session(token.strip(), principal, expires)

    def from_password(self, user: str, password: str) -> str:
        """A fresh token for a development user whose password matches."""
        from datetime import timedelta

        entry = self.dev_users.get(user)
        given = hashlib.sha256(password.encode()).hexdigest()
        if entry is None or not hmac.compare_digest(given, entry.get("password_sha256", "")):
            raise AuthenticationError("unknown user or wrong password")
        if self.signer is None:
            raise AuthenticationError("password sign-in needs the token issuer's key here")
        roles = [Role(r) for r in entry.get("roles", [])]
        return self.signer.mint(user, roles, timedelta(hours=8))

    def current(self, cookie: str | None) -> Session | None:
        """The session of a cookie, or None when there is none or it no longer verifies."""
        if not cookie:
            return None
        try:
            return self.from_token(cookie)
        except AuthenticationError:
            return None

    @staticmethod
    def require(session: Session, roles: tuple[Role, ...]) -> None:
        session.principal.require(*roles)

    # -- forms ----------------------------------------------------------------------------
    def csrf(self, session: Session) -> str:
        return hmac.new(self._secret, session.token.encode(), hashlib.sha256).hexdigest()[:32]

    def new_form(self, session: Session) -> str:
        now = time.time()
        self._forms = {k: v for k, v in self._forms.items() if v[1] > now}
        form_id = secrets.token_hex(16)
        self._forms[form_id] = (self.csrf(session), now + FORM_SECONDS)
        return form_id

    def check_form(self, session: Session, csrf: str, form_id: str) -> None:
        """Refuse a form without this session's CSRF token, or one submitted already."""
        if not csrf or not hmac.compare_digest(csrf, self.csrf(session)):
            raise AuthorizationError("the form's security token is missing or not this session's")
        held = self._forms.pop(form_id or "", None)
        if held is None or held[0] != csrf:
            raise AuthorizationError(
                "this form was already submitted (or has expired): nothing was recorded again"
            )
