from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.formulation_api.clusters import repository
from services.formulation_api.clusters.schemas import ClusterPut
from shared import audit
from shared.auth import Principal
from shared.outbox import emit


async def upsert(
    session: AsyncSession, actor: Principal, code: str, body: ClusterPut
) -> tuple[Row[Any], bool]:
    """Create or replace a cluster and tell the other services. Returns (cluster, created)."""
    cluster, created = await repository.upsert(session, code, body.model_dump())
    await audit.record(session, actor, "create" if created else "update", "cluster", code)
    await emit(
        session,
        "cluster.upserted",
        subject_id=code,
        payload={"cluster_code": code, "res_start": body.res_start, "co_located": body.co_located},
    )
    return cluster, created
