"""Auth module through the HTTP app: the happy path and every refusal."""

from __future__ import annotations

import asyncio
import time

import httpx
import jwt
import pytest

from cli.admin import create_admin
from services.core.settings import Settings
from tests.conftest import TEST_JWT_SECRET
from tests.integration.conftest import PASSWORD

pytestmark = pytest.mark.asyncio


async def register(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    return await client.post("/api/v1/auth/register", json={"email": email, "password": password})


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def test_register_normalises_email_and_assigns_default_plan(
    client: httpx.AsyncClient,
) -> None:
    r = await register(client, "  Jane.Doe@Example.COM ")
    assert r.status_code == 201
    body = r.json()
    assert body["email"] == "jane.doe@example.com"
    assert body["role"] == "seller"
    assert body["plan"]["name"] == "free"
    assert "password" not in r.text and "hash" not in r.text


async def test_register_refuses_choosing_a_plan_or_role(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/auth/register",
        json={"email": "x@example.com", "password": PASSWORD, "plan": "business", "role": "admin"},
    )
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in r.json()["errors"]} >= {"plan", "role"}


async def test_duplicate_email_is_a_conflict_whatever_the_case(client: httpx.AsyncClient) -> None:
    assert (await register(client, "dup@example.com")).status_code == 201
    r = await register(client, "DUP@example.com")
    assert r.status_code == 409
    assert r.json()["code"] == "email_taken"


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1!", "at least"),
        ("onlyletterslong", "mix letters"),
        ("1234567890123", "mix letters"),
        ("policyuser-pass1", "email"),
    ],
)
async def test_password_policy(client: httpx.AsyncClient, password: str, reason: str) -> None:
    r = await register(client, "policyuser@example.com", password)
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid_input"
    assert body["errors"][0]["field"] == "password"
    assert reason in body["errors"][0]["message"]


async def test_invalid_email(client: httpx.AsyncClient) -> None:
    r = await register(client, "not-an-email")
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "email"


async def bearer(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {(await login(client, email)).json()['access_token']}"}


async def test_login_refresh_me_logout(client: httpx.AsyncClient) -> None:
    await register(client, "flow@example.com")
    r = await login(client, "FLOW@example.com")
    assert r.status_code == 200
    pair = r.json()
    assert pair["token_type"] == "bearer" and pair["expires_in"] > 0
    auth = {"Authorization": f"Bearer {pair['access_token']}"}

    me = await client.get("/api/v1/auth/me", headers=auth)
    assert me.status_code == 200 and me.json()["email"] == "flow@example.com"

    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 200
    rotated = r.json()
    assert rotated["refresh_token"] != pair["refresh_token"]

    new_auth = {"Authorization": f"Bearer {rotated['access_token']}"}
    r = await client.post(
        "/api/v1/auth/logout", headers=new_auth, json={"refresh_token": rotated["refresh_token"]}
    )
    assert r.status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=new_auth)).json()["code"] == "token_revoked"
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert r.status_code == 401


