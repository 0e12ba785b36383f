from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.formulation_api.clusters.models import Cluster
from shared.atomic import AtomicWrite


async def get(session: AsyncSession, code: str, *, for_update: bool = False) -> Cluster | None:
    stmt = select(Cluster).where(Cluster.code == code)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).one_or_none()


def list_stmt() -> Select[Any]:
    return select(Cluster)


# A hot path (partner systems and the demo loader upsert clusters): the row, its audit row and its
# cluster.upserted event in one statement. xmax is 0 on a freshly inserted row version.
UPSERT = AtomicWrite(
    schema="formulation",
    resource_type="cluster",
    change_sql="""
    INSERT INTO formulation.clusters (code, name, res_start, co_located, revision)
    VALUES (:code, :name, :res_start, :co_located, 1)
    ON CONFLICT (code) DO UPDATE SET
        name = EXCLUDED.name,
        res_start = EXCLUDED.res_start,
        co_located = EXCLUDED.co_located,
        revision = clusters.revision + 1,
        updated_at = now()
    RETURNING code, name, res_start, co_located, revision, (xmax = 0) AS created
    """,
)
