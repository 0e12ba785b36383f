from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.formulation_api.families.models import Family
from services.formulation_api.teams.models import Team, TeamMember


async def get_team(session: AsyncSession, team_id: uuid.UUID, *, lock: bool = False) -> Team | None:
    stmt = select(Team).where(Team.id == team_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).one_or_none()


async def members(session: AsyncSession, team_id: uuid.UUID) -> Sequence[TeamMember]:
    stmt = select(TeamMember).where(TeamMember.team_id == team_id).order_by(TeamMember.created_at)
    return (await session.scalars(stmt)).all()


async def open_caseloads(session: AsyncSession, subs: Sequence[str]) -> dict[str, int]:
    """Open families led by each worker (across teams: a worker's caseload is theirs)."""
    if not subs:
        return {}
    stmt = (
        select(Family.lead_worker_sub, func.count())
        .where(Family.lead_worker_sub.in_(subs), Family.status == "open")
        .group_by(Family.lead_worker_sub)
    )
    counts = {sub: n for sub, n in (await session.execute(stmt)).all()}
    return {sub: counts.get(sub, 0) for sub in subs}


def _caseload_key(sub: str) -> int:
    """A stable signed 64-bit advisory lock key per worker (namespaced: other locks use constants)."""
    digest = hashlib.sha256(f"formulation.caseload:{sub}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def lock_caseload(session: AsyncSession, sub: str) -> None:
    """Serialise allocations to one worker until the transaction ends. Their caseload counts across
    all their teams, so the team row lock alone lets two teams' managers both take the last place."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _caseload_key(sub)})


async def memberships_in_cluster(session: AsyncSession, cluster_code: str, sub: str) -> Sequence[TeamMember]:
    """A worker's memberships of the cluster's teams (a worker may be in more than one), oldest first."""
    stmt = (
        select(TeamMember)
        .join(Team, Team.id == TeamMember.team_id)
        .where(Team.cluster_code == cluster_code, TeamMember.sub == sub)
        .order_by(TeamMember.created_at)
    )
    return (await session.scalars(stmt)).all()


async def team_ids_in_cluster(session: AsyncSession, cluster_code: str) -> list[uuid.UUID]:
    stmt = select(Team.id).where(Team.cluster_code == cluster_code)
    return list((await session.scalars(stmt)).all())
