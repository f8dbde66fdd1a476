"""JWT bearer tokens with roles (PyJWT), and the service API key."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta

import jwt

from novamind_core.domain.errors import AuthenticationError, ConfigurationError
from novamind_core.domain.security import Principal, Role

ISSUER = "novamind"
MIN_SECRET_BYTES = 32


class TokenService:
    """Mints and verifies tokens signed with NOVAMIND_JWT_SECRET."""

    def __init__(self, secret: str | None, algorithm: str = "HS256") -> None:
        if not secret:
            raise ConfigurationError(
                "NOVAMIND_JWT_SECRET is not set: tokens cannot be minted or verified"
            )
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ConfigurationError(
                f"NOVAMIND_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes long"
            )
        self._secret = secret
        self._algorithm = algorithm

    def mint(self, subject: str, roles: list[Role], ttl: timedelta = timedelta(hours=8)) -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": subject,
            "roles": [r.value for r in roles],
            "iss": ISSUER,
            "iat": now,
            "exp": now + ttl,
        }
        return jwt.encode(claims, self._secret, algorithm=self._algorithm)

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; AuthenticationError says what was wrong."""
        return self.verify_until(token)[0]

    def verify_until(self, token: str) -> tuple[Principal, float]:
        """The principal of a valid token and its expiry (seconds since the epoch)."""
        if not token:
            raise AuthenticationError("missing bearer token")
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[self._algorithm],
                issuer=ISSUER,
                options={"require": ["exp", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("token expired") from None
        except jwt.InvalidSignatureError:
            raise AuthenticationError("token signature is invalid") from None
        except jwt.InvalidTokenError as exc:
            raise AuthenticationError(f"invalid token: {exc}") from None
        roles = set()
        for name in claims.get("roles", []):
            try:
                roles.add(Role(name))
            except ValueError:
                raise AuthenticationError(f"token names an unknown role {name!r}") from None
        return Principal(str(claims["sub"]), frozenset(roles)), float(claims["exp"])


def check_api_key(presented: str | None, configured: str | None) -> Principal:
    """Service-to-service calls: a constant-time comparison with NOVAMIND_API_KEY."""
    if not configured:
        raise AuthenticationError("API keys are not enabled (NOVAMIND_API_KEY is not set)")
    if not presented or not hmac.compare_digest(presented.encode(), configured.encode()):
        raise AuthenticationError("invalid API key")
    return Principal("service", frozenset({Role.SERVICE}))
