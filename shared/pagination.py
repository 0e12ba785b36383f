"""Keyset (cursor) pagination: stable under inserts, no OFFSET scans."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import BigInteger, Integer, Select, SmallInteger, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import TypeEngine

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


def _cursor_invalid() -> Problem:
    return Problem(
        422,
        detail="cursor is not one this API issued",
        rule="cursor_invalid",
        field="query.cursor",
    )


def decode_cursor(cursor: str) -> list[str]:
    """The two strings encode_cursor wrote, or a 422: a cursor is client input like any other."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError:  # bad base64, bad UTF-8, bad JSON
        raise _cursor_invalid() from None
    if not isinstance(values, list) or len(values) != 2 or not all(_storable(v) for v in values):
        raise _cursor_invalid()
    return values


def _storable(value: object) -> bool:
    """A string PostgreSQL can take as a parameter: no NUL, no lone surrogate (not UTF-8)."""
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


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
        bound = (_parse(key.type, key_value), _parse(id_col.type, id_value))
        stmt = stmt.where(tuple_(key, id_col) > tuple_(*bound))
    rows = (await session.scalars(stmt.order_by(key, id_col).limit(params.limit + 1))).all()
    more = len(rows) > params.limit
    rows = rows[: params.limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, key.key), getattr(last, id_col.key)])
    return Page[Any](items=[to_item(r) for r in rows], next_cursor=next_cursor)


# The integer column types and their bits in PostgreSQL; the subclasses before Integer itself.
_INTEGER_BITS = ((SmallInteger, 16), (BigInteger, 64), (Integer, 32))


def _parse(column_type: TypeEngine[Any], value: str) -> Any:
    """One cursor value as the column's type, within what PostgreSQL takes, or a 422."""
    py_type = column_type.python_type
    try:
        if py_type is datetime:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:  # encode_cursor writes timestamptz values with their offset
                raise ValueError
            return moment.astimezone(UTC)  # OverflowError at the ends of the calendar
        if py_type is date:
            return date.fromisoformat(value)
        if py_type is uuid.UUID:
            return uuid.UUID(value)
        if py_type is int:
            number = int(value)
            bits = next((b for kind, b in _INTEGER_BITS if isinstance(column_type, kind)), 64)
            if not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
                raise ValueError
            return number
        if py_type is str:
            return value
        return py_type(value)
    except (ValueError, TypeError, ArithmeticError):  # OverflowError is an ArithmeticError
        raise _cursor_invalid() from None
