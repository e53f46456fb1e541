"""Factories that build test data straight in the database."""

from __future__ import annotations

import itertools
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.auth.models import User
from services.auth.passwords import hash_password
from services.product.models import Product, TrackedProduct

_asins = itertools.count(1)


def make_asin(prefix: str = "B0T") -> str:
    return f"{prefix}{next(_asins):07d}"[:10]


async def seed_tracked(
    sessionmaker: async_sessionmaker[AsyncSession],
    count: int,
    sellers: int = 1,
    marketplace: str = "US",
    frequency: str = "daily",
) -> list[int]:
    """Products tracked by `sellers` sellers each; returns the product ids."""
    async with sessionmaker() as session, session.begin():
        users = [
            User(
                email=f"seed{uuid.uuid4().hex[:8]}@example.com",
                password_hash=hash_password("irrelevant-1"),
                plan_id=1,
            )
            for _ in range(sellers)
        ]
        session.add_all(users)
        products = [Product(marketplace=marketplace, asin=make_asin()) for _ in range(count)]
        session.add_all(products)
        await session.flush()
        session.add_all(
            TrackedProduct(user_id=u.id, product_id=p.id, frequency=frequency)
            for u in users
            for p in products
        )
    return [p.id for p in products]
