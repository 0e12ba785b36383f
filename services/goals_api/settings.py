"""Settings for the goals service (environment prefix RETHINK_)."""

from pydantic import AliasChoices, Field

from services.goals_api.progress import (
    DEFAULT_RELIABLE_CHANGE_POINTS,
    DEFAULT_REVIEWS_WITHOUT_PROGRESS,
)
from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    port: int = Field(default=8002, validation_alias=AliasChoices("RETHINK_GOALS_PORT"))
    # Change on the 0-10 goal scale flagged as reliable (see services/goals_api/progress.py).
    reliable_change_points: int = Field(
        default=DEFAULT_RELIABLE_CHANGE_POINTS,
        ge=1,
        le=10,
        validation_alias=AliasChoices("RETHINK_GOALS_RELIABLE_CHANGE_POINTS"),
    )
    # Reviews in a row without progress after which a plan is flagged for re-formulation.
    reformulation_after_reviews: int = Field(
        default=DEFAULT_REVIEWS_WITHOUT_PROGRESS,
        ge=1,
        le=52,
        validation_alias=AliasChoices("RETHINK_GOALS_REFORMULATION_AFTER_REVIEWS"),
    )