async def test_reusing_a_rotated_refresh_token_revokes_the_family(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "reuse@example.com")
    first = (await login(client, "reuse@example.com")).json()
    second = (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    replay = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert replay.status_code == 401
    assert replay.json()["code"] == "token_reused"
    # The thief's replay also ended the legitimate successor token.
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert r.status_code == 401


async def test_wrong_password_and_unknown_account_look_the_same(client: httpx.AsyncClient) -> None:
    await register(client, "known@example.com")
    wrong = await login(client, "known@example.com", "Wrong-passw0rd")
    unknown = await login(client, "nobody@example.com", "Wrong-passw0rd")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"


async def test_repeated_failed_logins_are_throttled(client: httpx.AsyncClient) -> None:
    await register(client, "victim@example.com")
    for _ in range(5):
        assert (await login(client, "victim@example.com", "Wrong-passw0rd")).status_code == 401
    r = await login(client, "victim@example.com")  # even the right password waits now
    assert r.status_code == 429
    assert r.json()["code"] == "login_throttled"
    assert int(r.headers["retry-after"]) > 0


def _forge(payload: dict[str, object], key: str = TEST_JWT_SECRET, alg: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=alg)


async def _valid_claims(client: httpx.AsyncClient) -> dict[str, object]:
    await register(client, "claims@example.com")
    token = (await login(client, "claims@example.com")).json()["access_token"]
    return dict(jwt.decode(token, options={"verify_signature": False}))


@pytest.mark.parametrize(
    "case", ["expired", "tampered", "alg_none", "wrong_key", "refresh_as_access"]
)
async def test_bad_access_tokens_are_refused(client: httpx.AsyncClient, case: str) -> None:
    claims = await _valid_claims(client)
    if case == "expired":
        token = _forge({**claims, "exp": int(time.time()) - 10})
    elif case == "tampered":
        good = _forge(claims)
        header, payload, sig = good.split(".")
        other = _forge({**claims, "role": "admin"}).split(".")[1]
        token = f"{header}.{other}.{sig}"
    elif case == "alg_none":
        token = jwt.encode({**claims, "role": "admin"}, key=None, algorithm="none")  # type: ignore[arg-type]
    elif case == "wrong_key":
        token = _forge(claims, key="another-secret-another-secret-1234")
    else:
        token = _forge({**claims, "typ": "refresh"})
    r = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert r.json()["code"] == ("token_expired" if case == "expired" else "invalid_token")


async def test_me_without_token(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/auth/me")
    assert r.status_code == 401
    assert r.json()["code"] == "not_authenticated"


async def test_a_disabled_account_is_refused_at_once_and_readmitted_when_enabled(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """Requests authenticate without reading the account row; disabling must still shut out
    the account's live access token on its very next request, on every route. Enabling the
    account again readmits new sign-ins, never the tokens issued before the disable."""
    await register(client, "ops-disable@example.com")
    await create_admin(settings, "ops-disable@example.com", PASSWORD)
    admin = await bearer(client, "ops-disable@example.com")
    await register(client, "disabled@example.com")
    seller = await bearer(client, "disabled@example.com")
    me = await client.get("/api/v1/auth/me", headers=seller)
    assert me.status_code == 200
    user_id = me.json()["id"]

    r = await client.patch(
        f"/api/v1/admin/users/{user_id}", headers=admin, json={"is_active": False}
    )
    assert r.status_code == 200 and r.json()["is_active"] is False
    for path in ("/api/v1/products/", "/api/v1/auth/me", "/api/v1/alerts/"):
        r = await client.get(path, headers=seller)
        assert r.status_code == 401, (path, r.status_code)
        assert r.json()["code"] == "account_disabled"

    r = await client.patch(
        f"/api/v1/admin/users/{user_id}", headers=admin, json={"is_active": True}
    )
    assert r.status_code == 200
    r = await client.get("/api/v1/products/", headers=seller)
    assert r.status_code == 401 and r.json()["code"] == "account_disabled"
    # A token's iat has whole seconds: one of the disable's own second counts as before it.
    await asyncio.sleep(1.0 - time.time() % 1.0 + 0.01)
    again = await bearer(client, "disabled@example.com")
    assert (await client.get("/api/v1/products/", headers=again)).status_code == 200
    assert (await client.get("/api/v1/products/", headers=seller)).status_code == 401


async def test_a_revoked_token_is_refused_on_its_next_request_on_every_route(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "revoke@example.com")
    pair = (await login(client, "revoke@example.com")).json()
    auth = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await client.get("/api/v1/products/", headers=auth)).status_code == 200
    r = await client.post(
        "/api/v1/auth/logout", headers=auth, json={"refresh_token": pair["refresh_token"]}
    )
    assert r.status_code == 204
    for path in ("/api/v1/products/", "/api/v1/alerts/", "/api/v1/auth/me"):
        r = await client.get(path, headers=auth)
        assert r.status_code == 401 and r.json()["code"] == "token_revoked", path
