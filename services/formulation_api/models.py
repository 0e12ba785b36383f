"""Every table of the formulation service, imported so Alembic and tests see them all."""

from services.formulation_api.clusters import models as clusters_models
from services.formulation_api.db import Base
from services.formulation_api.families import models as families_models
from services.formulation_api.formulations import models as formulations_models
from services.formulation_api.forums import models as forums_models
from services.formulation_api.practice_quality import models as practice_quality_models
from services.formulation_api.referrals import models as referrals_models
from services.formulation_api.supervision import models as supervision_models
from services.formulation_api.teams import models as teams_models

__all__ = [
    "Base",
    "clusters_models",
    "families_models",
    "formulations_models",
    "forums_models",
    "practice_quality_models",
    "referrals_models",
    "supervision_models",
    "teams_models",
]
