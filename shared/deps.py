"""Annotated dependency aliases used by routers (swapped in tests through app.state)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession


async def _request_session(request: Request) -> AsyncSession:
    session = getattr(request.state, "db", None)
    if session is None:
        raise RuntimeError("DbSession used outside a shared.http.APIRouter route")
    return session


DbSession = Annotated[AsyncSession, Depends(_request_session)]
