"""Every table of the formulation service, imported so Alembic and tests see them all."""

from services.formulation_api.clusters import models as clusters_models
from services.formulation_api.db import Base

__all__ = ["Base", "clusters_models"]
