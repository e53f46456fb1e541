"""What every new or changed tracking goes through, whichever service writes it: reading the
product reference, cleaning the tags, the plan's quota, and what follows the write (the seller's
cached lists invalidated after the commit, a first crawl asked for never-crawled products)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.service import AccountService
from services.core.errors import FieldError, InvalidInput, QuotaExceeded
from services.core.jobs import Queue
from services.core.read_cache import ReadCache
from services.core.settings import Settings
from services.core.uow import UnitOfWork
from services.product.asin import InvalidProductReference, parse_product_reference
from services.product.cache import list_version_key
from services.product.jobs import ProductJob, first_crawls_job_id
from services.product.marketplaces import Marketplace
from services.product.models import Product
from services.product.repository import TrackingRepository
from services.product.schemas import Seller


def product_reference(
    product: str, marketplace: Marketplace | None, *, url_must_match: bool = True
) -> tuple[str, str]:
    """(marketplace, ASIN) of an ASIN or Amazon URL, as InvalidInput with field errors when it
    cannot be read; a bare ASIN needs ``marketplace``, and with ``url_must_match`` a URL must be
    on ``marketplace`` when one is given."""
    try:
        ref = parse_product_reference(product, marketplace)
    except InvalidProductReference as exc:
        raise InvalidInput(str(exc), field_errors=[FieldError("product", str(exc))]) from exc
    if ref.marketplace is None:
        raise InvalidInput(
            "A marketplace is needed with a bare ASIN",
            field_errors=[FieldError("marketplace", "required when product is an ASIN")],
        )
    if url_must_match and marketplace is not None and marketplace != ref.marketplace:
        raise InvalidInput(
            "The URL belongs to another marketplace than the one given",
            field_errors=[FieldError("marketplace", f"the URL is on {ref.marketplace.value}")],
        )
    return ref.marketplace.value, ref.asin


def clean_tags(tags: list[str]) -> list[str]:
    """The tags stripped, deduplicated and sorted; InvalidInput past 50 characters."""
    cleaned = sorted({t.strip() for t in tags if t.strip()})
    if any(len(t) > 50 for t in cleaned):
        raise InvalidInput("A tag is too long", field_errors=[FieldError("tags", "50 chars max")])
    return cleaned


def quota_exceeded(maximum: int, active: int) -> QuotaExceeded:
    return QuotaExceeded(
        f"Your plan tracks at most {maximum} products ({active} tracked now)",
        code="tracking_quota_exceeded",
    )


class PlanQuota:
    """The plan's tracked-product quota against the seller's active trackings."""

    def __init__(self, session: AsyncSession) -> None:
        self.accounts = AccountService(session)
        self.trackings = TrackingRepository(session)

    async def locked(self, user: Seller) -> tuple[int, int]:
        """(plan's maximum, active now), with the account row locked so concurrent track and
        resume calls of one seller see each other's count."""
        limits = await self.accounts.limits(user.id, lock=True)
        return limits.max_tracked_products, await self.trackings.count_active_for_user(user.id)

    async def usage(self, user: Seller) -> tuple[int, int]:
        """(the plan's tracked-product quota, active trackings now), without any lock."""
        limits = await self.accounts.limits(user.id)
        return limits.max_tracked_products, await self.trackings.count_active_for_user(user.id)

    async def check(self, user: Seller, adding: int = 1) -> None:
        maximum, active = await self.locked(user)
        if active + adding > maximum:
            raise quota_exceeded(maximum, active)


def lists_changed(uow: UnitOfWork, cache: ReadCache, user_id: uuid.UUID) -> None:
    """Invalidate the seller's cached lists and views once the unit of work commits."""
    # After the commit: a list read before it must not be cached under the new version.
    key = list_version_key(user_id)

    async def bump() -> None:
        await cache.bump(key)

    uow.after_commit.append(bump)


def ask_first_crawl(
    uow: UnitOfWork, settings: Settings | None, products: Sequence[Product]
) -> None:
    """A product nobody crawled yet is crawled within a minute, not at the next planning
    tick: one planning pass per short window, run once the window closes (so after this
    commit), batches every product tracked meanwhile by any seller."""
    now = datetime.now(UTC)
    if not any(
        p.last_crawled_at is None and (p.crawl_pending_until is None or p.crawl_pending_until < now)
        for p in products
    ):
        return
    window_s = settings.crawl.first_crawl_batch_s if settings else 5
    window, into = divmod(now.timestamp(), window_s)
    uow.jobs.enqueue(
        ProductJob.PLAN_FIRST_CRAWLS,
        queue=Queue.CRITICAL,
        job_id=first_crawls_job_id(int(window)),
        # Past the window's end: a product tracked late in the window is still in the pass.
        defer_by_s=window_s - into + 0.5,
    )
