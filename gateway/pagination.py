"""The capped paging parameters shared by every list route (the bounds of ``PageParams``)."""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter

from services.core.pagination import MAX_OFFSET, MAX_PAGE_SIZE

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)]
Offset = Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET)]
