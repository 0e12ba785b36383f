"""The goals API."""

from fastapi import FastAPI

from services.goals_api.codes.router import router as codes_router
from services.goals_api.goals.router import reviews as reviews_router
from services.goals_api.goals.router import router as goals_router
from services.goals_api.measures.router import router as measures_router
from services.goals_api.plans.router import router as plans_router
from services.goals_api.reports.router import router as reports_router
from services.goals_api.settings import Settings
from shared.app import ServiceSpec
from shared.app import create_app as build

SPEC = ServiceSpec(
    name="goals",
    schema="goals",
    title="Rethink goals API",
    description=(
        "Co-produced family plans (Appendix 5 of the Leeds evaluation): an overall goal, at most "
        "three SMART sub-goals at a time, weekly tracking scores against a baseline, actions, "
        "evaluations, closing reviews with a sustainability plan, family measures, and the "
        "report's outcome figures (goal progress, Table 4, closure reasons) live."
    ),
    routers=[
        plans_router,
        measures_router,
        goals_router,
        reviews_router,
        reports_router,
        codes_router,
    ],
    tags=[
        {"name": "plans", "description": "One open plan per family, on a completed formulation."},
        {"name": "goals", "description": "Sub-goals, scores, actions, evaluations, reviews."},
        {"name": "family measures", "description": "Closure feedback and SCORE-15."},
        {"name": "reports", "description": "Aggregate figures; no personal data."},
        {"name": "codes", "description": "Children and Families Codes."},
    ],
)


def create_app(settings: Settings | None = None) -> FastAPI:
    return build(SPEC, settings or Settings())
