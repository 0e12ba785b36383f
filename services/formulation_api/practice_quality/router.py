"""Practice quality: two coders rate a recorded formulation on five skills; report vs 2.5."""

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import Depends
from pydantic import ConfigDict, Field
from sqlalchemy import select

from services.formulation_api.formulations import service as formulations
from services.formulation_api.inputs import PastDate, RequestModel
from services.formulation_api.practice_quality.models import Recording, SkillRating
from services.formulation_api.practice_quality.stats import (
    Rating,
    Skill,
    agreement,
    recording_scores,
    skill_summary,
)
from shared import audit
from shared.auth import Principal, Role, allow
from shared.deps import DbSession
from shared.errors import conflict, not_found, unprocessable
from shared.http import APIRouter
from shared.schemas import ResponseModel

# strict: JSON true or 2.0 is not a rating (bool is an int subclass in Python); 1-5 is checked
# in the route, naming the rule.
Score = Annotated[int, Field(strict=True)]
router = APIRouter(tags=["practice quality"])
Staff = Annotated[Principal, Depends(allow(Role.PRACTITIONER, Role.TEAM_MANAGER, Role.RETHINK_FACILITATOR))]
Coders = Annotated[Principal, Depends(allow(Role.ANALYST))]
Readers = Annotated[
    Principal,
    Depends(allow(Role.ANALYST, Role.ADMIN, Role.TEAM_MANAGER, Role.RETHINK_FACILITATOR)),
]


class RecordingIn(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"recorded_on": "2026-10-09"}]})

    recorded_on: PastDate


class RecordingOut(ResponseModel):
    id: uuid.UUID
    formulation_id: uuid.UUID
    recorded_on: date


class RatingsIn(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scores": {
                        "collaboration": 4,
                        "empathy": 4,
                        "purposefulness": 3,
                        "clarity_of_issues": 3,
                        "child_focus": 5,
                    }
                }
            ]
        }
    )

    scores: dict[Skill, Score] = Field(description="Each of the five skills rated 1-5")


class PracticeReport(ResponseModel):
    recordings: int
    baseline: Decimal
    skills: dict[str, dict[str, object]]
    individual_scores: dict[str, dict[str, Decimal]]
    agreement: dict[str, object]


@router.post(
    "/v1/formulations/{formulation_id}/recordings",
    status_code=201,
    response_model=RecordingOut,
    summary="Register a recorded formulation for rating",
)
async def add_recording(
    user: Staff, formulation_id: uuid.UUID, body: RecordingIn, session: DbSession
) -> Recording:
    loaded = await formulations.load(session, user, formulation_id)
    rec = Recording(formulation_id=loaded.formulation.id, recorded_on=body.recorded_on)
    session.add(rec)
    await session.flush()
    await audit.record(session, user, "create", "recording", rec.id)
    return rec


@router.put(
    "/v1/recordings/{recording_id}/ratings",
    summary="A coder's 1-5 ratings on the five skills (at most two coders per recording)",
)
async def put_ratings(
    user: Coders, recording_id: uuid.UUID, body: RatingsIn, session: DbSession
) -> dict[str, object]:
    rec = (
        await session.scalars(select(Recording).where(Recording.id == recording_id).with_for_update())
    ).first()
    if rec is None:
        raise not_found("recording", recording_id)
    missing = [s.value for s in Skill if s not in body.scores]
    if missing:
        raise unprocessable("body.scores", "all_five_skills", f"missing: {', '.join(missing)}")
    bad = [s.value for s, v in body.scores.items() if not 1 <= v <= 5]
    if bad:
        raise unprocessable(f"body.scores.{bad[0]}", "score_1_to_5", "scores run from 1 to 5")
    rows = (await session.scalars(select(SkillRating).where(SkillRating.recording_id == rec.id))).all()
    coders = {r.coder_sub for r in rows}
    if user.sub not in coders and len(coders) >= 2:
        raise conflict("two_coders_only", "this recording already has two coders")
    mine = {r.skill: r for r in rows if r.coder_sub == user.sub}
    for skill, score in body.scores.items():
        row = mine.get(skill.value)
        if row is None:
            session.add(SkillRating(recording_id=rec.id, coder_sub=user.sub, skill=skill.value, score=score))
        else:
            row.score = score
    await session.flush()
    await audit.record(session, user, "update", "recording", rec.id)
    return {"recording_id": str(rec.id), "coder": user.sub, "scores": body.scores}


@router.get(
    "/v1/practice-quality/report",
    response_model=PracticeReport,
    summary="Per-skill means against the 2.5 baseline, each recording's scores, agreement",
)
async def report(user: Readers, session: DbSession) -> PracticeReport:
    rows = (await session.scalars(select(SkillRating))).all()
    ratings = [Rating(r.recording_id, r.coder_sub, Skill(r.skill), r.score) for r in rows]
    per_recording = recording_scores(ratings)
    return PracticeReport(
        recordings=len(per_recording),
        baseline=Decimal("2.5"),
        skills=skill_summary(ratings),
        individual_scores={str(k): v for k, v in per_recording.items()},
        agreement=agreement(ratings),
    )
