"""One page of a list, the shape every list endpoint answers with, and the paging every list
request carries (each resource's filter model extends ``PageParams``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

MAX_PAGE_SIZE = 100
MAX_OFFSET = 1_000_000


class Page(BaseModel, Generic[T]):
    """One page of a list: its items, how many match in all, and the paging that was asked."""

    items: list[T]
    total: int
    limit: int
    offset: int


class PageParams(BaseModel):
    """The capped paging of one list request; a resource's filter model adds its filters.

    Services take the filter model and return ``(items, total)``; the edge wraps them in a
    ``Page`` with ``page()``.
    """

    model_config = ConfigDict(frozen=True)

    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)

    def page(self, items: list[T], total: int) -> Page[T]:
        return Page[T](items=items, total=total, limit=self.limit, offset=self.offset)


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"
