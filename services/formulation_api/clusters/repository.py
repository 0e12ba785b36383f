from typing import Any

from sqlalchemy import Label, Select, literal_column, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.formulation_api.clusters.models import Cluster


async def get(session: AsyncSession, code: str, *, for_update: bool = False) -> Cluster | None:
    stmt = select(Cluster).where(Cluster.code == code)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).one_or_none()


def list_stmt() -> Select[Any]:
    return select(Cluster)


async def upsert(session: AsyncSession, code: str, values: dict[str, Any]) -> tuple[Cluster, bool]:
    """Insert or update in one atomic statement. Returns (cluster, created)."""
    stmt = insert(Cluster).values(code=code, revision=1, **values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Cluster.code],
        set_={**values, "revision": Cluster.revision + 1, "updated_at": stmt.excluded.updated_at},
    )
    # xmax is 0 on a freshly inserted row version and non-zero on an updated one.
    created_col: Label[bool] = literal_column("(xmax = 0)").label("created")
    row = (
        await session.execute(
            select(Cluster, created_col)
            .from_statement(stmt.returning(Cluster, created_col))
            .execution_options(populate_existing=True)
        )
    ).one()
    return row[0], bool(row[1])
