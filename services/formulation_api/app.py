"""The formulation API: organisation, families, referrals, Rethink Formulations, supervision, forums."""

from fastapi import FastAPI

from services.formulation_api.clusters.router import router as clusters_router
from services.formulation_api.settings import Settings
from shared.app import ServiceSpec
from shared.app import create_app as build

SPEC = ServiceSpec(
    name="formulation",
    schema="formulation",
    title="Rethink formulation API",
    description=(
        "Clusters and RES teams, families, referrals from partner agencies, and Rethink Formulations "
        "(the 6 Ps, 4 Ps prioritisation, Next Steps and the walk-back), supervision and forums."
    ),
    routers=[clusters_router],
    tags=[{"name": "clusters", "description": "Locality clusters and their RES start dates."}],
)


def create_app(settings: Settings | None = None) -> FastAPI:
    return build(SPEC, settings or Settings())
