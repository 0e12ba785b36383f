"""The metrics API."""

from fastapi import FastAPI

from services.metrics_worker.costing.router import router as costing_router
from services.metrics_worker.imports.router import router as imports_router
from services.metrics_worker.reference.router import router as reference_router
from services.metrics_worker.series.router import router as series_router
from services.metrics_worker.settings import Settings
from shared.app import ServiceSpec
from shared.app import create_app as build

SPEC = ServiceSpec(
    name="metrics",
    schema="metrics",
    title="Rethink metrics API",
    description=(
        "Cluster series of contacts, referrals, CP plans and children starting to be looked "
        "after; before/after-RES tables with exact intervals; unit costs and savings; imports of "
        "SSDA903 and CIN census files. Counts 1-5 are suppressed for non-analyst roles."
    ),
    routers=[series_router, reference_router, costing_router, imports_router],
    upload_path_prefixes=("/v1/imports",),
    tags=[
        {"name": "series", "description": "Service records in; monthly series and tables out."},
        {"name": "clusters", "description": "Clusters, RES start dates and child population."},
        {"name": "costs", "description": "Unit-cost catalogue, cost comparison, scenarios."},
        {"name": "imports", "description": "SSDA903 and CIN census file imports."},
    ],
)


def create_app(settings: Settings | None = None) -> FastAPI:
    return build(SPEC, settings or Settings())
