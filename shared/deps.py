"""Annotated dependency aliases used by routers (swapped in tests through app.state)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from shared.http import UnitOfWork


async def _request_session(request: Request) -> AsyncSession:
    uow = getattr(request.state, "uow", None)
    if uow is None:
        raise RuntimeError("DbSession used outside a shared.http.APIRouter route")
    return await uow.open()


DbSession = Annotated[AsyncSession, Depends(_request_session)]


async def _request_uow(request: Request) -> UnitOfWork:
    uow = getattr(request.state, "uow", None)
    if uow is None:
        raise RuntimeError("Uow used outside a shared.http.APIRouter route")
    return uow


Uow = Annotated[UnitOfWork, Depends(_request_uow)]
