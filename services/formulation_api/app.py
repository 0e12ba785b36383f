"""The formulation API: organisation, families, referrals, Rethink Formulations, supervision and
forums."""

from fastapi import FastAPI

from services.formulation_api.clusters.router import router as clusters_router
from services.formulation_api.families.router import router as families_router
from services.formulation_api.formulations.router import router as formulations_router
from services.formulation_api.forums.router import router as forums_router
from services.formulation_api.practice_quality.router import router as practice_quality_router
from services.formulation_api.referrals.router import router as referrals_router
from services.formulation_api.settings import Settings
from services.formulation_api.supervision.router import router as supervision_router
from services.formulation_api.teams.router import router as teams_router
from shared.app import ServiceSpec
from shared.app import create_app as build

SPEC = ServiceSpec(
    name="formulation",
    schema="formulation",
    title="Rethink formulation API",
    description=(
        "Clusters and RES teams, families, referrals from partner agencies, and Rethink "
        "Formulations (the 6 Ps, 4 Ps prioritisation, Next Steps and the walk-back), supervision "
        "and forums."
    ),
    routers=[
        clusters_router,
        teams_router,
        referrals_router,
        families_router,
        formulations_router,
        supervision_router,
        forums_router,
        practice_quality_router,
    ],
    tags=[
        {"name": "clusters", "description": "Locality clusters and their RES start dates."},
        {"name": "teams", "description": "RES teams, members and caseload limits."},
        {
            "name": "referrals",
            "description": "Referrals: conversation, then accept/decline/redirect.",
        },
        {"name": "families", "description": "Families, lead worker, structure (genogram), consent, closure."},
        {
            "name": "formulations",
            "description": "Rethink Formulation, 4 Ps, Next Steps, walk-back.",
        },
        {"name": "supervision", "description": "Outcome-focused group and individual supervision."},
        {"name": "forums", "description": "Rethink forums, Practice and Progress alignment."},
        {"name": "practice quality", "description": "Two-coder ratings of recorded formulations."},
    ],
)


def create_app(settings: Settings | None = None) -> FastAPI:
    return build(SPEC, settings or Settings())
