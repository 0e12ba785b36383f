"""Every table of the metrics service, imported so Alembic and tests see them all."""

from services.metrics_worker.costing.models import UnitCostRow
from services.metrics_worker.db import Base
from services.metrics_worker.imports.models import ImportRun
from services.metrics_worker.reference.models import Cluster, Population
from services.metrics_worker.series.models import MonthlyCount, RecomputeRun, ServiceRecordRow

__all__ = [
    "Base",
    "Cluster",
    "ImportRun",
    "MonthlyCount",
    "Population",
    "RecomputeRun",
    "ServiceRecordRow",
    "UnitCostRow",
]
