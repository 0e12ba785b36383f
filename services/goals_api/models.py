"""Every table of the goals service, imported so Alembic and tests see them all."""

from services.goals_api.db import Base
from services.goals_api.goals.models import Action, Evaluation, Goal, Score
from services.goals_api.measures.models import FeedbackSurvey, Score15Response
from services.goals_api.plans.models import Plan
from services.goals_api.projections.models import KnownCluster, KnownFamily, KnownFormulation

__all__ = [
    "Action",
    "Base",
    "Evaluation",
    "FeedbackSurvey",
    "Goal",
    "KnownCluster",
    "KnownFamily",
    "KnownFormulation",
    "Plan",
    "Score",
    "Score15Response",
]
