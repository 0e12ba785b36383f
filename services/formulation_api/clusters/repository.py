from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.formulation_api.clusters.models import Cluster


async def get(session: AsyncSession, code: str, *, for_update: bool = False) -> Cluster | None:
    stmt = select(Cluster).where(Cluster.code == code)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).one_or_none()


def list_stmt() -> Select[Any]:
    return select(Cluster)
