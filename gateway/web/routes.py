"""Every page router of the gateway. A new page module adds its controllers to a router here
(or builds its own with ``page_router``) and its nav entry in ``gateway/web/nav.py``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import Router
from litestar.di import Provide

from gateway.web.kit import PAGE_EXCEPTION_HANDLERS, provide_page_admin, provide_page_user
from gateway.web.pages.account import AccountPages
from gateway.web.pages.admin import AdminPages
from gateway.web.pages.seller import SELLER_PAGES


def page_router(path: str, handlers: Sequence[Any]) -> Router:
    """A router of HTML pages: session user dependencies, errors rendered as pages."""
    return Router(
        path=path,
        route_handlers=list(handlers),
        dependencies={
            "page_user": Provide(provide_page_user),
            "page_admin": Provide(provide_page_admin),
        },
        exception_handlers=PAGE_EXCEPTION_HANDLERS,
        include_in_schema=False,
    )


PAGE_ROUTERS: list[Router] = [
    page_router("/", [AccountPages, *SELLER_PAGES]),
    page_router("/", [AdminPages]),
]
