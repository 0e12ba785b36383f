"""Teams, members and caseloads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.formulation_api.clusters import repository as clusters
from services.formulation_api.teams import repository
from services.formulation_api.teams.caseload import (
    LEAD_ROLES,
    CapacityCheck,
    MemberRole,
    WorkerLoad,
    check_allocation,
)
from services.formulation_api.teams.models import Team, TeamMember
from services.formulation_api.teams.schemas import CaseloadLimits, MemberCreate, TeamCreate
from shared import audit
from shared.auth import Principal, Role
from shared.errors import Problem, conflict, forbidden, not_found, unprocessable


def limits_of(team: Team) -> dict[MemberRole, int]:
    return {
        MemberRole.SOCIAL_WORKER: team.sw_limit,
        MemberRole.FAMILY_SUPPORT_WORKER: team.fsw_limit,
    }


def limits_out(team: Team) -> dict[str, int]:
    return {role.value: n for role, n in limits_of(team).items()}


def ensure_manages(user: Principal, team_id: uuid.UUID) -> None:
    """Admins configure any team; team managers only their own."""
    if user.role is Role.ADMIN:
        return
    if user.role is Role.TEAM_MANAGER and user.in_team(team_id):
        return
    raise forbidden("you do not manage this team", rule="team_scope")


async def require_team(session: AsyncSession, team_id: uuid.UUID, *, lock: bool = False) -> Team:
    team = await repository.get_team(session, team_id, lock=lock)
    if team is None:
        raise not_found("team", team_id)
    return team


async def create_team(session: AsyncSession, user: Principal, body: TeamCreate) -> Team:
    if await clusters.get(session, body.cluster_code) is None:
        raise unprocessable("body.cluster_code", "unknown_cluster", f"no cluster {body.cluster_code}")
    team = Team(
        cluster_code=body.cluster_code,
        name=body.name,
        sw_limit=body.caseload_limits.social_worker,
        fsw_limit=body.caseload_limits.family_support_worker,
    )
    session.add(team)
    await session.flush()
    await audit.record(session, user, "create", "team", team.id)
    return team


async def set_limits(
    session: AsyncSession, user: Principal, team_id: uuid.UUID, limits: CaseloadLimits
) -> Team:
    ensure_manages(user, team_id)
    team = await require_team(session, team_id, lock=True)
    team.sw_limit = limits.social_worker
    team.fsw_limit = limits.family_support_worker
    await session.flush()
    await audit.record(session, user, "update", "team", team.id)
    return team


async def add_member(
    session: AsyncSession, user: Principal, team_id: uuid.UUID, body: MemberCreate
) -> TeamMember:
    ensure_manages(user, team_id)
    # The team row lock serialises adds to one team: a double submit sees the first one's member
    # (409) instead of both inserting and one failing on uq_team_members_team_sub.
    await require_team(session, team_id, lock=True)
    if any(m.sub == body.sub for m in await repository.members(session, team_id)):
        raise conflict("member_exists", f"{body.sub} is already in this team", field="body.sub")
    member = TeamMember(team_id=team_id, **body.model_dump())
    session.add(member)
    await session.flush()
    await audit.record(session, user, "create", "team_member", member.id)
    return member


async def caseloads(session: AsyncSession, team: Team) -> tuple[Sequence[TeamMember], dict[str, int]]:
    members = await repository.members(session, team.id)
    counts = await repository.open_caseloads(session, [m.sub for m in members])
    return members, counts


async def check_capacity(session: AsyncSession, team: Team, lead_sub: str) -> CapacityCheck:
    """The no-waiting-list rule. The caller holds the team row lock (limits and members hold still);
    the worker's caseload lock, taken here before counting, serialises allocations to the worker
    from every team. Lock order everywhere: team row, worker, then the family row."""
    await repository.lock_caseload(session, lead_sub)
    members, counts = await caseloads(session, team)
    loads = [WorkerLoad(m.sub, MemberRole(m.role), counts[m.sub]) for m in members]
    return check_allocation(lead_sub, loads, limits_of(team))


async def lock_caseload(session: AsyncSession, sub: str) -> None:
    await repository.lock_caseload(session, sub)


def capacity_problem(check: CapacityCheck) -> Problem:
    if check.rule == "not_a_lead_worker_in_team":
        return unprocessable(
            "body.lead_worker_sub",
            "not_a_lead_worker_in_team",
            "the lead worker must be a social worker or family support worker of the team",
        )
    return conflict(
        check.rule or "caseload_full",
        "no waiting list: the lead worker has no capacity"
        + ("" if check.available else " and nobody in the team has"),
        field="body.lead_worker_sub",
        full_caseloads=check.full_caseloads,
        available_workers=check.available,
    )


__all__ = ["LEAD_ROLES", "capacity_problem", "check_capacity", "lock_caseload"]
