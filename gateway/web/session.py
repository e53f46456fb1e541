"""Server-side sessions in Redis whose id changes at sign-in and sign-out."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.types import Empty, Message, ScopeSession

_ROTATE = "shelfwatch.rotate_session"
_NEW_ID = "shelfwatch.new_session_id"


def rotate_session(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Serve this response's session under a fresh id and drop the old one: a session id
    planted before sign-in (session fixation) never becomes an authenticated one."""
    connection.scope["state"][_ROTATE] = True


class RotatingSessionBackend(ServerSideSessionBackend):
    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        state = connection.scope["state"]
        if state.get(_ROTATE):
            if _NEW_ID not in state:
                state[_NEW_ID] = self.generate_session_id()
            new_id: str = state[_NEW_ID]
            return new_id
        return super().get_session_id(connection)

    async def store_in_message(
        self,
        scope_session: ScopeSession,
        message: Message,
        connection: ASGIConnection[Any, Any, Any, Any],
    ) -> None:
        old_id = connection.cookies.get(self.config.key)
        has_cookie = bool(old_id) and old_id != "null"
        if not scope_session:
            if not has_cookie:
                return  # an anonymous visit leaves nothing behind in Redis
            scope_session = Empty  # an emptied session is deleted, cookie and all
        if connection.scope["state"].get(_ROTATE) and old_id and has_cookie:
            await self.delete(old_id, store=self.config.get_store_from_app(connection.scope["app"]))
        await super().store_in_message(scope_session, message, connection)


class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend
