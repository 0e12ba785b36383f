"""Who may see or change a family's plan: role plus team (or cluster) scoping."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import ColumnElement, and_, or_

from services.goals_api.plans.models import Plan
from services.goals_api.settings import Settings
from shared.auth import Principal, Role, allow
from shared.errors import Problem

Workers = Annotated[Principal, Depends(allow(Role.PRACTITIONER, Role.TEAM_MANAGER))]
Managers = Annotated[Principal, Depends(allow(Role.TEAM_MANAGER))]
Reporters = Annotated[Principal, Depends(allow(Role.TEAM_MANAGER, Role.ANALYST, Role.ADMIN))]
Anyone = Annotated[Principal, Depends(allow(*Role))]


def get_settings(request: Request) -> Settings:
    settings = request.app.state.settings
    assert isinstance(settings, Settings)
    return settings


GoalsSettings = Annotated[Settings, Depends(get_settings)]


def can_work_with(user: Principal, team_id: uuid.UUID | None, cluster_code: str) -> bool:
    """A worker acts for their own team's families; a family with no team is scoped by cluster."""
    if team_id is not None:
        return user.in_team(team_id)
    return user.in_cluster(cluster_code)


def require_scope(user: Principal, team_id: uuid.UUID | None, cluster_code: str) -> None:
    if not can_work_with(user, team_id, cluster_code):
        raise Problem(
            403,
            detail="this family's plan belongs to a team you are not a member of",
            rule="team_scope",
        )


def team_uuids(user: Principal) -> list[uuid.UUID]:
    """The caller's team ids as UUIDs (a malformed claim simply matches nothing)."""
    ids = []
    for team in user.teams:
        try:
            ids.append(uuid.UUID(team))
        except ValueError:
            continue
    return ids


def plans_in_scope(user: Principal) -> ColumnElement[bool]:
    """`can_work_with` in SQL: plans of the caller's teams, and plans without a team by cluster."""
    return or_(
        Plan.team_id.in_(team_uuids(user)),
        and_(Plan.team_id.is_(None), Plan.cluster_code.in_(list(user.clusters))),
    )
