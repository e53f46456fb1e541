"""All SQL of the auth module."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update

from services.auth.models import Plan, RefreshToken, User
from services.core.repository import Repository

DEFAULT_PLAN = "free"


class UserRepository(Repository):
    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def get_by_email(self, email: str) -> User | None:
        result = await self.session.execute(select(User).where(User.email == email))
        return result.scalar_one_or_none()

    async def plan_limits(self, user_id: uuid.UUID, lock: bool) -> Plan | None:
        """The account's plan; ``lock`` holds the account row to the end of the transaction."""
        stmt = select(Plan).join(User, User.plan_id == Plan.id).where(User.id == user_id)
        if lock:
            stmt = stmt.with_for_update(of=User)
        return await self._one_or_none(stmt)

    async def add(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        await self.session.refresh(user, ["plan", "created_at"])
        return user


class PlanRepository(Repository):
    async def get_by_name(self, name: str) -> Plan | None:
        result = await self.session.execute(select(Plan).where(Plan.name == name))
        return result.scalar_one_or_none()

    async def list(self) -> list[Plan]:
        result = await self.session.execute(select(Plan).order_by(Plan.max_tracked_products))
        return list(result.scalars())

    async def page(self, limit: int, offset: int) -> tuple[Sequence[Plan], int]:
        total = await self.session.scalar(select(func.count()).select_from(Plan))
        result = await self.session.execute(
            select(Plan).order_by(Plan.max_tracked_products, Plan.name).limit(limit).offset(offset)
        )
        return result.scalars().all(), int(total or 0)


class RefreshTokenRepository(Repository):
    async def add(self, token: RefreshToken) -> None:
        self.session.add(token)
        await self.session.flush()

    async def get_by_hash_for_update(self, token_hash: str) -> RefreshToken | None:
        # The row lock makes two concurrent refreshes with one token see each other's use.
        result = await self.session.execute(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
        )
        return result.scalar_one_or_none()

    async def revoke_family(self, family_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_all_for_user(self, user_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def delete_expired(self, before: datetime) -> int:
        result = await self.session.execute(
            delete(RefreshToken).where(RefreshToken.expires_at < before)
        )
        return int(getattr(result, "rowcount", 0) or 0)
