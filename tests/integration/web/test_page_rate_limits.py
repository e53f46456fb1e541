"""Pages count against the signed-in user's window, not their office's address: a seller's
pages and API calls share one window at the signed-in rate, while a visitor without a
signed-in session (or with a made-up session cookie) stays an anonymous caller of its IP."""

from __future__ import annotations

import pytest

from services.core.settings import Settings
from tests.integration.conftest import PASSWORD, app_client
from tests.integration.web.conftest import submit

pytestmark = pytest.mark.asyncio


def tight(settings: Settings) -> Settings:
    limited = settings.model_copy(deep=True)
    limited.http.anonymous_rate_per_minute = 4
    limited.http.default_rate_per_minute = 30
    return limited


async def test_a_signed_in_seller_browses_past_the_anonymous_limit(settings: Settings) -> None:
    async with app_client(tight(settings), base_url="https://test") as browser:
        r = await submit(
            browser, "/signup", "/signup", {"email": "pages@example.com", "password": PASSWORD}
        )
        assert r.status_code == 303, r.text
        statuses, limits = [], set()
        for _ in range(10):  # well past the address's 4 anonymous calls a minute
            r = await browser.get("/products")
            statuses.append(r.status_code)
            limits.add(r.headers["ratelimit-limit"])
        assert statuses == [200] * 10
        assert limits == {"30"}
        # The same seller's API calls count in the same window as their pages.
        r = await browser.post(
            "/api/v1/auth/login", json={"email": "pages@example.com", "password": PASSWORD}
        )
        token = r.json()["access_token"]
        page_remaining = int((await browser.get("/products")).headers["ratelimit-remaining"])
        r = await browser.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        api_limit = int(r.headers["ratelimit-limit"])
        assert int(r.headers["ratelimit-remaining"]) == api_limit - (30 - page_remaining) - 1


async def test_a_made_up_session_cookie_is_an_anonymous_caller(settings: Settings) -> None:
    async with app_client(tight(settings), base_url="https://test") as client:
        client.cookies.set("shelfwatch_session", "f" * 64, domain="test")
        statuses = [(await client.get("/login")).status_code for _ in range(6)]
        assert statuses == [200] * 4 + [429] * 2
        r = await client.get("/login")
        assert r.headers["ratelimit-limit"] == "4"


async def test_signing_out_makes_the_browser_anonymous_again(settings: Settings) -> None:
    async with app_client(tight(settings), base_url="https://test") as browser:
        await submit(
            browser, "/signup", "/signup", {"email": "out@example.com", "password": PASSWORD}
        )
        assert (await browser.get("/products")).headers["ratelimit-limit"] == "30"
        r = await submit(browser, "/products", "/logout", {})
        assert r.status_code == 303, r.text
        r = await browser.get("/login")
        assert r.headers["ratelimit-limit"] == "4"
