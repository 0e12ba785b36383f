from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.formulation_api.formulations.models import (
    Factor,
    Formulation,
    NextStep,
    Reflection,
    ReformulationRequest,
)


async def get(session: AsyncSession, formulation_id: uuid.UUID, *, lock: bool = False) -> Formulation | None:
    stmt = select(Formulation).where(Formulation.id == formulation_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).one_or_none()


async def factors(session: AsyncSession, formulation_id: uuid.UUID) -> Sequence[Factor]:
    stmt = select(Factor).where(Factor.formulation_id == formulation_id).order_by(Factor.position)
    return (await session.scalars(stmt)).all()


async def steps(session: AsyncSession, formulation_id: uuid.UUID) -> Sequence[NextStep]:
    stmt = select(NextStep).where(NextStep.formulation_id == formulation_id).order_by(NextStep.position)
    return (await session.scalars(stmt)).all()


async def for_family(session: AsyncSession, family_id: uuid.UUID) -> Sequence[Formulation]:
    stmt = select(Formulation).where(Formulation.family_id == family_id)
    return (await session.scalars(stmt.order_by(Formulation.version))).all()


async def latest_version(session: AsyncSession, family_id: uuid.UUID) -> int:
    stmt = select(func.max(Formulation.version)).where(Formulation.family_id == family_id)
    return int(await session.scalar(stmt) or 0)


async def open_requests(session: AsyncSession, family_id: uuid.UUID) -> Sequence[ReformulationRequest]:
    stmt = select(ReformulationRequest).where(
        ReformulationRequest.family_id == family_id,
        ReformulationRequest.resolved_by_formulation_id.is_(None),
    )
    return (await session.scalars(stmt)).all()


async def reflections(session: AsyncSession, formulation_id: uuid.UUID) -> Sequence[Reflection]:
    stmt = select(Reflection).where(Reflection.formulation_id == formulation_id)
    return (await session.scalars(stmt.order_by(Reflection.created_at))).all()
