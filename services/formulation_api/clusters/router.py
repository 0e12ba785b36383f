from typing import Annotated

from fastapi import Depends, Path, Response

from services.formulation_api.clusters import repository, service
from services.formulation_api.clusters.models import Cluster
from services.formulation_api.clusters.schemas import ClusterOut, ClusterPut
from shared.auth import ALL_ROLES, Principal, Role, allow
from shared.deps import DbSession, Uow
from shared.errors import not_found
from shared.http import APIRouter
from shared.pagination import CursorParams, Page, paginate

router = APIRouter(prefix="/v1/clusters", tags=["clusters"])
Admin = Annotated[Principal, Depends(allow(Role.ADMIN))]
Anyone = Annotated[Principal, Depends(allow(*ALL_ROLES))]
ClusterCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$", examples=["RES-3"])]


@router.put(
    "/{code}",
    response_model=ClusterOut,
    summary="Create or update a cluster",
    responses={201: {"description": "Created"}},
)
async def put_cluster(user: Admin, code: ClusterCode, body: ClusterPut, uow: Uow) -> Response:
    cluster, created = await service.upsert(uow, user, code, body)
    # Serialised here, once: returning the model would have FastAPI validate it a second time.
    return Response(
        ClusterOut.model_validate(cluster).model_dump_json(),
        status_code=201 if created else 200,
        media_type="application/json",
    )


@router.get("", response_model=Page[ClusterOut], summary="List clusters")
async def list_clusters(
    user: Anyone, session: DbSession, params: Annotated[CursorParams, Depends()]
) -> Page[ClusterOut]:
    return await paginate(
        session,
        repository.list_stmt(),
        params,
        key=Cluster.code,
        id_col=Cluster.code,
        to_item=ClusterOut.model_validate,
    )


@router.get("/{code}", response_model=ClusterOut, summary="Read a cluster")
async def get_cluster(user: Anyone, code: ClusterCode, session: DbSession) -> Cluster:
    cluster = await repository.get(session, code)
    if cluster is None:
        raise not_found("cluster", code)
    return cluster
