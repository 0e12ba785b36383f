from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.formulation_api.families.models import (
    Consent,
    Family,
    FamilyMember,
    FamilyRelationship,
)


async def get(session: AsyncSession, family_id: uuid.UUID, *, lock: bool = False) -> Family | None:
    stmt = select(Family).where(Family.id == family_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).one_or_none()


async def bump_revision(session: AsyncSession, family_id: uuid.UUID) -> None:
    """A new ETag for a change to what GET /v1/families/{id} shows beyond the family row (members,
    relationships). One atomic UPDATE, so concurrent additions each count without a lock."""
    await session.execute(
        update(Family)
        .where(Family.id == family_id)
        .values(revision=Family.revision + 1)
        .execution_options(synchronize_session="fetch")
    )


async def members(session: AsyncSession, family_id: uuid.UUID) -> Sequence[FamilyMember]:
    stmt = select(FamilyMember).where(FamilyMember.family_id == family_id)
    return (await session.scalars(stmt.order_by(FamilyMember.name))).all()


async def relationships(session: AsyncSession, family_id: uuid.UUID) -> Sequence[FamilyRelationship]:
    stmt = select(FamilyRelationship).where(FamilyRelationship.family_id == family_id)
    return (await session.scalars(stmt)).all()


async def consents(session: AsyncSession, family_id: uuid.UUID) -> Sequence[Consent]:
    stmt = select(Consent).where(Consent.family_id == family_id).order_by(Consent.given_at)
    return (await session.scalars(stmt)).all()
