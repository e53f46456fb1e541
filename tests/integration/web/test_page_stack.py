"""The page stack through the HTTP app: sessions, CSRF, sign-in throttling, errors as pages,
and the assets the pages and /schema load."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from gateway.web.setup import CSRF_COOKIE, SESSION_COOKIE, STATIC_DIR
from tests.integration.conftest import PASSWORD
from tests.integration.web.conftest import csrf_token, submit


@pytest.mark.asyncio
async def test_pages_need_a_session_and_send_to_sign_in(browser: httpx.AsyncClient) -> None:
    r = await browser.get("/")
    assert r.status_code == 303
    assert r.headers["location"] == "/login"
    r = await browser.get("/", headers={"HX-Request": "true"})
    assert r.status_code == 204 and r.headers["HX-Redirect"] == "/login"


@pytest.mark.asyncio
async def test_anonymous_visits_leave_no_session_behind(browser: httpx.AsyncClient) -> None:
    r = await browser.get("/login")
    assert r.status_code == 200
    assert SESSION_COOKIE not in r.cookies
    assert CSRF_COOKIE in r.cookies


@pytest.mark.asyncio
async def test_sign_up_shows_the_rules_and_field_errors(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/signup")
    assert "At least 10 characters" in page.text
    r = await submit(browser, "/signup", "/signup", {"email": "not-an-email", "password": "x"})
    assert r.status_code == 422
    assert 'id="e-email"' in r.text and 'aria-invalid="true"' in r.text
    r = await submit(
        browser, "/signup", "/signup", {"email": "ok@example.com", "password": "short"}
    )
    assert r.status_code == 422
    assert "must be at least 10 characters" in r.text
    # The email is kept, the password is never echoed back.
    assert 'value="ok@example.com"' in r.text and "short" not in r.text.split("<main")[1]


@pytest.mark.asyncio
async def test_sign_up_signs_in_and_sign_out_ends_the_session(
    browser: httpx.AsyncClient, sign_up: Callable[..., Awaitable[str]]
) -> None:
    email = await sign_up()
    r = await browser.get("/")
    assert r.status_code == 200 and email in r.text
    r = await browser.post("/logout", data={"_csrf_token": csrf_token(r.text)})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert (await browser.get("/")).status_code == 303


@pytest.mark.asyncio
async def test_a_planted_session_id_is_replaced_at_sign_in(
    browser: httpx.AsyncClient, sign_up: Callable[..., Awaitable[str]]
) -> None:
    email = await sign_up()
    planted = browser.cookies.get(SESSION_COOKIE)
    assert planted
    r = await browser.post(
        "/logout", data={"_csrf_token": csrf_token((await browser.get("/")).text)}
    )
    r = await submit(browser, "/login", "/login", {"email": email, "password": PASSWORD})
    assert r.status_code == 303
    fresh = browser.cookies.get(SESSION_COOKIE)
    assert fresh and fresh != planted
    # The old id opens nothing any more.
    browser.cookies.clear()
    browser.cookies.set(SESSION_COOKIE, planted)
    assert (await browser.get("/")).status_code == 303


@pytest.mark.asyncio
async def test_cookies_are_httponly_secure_and_lax(browser: httpx.AsyncClient) -> None:
    r = await submit(
        browser, "/signup", "/signup", {"email": "flags@example.com", "password": PASSWORD}
    )
    headers = [h.lower() for h in r.headers.get_list("set-cookie")]
    session = next(h for h in headers if h.startswith(SESSION_COOKIE))
    assert "httponly" in session and "secure" in session and "samesite=lax" in session


@pytest.mark.asyncio
async def test_a_form_posted_without_the_csrf_token_is_refused(
    browser: httpx.AsyncClient, sign_up: Callable[..., Awaitable[str]]
) -> None:
    await sign_up()
    r = await browser.post("/logout", data={})
    assert r.status_code == 403
    assert "text/html" in r.headers["content-type"]
    r = await browser.post("/logout", data={"_csrf_token": "forged"})
    assert r.status_code == 403
    assert (await browser.get("/")).status_code == 200  # still signed in


@pytest.mark.asyncio
async def test_the_json_api_keeps_bearer_tokens_without_csrf(browser: httpx.AsyncClient) -> None:
    r = await browser.post(
        "/api/v1/auth/register", json={"email": "api@example.com", "password": PASSWORD}
    )
    assert r.status_code == 201
    r = await browser.post(
        "/api/v1/auth/login", json={"email": "api@example.com", "password": PASSWORD}
    )
    assert r.status_code == 200 and SESSION_COOKIE not in r.cookies


@pytest.mark.asyncio
async def test_sign_in_errors_and_the_throttle_shared_with_the_api(
    browser: httpx.AsyncClient, sign_up: Callable[..., Awaitable[str]]
) -> None:
    email = await sign_up()
    await browser.post("/logout", data={"_csrf_token": csrf_token((await browser.get("/")).text)})
    r = await submit(browser, "/login", "/login", {"email": email, "password": "wrong-pass-1"})
    assert r.status_code == 401 and "Wrong email or password" in r.text
    for _ in range(4):  # the API's failures count against the same account
        await browser.post("/api/v1/auth/login", json={"email": email, "password": "nope-12345"})
    r = await submit(browser, "/login", "/login", {"email": email, "password": PASSWORD})
    assert r.status_code == 429 and "Too many failed logins" in r.text


@pytest.mark.asyncio
async def test_sign_in_goes_back_to_the_page_asked_for_on_this_site_only(
    browser: httpx.AsyncClient, sign_up: Callable[..., Awaitable[str]]
) -> None:
    email = await sign_up()
    await browser.post("/logout", data={"_csrf_token": csrf_token((await browser.get("/")).text)})
    data = {"email": email, "password": PASSWORD, "next": "/alerts"}
    r = await submit(browser, "/login", "/login", data)
    assert r.headers["location"] == "/alerts"
    await browser.post("/logout", data={"_csrf_token": csrf_token((await browser.get("/")).text)})
    r = await submit(browser, "/login", "/login", {**data, "next": "//evil.example/x"})
    assert r.headers["location"] == "/"


@pytest.mark.asyncio
async def test_every_page_response_carries_the_strict_csp(browser: httpx.AsyncClient) -> None:
    for path in ("/login", "/schema"):
        csp = (await browser.get(path)).headers["content-security-policy"]
        assert "script-src 'self';" in csp and "unsafe" not in csp


@pytest.mark.asyncio
async def test_schema_page_loads_only_local_assets(browser: httpx.AsyncClient) -> None:
    html = (await browser.get("/schema")).text
    assert "http://" not in html and "https://" not in html
    for asset in (
        "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/vendor/swagger-ui-dist/swagger-ui.css",
        "/static/js/swagger-init.js",
    ):
        assert asset in html
        assert (await browser.get(asset)).status_code == 200
    assert (await browser.get("/schema/openapi.json")).status_code == 200


def test_vendored_packages_carry_their_licence_and_version() -> None:
    vendor = Path(STATIC_DIR) / "vendor"
    pinned = [
        line.split()[0]
        for line in (vendor / "versions.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(pinned) >= 3
    for spec in pinned:
        folder = vendor / spec.rsplit("@", 1)[0].removesuffix(".org")
        assert (folder / "LICENSE").stat().st_size > 100
        assert (folder / "VERSION").read_text().strip() == spec
