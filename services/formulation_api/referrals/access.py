"""Who may read a referral: it carries the family's names, birth years and the reason.

- Partner systems: the status of their own referrals only (the router gives them no more).
- A referral tied to a family (accepted, or a re-referral of a known family): whoever may see that
  family (`families.access`), no one else, so an allocated family is not readable cluster-wide.
- A referral without a family (not yet decided, or declined or redirected without opening one) is
  the cluster's triage record: the team managers of the cluster's teams, who hold the conversation
  and decide, and whoever posted it.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.formulation_api.common import team_uuids
from services.formulation_api.families import access as family_access
from services.formulation_api.families import repository as families
from services.formulation_api.families.models import Family
from services.formulation_api.referrals.models import Referral
from services.formulation_api.teams import repository as teams
from services.formulation_api.teams.models import Team
from shared.auth import Principal, Role
from shared.errors import forbidden

# The roles that triage referrals (hold the conversation, accept, decline, redirect).
TRIAGE_ROLES = (Role.TEAM_MANAGER,)


def family_of(referral: Referral) -> uuid.UUID | None:
    return referral.family_id or referral.existing_family_id


async def in_cluster_triage(session: AsyncSession, user: Principal, cluster_code: str) -> bool:
    if user.role not in TRIAGE_ROLES:
        return False
    return any(user.in_team(t) for t in await teams.team_ids_in_cluster(session, cluster_code))


async def ensure_can_read(session: AsyncSession, user: Principal, referral: Referral) -> None:
    family_id = family_of(referral)
    if family_id is not None:
        family = await families.get(session, family_id)
        if family is None or not await family_access.can_see(session, user, family):
            raise forbidden("this referral's family is outside your teams and sessions", rule="family_scope")
        return
    if referral.created_by == user.sub or await in_cluster_triage(session, user, referral.cluster_code):
        return
    raise forbidden(
        "until it is accepted, a referral is read by the team managers of its cluster", rule="cluster_scope"
    )


def visible_filter(user: Principal) -> ColumnElement[bool]:
    """The same scoping as `ensure_can_read`, as a SQL condition for lists."""
    linked = func.coalesce(Referral.family_id, Referral.existing_family_id)
    seen = select(Family.id).where(family_access.visible_filter(user))
    triage: ColumnElement[bool] = false()
    if user.role in TRIAGE_ROLES:
        clusters = select(Team.cluster_code).where(Team.id.in_(team_uuids(user.teams)))
        triage = Referral.cluster_code.in_(clusters)
    return or_(
        and_(linked.is_not(None), linked.in_(seen)),
        and_(linked.is_(None), or_(Referral.created_by == user.sub, triage)),
    )
