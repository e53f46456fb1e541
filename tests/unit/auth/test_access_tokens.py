"""Access tokens: verified once per token and process, yet expiry, the signing key and any
change to the token still decide on every use."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import jwt
import pytest
from pydantic import SecretStr

from services.auth.tokens import ISSUER, decode_access_token, issue_access_token
from services.core.errors import NotAuthenticated
from services.core.settings import AuthSettings


def settings(secret: str = "a-test-secret-of-some-length-0123456789") -> AuthSettings:
    return AuthSettings(jwt_secret=SecretStr(secret))


def short_lived(auth: AuthSettings, seconds: float) -> str:
    now = datetime.now(UTC).timestamp()
    payload = {
        "iss": ISSUER,
        "sub": str(uuid.uuid4()),
        "role": "seller",
        "rpm": 60,
        "jti": uuid.uuid4().hex,
        "typ": "access",
        "iat": int(now),
        "exp": now + seconds,
    }
    return jwt.encode(payload, auth.jwt_secret.get_secret_value(), algorithm=auth.jwt_algorithm)


def test_a_token_decodes_the_same_every_time() -> None:
    auth = settings()
    token, issued = issue_access_token(auth, uuid.uuid4(), "seller", 120)
    first = decode_access_token(auth, token)
    assert first == decode_access_token(auth, token)
    assert (first.user_id, first.jti, first.issued_at) == (
        issued.user_id,
        issued.jti,
        issued.issued_at,
    )


def test_a_verified_token_still_expires() -> None:
    auth = settings()
    token = short_lived(auth, 1.0)
    assert decode_access_token(auth, token).role == "seller"
    time.sleep(1.1)
    with pytest.raises(NotAuthenticated) as refused:
        decode_access_token(auth, token)
    assert refused.value.code == "token_expired"


def test_a_token_verified_under_one_key_is_refused_under_another() -> None:
    token, _ = issue_access_token(settings(), uuid.uuid4(), "seller", 120)
    decode_access_token(settings(), token)
    with pytest.raises(NotAuthenticated) as refused:
        decode_access_token(settings("another-secret-of-some-length-0123456789"), token)
    assert refused.value.code == "invalid_token"


def test_any_change_to_a_verified_token_is_refused() -> None:
    auth = settings()
    token, _ = issue_access_token(auth, uuid.uuid4(), "seller", 120)
    decode_access_token(auth, token)
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for forged in (f"{header}.{payload}.{flipped}", f"{header}.{payload}x.{signature}"):
        with pytest.raises(NotAuthenticated):
            decode_access_token(auth, forged)
