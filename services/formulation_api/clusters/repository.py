from typing import Any

from sqlalchemy import Row, Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.formulation_api.clusters.models import Cluster


async def get(session: AsyncSession, code: str, *, for_update: bool = False) -> Cluster | None:
    stmt = select(Cluster).where(Cluster.code == code)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).one_or_none()


def list_stmt() -> Select[Any]:
    return select(Cluster)


_UPSERT = text(
    """
    INSERT INTO formulation.clusters (code, name, res_start, co_located, revision)
    VALUES (:code, :name, :res_start, :co_located, 1)
    ON CONFLICT (code) DO UPDATE SET
        name = EXCLUDED.name,
        res_start = EXCLUDED.res_start,
        co_located = EXCLUDED.co_located,
        revision = clusters.revision + 1,
        updated_at = now()
    RETURNING code, name, res_start, co_located, revision, (xmax = 0) AS created
    """
)


async def upsert(session: AsyncSession, code: str, values: dict[str, Any]) -> tuple[Row[Any], bool]:
    """Insert or update in one atomic statement (a hot path: plain SQL, compiled once).

    Returns the stored row and whether it was created (xmax is 0 on a freshly inserted row version).
    """
    row = (await session.execute(_UPSERT, {"code": code, **values})).one()
    return row, bool(row.created)
