"""Paging, the same for every list of the API: the ``limit`` (1-500, default 100) and ``offset``
query parameters, and one envelope, :class:`Page`, whose ``next_offset`` is null on the last page.

Lists are paged in the database (``LIMIT``/``OFFSET``), never sliced after reading them whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Generic, Self, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

#: The most items one page holds, and how many a page holds unless asked.
MAX_LIMIT = 500
DEFAULT_LIMIT = 100
#: No list weir keeps is longer (and every database takes an offset this large).
MAX_OFFSET = 2**31 - 1

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="the most items in the page (1 to 500)")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="items to skip: 0 for the first page")]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list: its items, how many items the list has in all, the limit and offset
    asked for, and the offset of the next page (null on the last page)."""

    items: list[T]
    total: int = Field(description="items in the whole list, all pages")
    limit: int = Field(description="the most items in a page, as asked")
    offset: int = Field(description="items skipped before this page, as asked")
    next_offset: int | None = Field(description="the offset of the next page; null on the last page")

    @classmethod
    def of(cls, items: Sequence[T], *, total: int, limit: int, offset: int) -> Self:
        """The page of ``items`` read at ``offset`` from a list of ``total`` items."""
        end = offset + len(items)
        return cls(
            items=list(items),
            total=total,
            limit=limit,
            offset=offset,
            next_offset=end if items and end < total else None,
        )
