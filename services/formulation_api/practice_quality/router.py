"""Practice quality: two coders rate a recorded formulation on five skills; report vs 2.5."""

import uuid
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Query
from pydantic import ConfigDict, Field
from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from services.formulation_api.formulations import service as formulations
from services.formulation_api.inputs import PastDate, RequestModel
from services.formulation_api.practice_quality.models import Recording, SkillRating
from services.formulation_api.practice_quality.stats import (
    BASELINE,
    Skill,
    agreement_of,
    mean_score,
    skill_summary_of,
)
from shared import audit
from shared.auth import Principal, Role, allow
from shared.deps import DbSession
from shared.errors import conflict, not_found, unprocessable
from shared.http import APIRouter
from shared.pagination import CursorParams, paginate
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
    recordings: int = Field(description="Rated recordings in the window")
    baseline: Decimal
    skills: dict[str, dict[str, object]]
    individual_scores: dict[str, dict[str, Decimal]] = Field(
        description="One page of recordings (oldest first): each one's score per skill, by recording id"
    )
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` for the next page of individual_scores"
    )
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
    description=(
        "Figures over the recordings made from `from` to `to` (inclusive; every recording when left "
        "out). `recordings`, `skills` and `agreement` cover the whole window on every page; "
        "`individual_scores` holds one page of recordings (`limit`, oldest recording first), and "
        "`next_cursor`, passed back as `cursor` with the same filters, gives the next page "
        "(null on the last)."
    ),
)
async def report(
    user: Readers,
    session: DbSession,
    params: Annotated[CursorParams, Depends()],
    date_from: Annotated[date | None, Query(alias="from", description="Recorded on or after")] = None,
    date_to: Annotated[date | None, Query(alias="to", description="Recorded on or before")] = None,
) -> PracticeReport:
    if date_from and date_to and date_to < date_from:
        raise unprocessable("query.to", "period_reversed", "`to` is before `from`")
    window: list[ColumnElement[bool]] = []
    if date_from:
        window.append(Recording.recorded_on >= date_from)
    if date_to:
        window.append(Recording.recorded_on <= date_to)
    # Aggregated in SQL: one row per (recording, skill), then only the distinct scores and coder
    # pairs come back (tens of rows), however many ratings there are.
    per_skill = (
        select(
            SkillRating.skill.label("skill"),
            func.sum(SkillRating.score).label("total"),
            func.count().label("coders"),
            # the two coders' scores in coder order, as paired_scores orders them (code points)
            func.array_agg(aggregate_order_by(SkillRating.score, SkillRating.coder_sub.collate("C"))).label(
                "scores"
            ),
        )
        .join(Recording, Recording.id == SkillRating.recording_id)
        .where(*window)
        .group_by(SkillRating.recording_id, SkillRating.skill)
        .subquery()
    )
    first = case((per_skill.c.coders == 2, per_skill.c.scores[1]))
    second = case((per_skill.c.coders == 2, per_skill.c.scores[2]))
    rows = (
        await session.execute(
            select(
                per_skill.c.skill, per_skill.c.total, per_skill.c.coders, first, second, func.count()
            ).group_by(per_skill.c.skill, per_skill.c.total, per_skill.c.coders, first, second)
        )
    ).all()
    spread: dict[str, Counter[Decimal]] = defaultdict(Counter)
    pairs: Counter[tuple[int, int]] = Counter()
    for skill, total, coders, a, b, n in rows:
        spread[skill][mean_score(total, coders)] += n
        if a is not None and b is not None:
            pairs[(a, b)] += n
    recordings = await session.scalar(
        select(func.count(func.distinct(SkillRating.recording_id)))
        .join(Recording, Recording.id == SkillRating.recording_id)
        .where(*window)
    )
    individual, next_cursor = await _individual_scores(session, params, window)
    return PracticeReport(
        recordings=recordings or 0,
        baseline=BASELINE,
        skills=skill_summary_of(spread),
        individual_scores=individual,
        next_cursor=next_cursor,
        agreement=agreement_of(pairs),
    )


async def _individual_scores(
    session: DbSession, params: CursorParams, window: list[ColumnElement[bool]]
) -> tuple[dict[str, dict[str, Decimal]], str | None]:
    """One page of rated recordings in the window, oldest first, with each one's score per skill."""
    rated = select(SkillRating.id).where(SkillRating.recording_id == Recording.id).exists()
    recs = await paginate(
        session,
        select(Recording).where(*window, rated),
        params,
        key=Recording.recorded_on,
        id_col=Recording.id,
        to_item=lambda r: r.id,
    )
    scores: dict[str, dict[str, Decimal]] = {str(r): {} for r in recs.items}
    if recs.items:
        rows = await session.execute(
            select(SkillRating.recording_id, SkillRating.skill, func.sum(SkillRating.score), func.count())
            .where(SkillRating.recording_id.in_(recs.items))
            .group_by(SkillRating.recording_id, SkillRating.skill)
        )
        order = {s.value: i for i, s in enumerate(Skill)}
        for rec_id, skill, total, coders in sorted(rows.all(), key=lambda r: order.get(r[1], len(order))):
            scores[str(rec_id)][skill] = mean_score(total, coders)
    return scores, recs.next_cursor
