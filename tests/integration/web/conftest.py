"""Page-level fixtures: a browser-like client (HTTPS, so Secure cookies flow) and helpers to
post forms with the CSRF token the way a browser does."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from services.core.settings import Settings
from tests.integration.conftest import PASSWORD, app_client

_emails = itertools.count(1)
_TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')


@pytest.fixture
async def browser(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings, base_url="https://test") as http:
        yield http


def csrf_token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def submit(
    client: httpx.AsyncClient, form_page: str, action: str, data: dict[str, str]
) -> httpx.Response:
    """Open the page holding the form, then post it with the page's CSRF token."""
    page = await client.get(form_page)
    assert page.status_code == 200, page.text
    return await client.post(action, data={"_csrf_token": csrf_token(page.text), **data})


@pytest.fixture
def sign_up(browser: httpx.AsyncClient) -> Callable[..., Awaitable[str]]:
    """Create a seller through the sign-up page; the client is then signed in."""

    async def make(email: str | None = None) -> str:
        email = email or f"web{next(_emails)}@example.com"
        r = await submit(browser, "/signup", "/signup", {"email": email, "password": PASSWORD})
        assert r.status_code == 303, r.text
        return email

    return make
