"""Access tokens (JWT, pinned algorithm) and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from services.core.errors import NotAuthenticated
from services.core.settings import AuthSettings

ISSUER = "shelfwatch"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    role: str
    rate_limit_per_minute: int
    jti: str
    expires_at: datetime
    issued_at: int  # whole seconds, as the token's iat


def issue_access_token(
    settings: AuthSettings, user_id: uuid.UUID, role: str, rate_limit_per_minute: int
) -> tuple[str, AccessClaims]:
    now = datetime.now(UTC)
    claims = AccessClaims(
        user_id=user_id,
        role=role,
        rate_limit_per_minute=rate_limit_per_minute,
        jti=uuid.uuid4().hex,
        expires_at=now + timedelta(seconds=settings.access_token_ttl_s),
        issued_at=int(now.timestamp()),
    )
    payload = {
        "iss": ISSUER,
        "sub": str(user_id),
        "role": role,
        # The plan's rate rides in the token so the limiter needs no database read.
        "rpm": rate_limit_per_minute,
        "jti": claims.jti,
        "typ": "access",
        "iat": claims.issued_at,
        "exp": int(claims.expires_at.timestamp()),
    }
    token = jwt.encode(
        payload, settings.jwt_secret.get_secret_value(), algorithm=settings.jwt_algorithm
    )
    return token, claims


# A client sends the same access token with every request for its whole life: its verified
# claims are kept, by the exact token string and the key and algorithm that verified it, so
# the signature and claims are checked once per token and process rather than per request
# (~0.1 ms of CPU each). Expiry is still checked on every use; revocation is not a property
# of the token and is checked per request elsewhere.
_VERIFIED: OrderedDict[tuple[str, str, str], AccessClaims] = OrderedDict()
_VERIFIED_MAX = 4096


def decode_access_token(settings: AuthSettings, token: str) -> AccessClaims:
    """Verify signature, algorithm, expiry and shape; anything else is NotAuthenticated."""
    key = (token, settings.jwt_algorithm, settings.jwt_secret.get_secret_value())
    known = _VERIFIED.get(key)
    if known is not None:
        if datetime.now(UTC) >= known.expires_at:
            _VERIFIED.pop(key, None)
            raise NotAuthenticated("The access token has expired", code="token_expired")
        return known
    claims = _verify(settings, token)
    _VERIFIED[key] = claims
    if len(_VERIFIED) > _VERIFIED_MAX:
        _VERIFIED.popitem(last=False)
    return claims


def _verify(settings: AuthSettings, token: str) -> AccessClaims:
    try:
        payload = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[settings.jwt_algorithm],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "jti", "iss"]},
        )
        if payload.get("typ") != "access":
            raise NotAuthenticated("Not an access token", code="invalid_token")
        return AccessClaims(
            user_id=uuid.UUID(payload["sub"]),
            role=str(payload["role"]),
            rate_limit_per_minute=int(payload["rpm"]),
            jti=str(payload["jti"]),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
            issued_at=int(payload["iat"]),
        )
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated("The access token has expired", code="token_expired") from exc
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError) as exc:
        raise NotAuthenticated("The access token is invalid", code="invalid_token") from exc


def new_refresh_token() -> str:
    return secrets.token_urlsafe(48)


def hash_refresh_token(token: str) -> str:
    # Refresh tokens are 384 random bits, so a fast hash is enough to make a stolen table useless.
    return hashlib.sha256(token.encode()).hexdigest()
