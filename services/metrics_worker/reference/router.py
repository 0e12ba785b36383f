"""Clusters as the metrics service knows them, and child population per cluster and year."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Response
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from services.metrics_worker.access import Analyst, Reader
from services.metrics_worker.reference.models import Cluster, Population
from shared import audit
from shared.deps import DbSession
from shared.http import APIRouter
from shared.schemas import RequestModel, ResponseModel

router = APIRouter(prefix="/v1/clusters", tags=["clusters"])
ClusterCodePath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$", examples=["RES-3"])]


class PopulationPut(RequestModel):
    year: int = Field(ge=1990, le=2100)
    children_0_17: int = Field(ge=0, le=10_000_000, description="mid-year estimate, ages 0-17")


class PopulationOut(ResponseModel):
    cluster: str
    year: int
    children_0_17: int


@router.put(
    "/{code}/population",
    response_model=PopulationOut,
    responses={201: {"description": "Created"}},
    summary="Set a cluster's child population (0-17) for a year",
)
async def put_population(
    user: Analyst,
    code: ClusterCodePath,
    body: PopulationPut,
    session: DbSession,
    response: Response,
) -> PopulationOut:
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
        "items": [
            {
                "code": c.code,
                "res_start": c.res_start,
                "co_located": c.co_located,
                "populations": by_cluster.get(c.code, []),
            }
            for c in clusters
        ]
    }
