"""Clusters as the metrics service knows them, and child population per cluster and year."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Path, Response
from pydantic import ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from services.metrics_worker.access import Analyst, Reader
from services.metrics_worker.reference.models import Cluster, Population
from services.metrics_worker.series.reports import known_cluster
from shared import audit
from shared.deps import DbSession
from shared.errors import not_found
from shared.http import APIRouter
from shared.schemas import RequestModel, ResponseModel

router = APIRouter(prefix="/v1/clusters", tags=["clusters"])
ClusterCodePath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$", examples=["RES-3"])]


class PopulationPut(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"year": 2019, "children_0_17": 5977}]})

    year: int = Field(ge=1990, le=2100, strict=True)
    children_0_17: int = Field(ge=0, le=10_000_000, strict=True, description="mid-year estimate, ages 0-17")


class PopulationOut(ResponseModel):
    cluster: str
    year: int
    children_0_17: int


@router.put(
    "/{code}/population",
    response_model=PopulationOut,
    responses={201: {"description": "Created"}, 404: {"description": "unknown cluster"}},
    summary="Set a cluster's child population (0-17) for a year (mid-year estimate)",
)
async def put_population(
    user: Analyst,
    code: ClusterCodePath,
    body: PopulationPut,
    session: DbSession,
    response: Response,
) -> PopulationOut:
    if not await known_cluster(session, code):
        raise not_found("cluster", code)  # a mistyped code would otherwise be stored silently
    existed = await session.get(Population, (code, body.year))
    await session.execute(
        insert(Population)
        .values(cluster_code=code, year=body.year, children_0_17=body.children_0_17)
        .on_conflict_do_update(
            index_elements=[Population.cluster_code, Population.year],
            set_={"children_0_17": body.children_0_17},
        )
    )
    await audit.record(session, user, "update" if existed else "create", "population", f"{code}:{body.year}")
    response.status_code = 200 if existed else 201
    return PopulationOut(cluster=code, year=body.year, children_0_17=body.children_0_17)


@router.get("", summary="Clusters with RES start dates and populations")
async def list_clusters(user: Reader, session: DbSession) -> dict[str, Any]:
    clusters = (await session.execute(select(Cluster).order_by(Cluster.code))).scalars().all()
    pops = (await session.execute(select(Population).order_by(Population.year))).scalars().all()
    by_cluster: dict[str, list[dict[str, int]]] = {}
    for p in pops:
        by_cluster.setdefault(p.cluster_code, []).append({"year": p.year, "children_0_17": p.children_0_17})
    return {
        "as_of": datetime.now(UTC),
        "items": [
            {
                "code": c.code,
                "res_start": c.res_start,
                "co_located": c.co_located,
                "populations": by_cluster.get(c.code, []),
            }
            for c in clusters
        ],
    }
