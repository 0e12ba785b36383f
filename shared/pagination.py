"""Keyset (cursor) pagination: stable under inserts, no OFFSET scans."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from shared.errors import Problem

T = TypeVar("T")


class CursorParams:
    def __init__(
        self,
        cursor: str | None = Query(None, description="Opaque cursor from a previous page"),
        limit: int = Query(50, ge=1, le=500, description="Page size"),
    ) -> None:
        self.cursor = cursor
        self.limit = limit


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps([str(v) for v in values]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(values, list) or len(values) != 2:
            raise ValueError
        return [str(v) for v in values]
    except ValueError:
        raise Problem(
            422,
            detail="cursor is not one this API issued",
            rule="cursor_invalid",
            field="query.cursor",
        ) from None


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    params: CursorParams,
    *,
    key: InstrumentedAttribute[Any],
    id_col: InstrumentedAttribute[Any],
    to_item: Callable[[Any], T],
) -> Page[T]:
    """Order by (key, id) and return one page plus the cursor for the next."""
    if params.cursor:
        key_value, id_value = decode_cursor(params.cursor)
        py_key = key.type.python_type
        py_id = id_col.type.python_type
        try:
            bound = (
                _parse(py_key, key_value),
                _parse(py_id, id_value),
            )
        except ValueError:
            raise Problem(
                422,
                detail="cursor is not one this API issued",
                rule="cursor_invalid",
                field="query.cursor",
            ) from None
        stmt = stmt.where(tuple_(key, id_col) > tuple_(*bound))
    rows = (await session.scalars(stmt.order_by(key, id_col).limit(params.limit + 1))).all()
    more = len(rows) > params.limit
    rows = rows[: params.limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, key.key), getattr(last, id_col.key)])
    return Page[Any](items=[to_item(r) for r in rows], next_cursor=next_cursor)


def _parse(py_type: type, value: str) -> Any:
    from datetime import date, datetime

    if py_type is datetime:
        return datetime.fromisoformat(value)
    if py_type is date:
        return date.fromisoformat(value)
    return py_type(value)
