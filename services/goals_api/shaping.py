"""Small response-shaping helpers shared by routers."""

from __future__ import annotations

from services.goals_api.goals.models import Goal, Score
from services.goals_api.goals.schemas import ScoreOut
from services.goals_api.goals.service import progress_out
from services.goals_api.settings import Settings


def score_out(goal: Goal, row: Score, settings: Settings) -> ScoreOut:
    """A score with the progress it shows against the goal's baseline."""
    return ScoreOut(
        id=row.id,
        goal_id=row.goal_id,
        score=row.score,
        recorded_on=row.recorded_on,
        given_by=row.given_by,
        progress=progress_out(goal, settings, latest=row.score),
    )
