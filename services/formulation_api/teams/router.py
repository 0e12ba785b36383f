import uuid
from typing import Annotated

from fastapi import Depends, Query
from sqlalchemy import select

from services.formulation_api.teams import service
from services.formulation_api.teams.caseload import LEAD_ROLES, MemberRole
from services.formulation_api.teams.models import Team
from services.formulation_api.teams.schemas import (
    CaseloadOut,
    MemberCreate,
    MemberOut,
    TeamCreate,
    TeamLimitsPut,
    TeamOut,
)
from shared import audit
from shared.auth import Principal, Role, allow
from shared.deps import DbSession
from shared.http import APIRouter
from shared.pagination import CursorParams, Page, paginate

router = APIRouter(prefix="/v1/teams", tags=["teams"])
Admin = Annotated[Principal, Depends(allow(Role.ADMIN))]
Managers = Annotated[Principal, Depends(allow(Role.ADMIN, Role.TEAM_MANAGER))]
Staff = Annotated[Principal, Depends(allow(Role.ADMIN, Role.TEAM_MANAGER, Role.PRACTITIONER))]


def _out(team: Team) -> TeamOut:
    return TeamOut(
        id=team.id,
        cluster_code=team.cluster_code,
        name=team.name,
        caseload_limits=service.limits_out(team),
    )


@router.post("", status_code=201, response_model=TeamOut, summary="Create a RES team")
async def create_team(user: Admin, body: TeamCreate, session: DbSession) -> TeamOut:
    return _out(await service.create_team(session, user, body))


@router.get("", response_model=Page[TeamOut], summary="List RES teams (optionally of one cluster)")
async def list_teams(
    user: Staff,
    session: DbSession,
    params: Annotated[CursorParams, Depends()],
    cluster: Annotated[
        str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="Cluster code")
    ] = None,
) -> Page[TeamOut]:
    stmt = select(Team)
    if cluster is not None:
        stmt = stmt.where(Team.cluster_code == cluster)
    return await paginate(session, stmt, params, key=Team.created_at, id_col=Team.id, to_item=_out)


@router.get("/{team_id}", response_model=TeamOut, summary="Read a team")
async def get_team(user: Staff, team_id: uuid.UUID, session: DbSession) -> TeamOut:
    return _out(await service.require_team(session, team_id))


@router.put("/{team_id}/caseload-limits", response_model=TeamOut, summary="Set caseload limits")
async def put_limits(user: Managers, team_id: uuid.UUID, body: TeamLimitsPut, session: DbSession) -> TeamOut:
    return _out(await service.set_limits(session, user, team_id, body.caseload_limits))


@router.post("/{team_id}/members", status_code=201, response_model=MemberOut, summary="Add a team member")
async def add_member(user: Managers, team_id: uuid.UUID, body: MemberCreate, session: DbSession) -> MemberOut:
    return MemberOut.model_validate(await service.add_member(session, user, team_id, body))


@router.get("/{team_id}/members", response_model=list[MemberOut], summary="List team members")
async def list_members(user: Managers, team_id: uuid.UUID, session: DbSession) -> list[MemberOut]:
    service.ensure_manages(user, team_id)
    team = await service.require_team(session, team_id)
    members, _ = await service.caseloads(session, team)
    await audit.record_many(session, user, "read", "team_member", [m.id for m in members])
    return [MemberOut.model_validate(m) for m in members]


@router.get("/{team_id}/caseloads", response_model=list[CaseloadOut], summary="Caseloads")
async def caseloads(user: Managers, team_id: uuid.UUID, session: DbSession) -> list[CaseloadOut]:
    service.ensure_manages(user, team_id)
    team = await service.require_team(session, team_id)
    members, counts = await service.caseloads(session, team)
    limits = service.limits_of(team)
    out = []
    for m in members:
        role = MemberRole(m.role)
        limit = limits.get(role) if role in LEAD_ROLES else None
        n = counts[m.sub]
        out.append(
            CaseloadOut(
                sub=m.sub,
                role=role,
                open_families=n,
                limit=limit,
                has_capacity=limit is not None and n < limit,
            )
        )
    return out
