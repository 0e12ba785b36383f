from typing import Any

from services.formulation_api.clusters import repository
from services.formulation_api.clusters.schemas import ClusterPut
from shared.auth import Principal
from shared.http import UnitOfWork


async def upsert(
    uow: UnitOfWork, actor: Principal, code: str, body: ClusterPut
) -> tuple[dict[str, Any], bool]:
    """Create or replace a cluster, audit it and tell the other services, atomically.

    Returns (cluster, created). Runs inside the unit of work's transaction when one is open, else
    on its own (see shared.atomic).
    """
    values = body.model_dump()
    event_payload = {"cluster_code": code, "res_start": body.res_start, "co_located": body.co_located}
    row, _ = await repository.UPSERT.execute(
        uow, actor, code, {"code": code, **values}, event=("cluster.upserted", code, event_payload)
    )
    assert row is not None  # an upsert always returns its row
    return row, bool(row.pop("created"))
