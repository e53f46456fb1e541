"""Creating (or promoting) an admin account from the command line."""

from __future__ import annotations

from services.auth.models import Role
from services.auth.schemas import UserCreate
from services.auth.service import AuthService, normalise_email
from services.core.db import create_engine, create_sessionmaker
from services.core.settings import Settings
from services.core.uow import unit_of_work


async def create_admin(settings: Settings, email: str, password: str) -> str:
    """Register the account as admin, or promote it when it already exists."""
    engine = create_engine(settings)
    try:
        async with unit_of_work(create_sessionmaker(engine), None) as uow:
            service = AuthService(uow.session, redis=None, settings=settings.auth)  # type: ignore[arg-type]
            existing = await service.users.get_by_email(normalise_email(email))
            if existing is not None:
                existing.role = Role.ADMIN.value
                return existing.email
            user = await service.register(
                UserCreate(email=email, password=password), role=Role.ADMIN
            )
            return user.email
    finally:
        await engine.dispose()
