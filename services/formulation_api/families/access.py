"""Who may see a family's personal data (issue 3, "Access").

Practitioners: families they lead or in their team. Team managers: their team. Rethink
facilitators: families in the sessions they facilitate. Analysts, partner systems, schedulers and
admins: no personal data.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.formulation_api.families.models import Family
from shared.auth import Principal, Role
from shared.errors import forbidden

PERSONAL_DATA_ROLES = (Role.PRACTITIONER, Role.TEAM_MANAGER, Role.RETHINK_FACILITATOR)


def sees_by_team(user: Principal, family: Family) -> bool:
    if user.role is Role.PRACTITIONER:
        return family.lead_worker_sub == user.sub or user.in_team(family.team_id)
    if user.role is Role.TEAM_MANAGER:
        return user.in_team(family.team_id)
    return False


async def facilitates(session: AsyncSession, user: Principal, family: Family) -> bool:
    # Imported here: forums and formulations import this module.
    from services.formulation_api.formulations.models import Formulation
    from services.formulation_api.forums.models import ForumSession

    in_forum = exists().where(ForumSession.family_id == family.id, ForumSession.facilitator_sub == user.sub)
    in_formulation = exists().where(
        Formulation.family_id == family.id, Formulation.facilitator_sub == user.sub
    )
    return bool(await session.scalar(select(or_(in_forum, in_formulation))))


def visible_filter(user: Principal) -> ColumnElement[bool]:
    """The same scoping as `can_see`, as a SQL condition for lists."""
    from services.formulation_api.formulations.models import Formulation
    from services.formulation_api.forums.models import ForumSession

    teams = [uuid.UUID(t) for t in user.teams if _is_uuid(t)]
    if user.role is Role.PRACTITIONER:
        return or_(Family.lead_worker_sub == user.sub, Family.team_id.in_(teams))
    if user.role is Role.TEAM_MANAGER:
        return Family.team_id.in_(teams)
    if user.role is Role.RETHINK_FACILITATOR:
        in_forum = select(ForumSession.family_id).where(ForumSession.facilitator_sub == user.sub)
        in_formulation = select(Formulation.family_id).where(Formulation.facilitator_sub == user.sub)
        return or_(Family.id.in_(in_forum), Family.id.in_(in_formulation))
    return false()


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def can_see(session: AsyncSession, user: Principal, family: Family) -> bool:
    if sees_by_team(user, family):
        return True
    if user.role is Role.RETHINK_FACILITATOR:
        return await facilitates(session, user, family)
    return False


async def ensure_can_see(session: AsyncSession, user: Principal, family: Family) -> None:
    if not await can_see(session, user, family):
        raise forbidden("this family is outside your teams and sessions", rule="family_scope")
