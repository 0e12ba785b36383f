"""Events the goals service consumes: its own read model of formulations, families and clusters.

Handlers are idempotent on their own too (upserts), on top of the framework's processed-events row.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.goals_api.plans.service import close_for_family
from services.goals_api.projections.models import KnownCluster, KnownFamily, KnownFormulation
from shared.consumer import EventHandler
from shared.events import (
    ClusterUpserted,
    EventEnvelope,
    FamilyClosed,
    FormulationCompleted,
    ReferralAccepted,
)


async def on_formulation_completed(session: AsyncSession, event: EventEnvelope) -> None:
    p = FormulationCompleted.model_validate(event.payload)
    values = {
        "id": p.formulation_id,
        "family_id": p.family_id,
        "version": p.version,
        "previous_formulation_id": p.previous_formulation_id,
        "cluster_code": p.cluster_code,
        "team_id": p.team_id,
        "lead_worker_sub": p.lead_worker_sub,
        "factors": [f.model_dump(mode="json") for f in p.factors],
        "completed_on": p.completed_on,
    }
    stmt = insert(KnownFormulation).values(**values)
    # A completed version is immutable upstream; a replay just rewrites the same values.
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[KnownFormulation.id],
            set_={k: stmt.excluded[k] for k in values if k != "id"},
        )
    )


async def on_referral_accepted(session: AsyncSession, event: EventEnvelope) -> None:
    p = ReferralAccepted.model_validate(event.payload)
    values = {
        "id": p.family_id,
        "cluster_code": p.cluster_code,
        "team_id": p.team_id,
        "lead_worker_sub": p.lead_worker_sub,
        "accepted_on": p.accepted_on,
        "closed_on": None,
    }
    stmt = insert(KnownFamily).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[KnownFamily.id],
            set_={k: stmt.excluded[k] for k in values if k != "id"},
        )
    )


async def on_family_closed(session: AsyncSession, event: EventEnvelope) -> None:
    p = FamilyClosed.model_validate(event.payload)
    stmt = insert(KnownFamily).values(id=p.family_id, cluster_code=p.cluster_code, closed_on=p.closed_on)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[KnownFamily.id], set_={"closed_on": stmt.excluded.closed_on}
        )
    )
    # The plan must not stay open on a closed case (see plans.service.close_for_family).
    await close_for_family(session, p.family_id, p.reason_code, p.closed_on)


async def on_cluster_upserted(session: AsyncSession, event: EventEnvelope) -> None:
    p = ClusterUpserted.model_validate(event.payload)
    values = {"code": p.cluster_code, "res_start": p.res_start, "co_located": p.co_located}
    stmt = insert(KnownCluster).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[KnownCluster.code],
            set_={"res_start": stmt.excluded.res_start, "co_located": stmt.excluded.co_located},
        )
    )


HANDLERS: dict[str, EventHandler] = {
    "formulation.completed": on_formulation_completed,
    "referral.accepted": on_referral_accepted,
    "family.closed": on_family_closed,
    "cluster.upserted": on_cluster_upserted,
}
