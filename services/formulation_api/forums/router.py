"""Forums and practice development: attendance, feedback, P&P alignment and reports."""

import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Query
from sqlalchemy import ColumnElement, Select, func, select

from services.formulation_api.clusters import repository as clusters
from services.formulation_api.families.access import visible_filter
from services.formulation_api.families.models import Family
from services.formulation_api.families.service import visible_family
from services.formulation_api.forums.models import (
    AlignmentScore,
    ForumAttendance,
    ForumFeedback,
    ForumSession,
)
from services.formulation_api.forums.schemas import (
    AlignmentIn,
    AlignmentOut,
    AttendanceIn,
    FeedbackIn,
    ForumDetail,
    ForumIn,
    ForumOut,
    ForumReport,
    SpreadOut,
)
from services.formulation_api.forums.stats import (
    Confidence,
    FeedbackAnswer,
    ForumType,
    alignment,
    attendance_share,
    feedback_summary,
)
from shared import audit
from shared.auth import Principal, Role, allow
from shared.deps import DbSession
from shared.errors import forbidden, not_found, unprocessable
from shared.http import APIRouter
from shared.pagination import CursorParams, Page, paginate

router = APIRouter(prefix="/v1/forums", tags=["forums"])
Organisers = Annotated[
    Principal, Depends(allow(Role.RETHINK_FACILITATOR, Role.TEAM_MANAGER, Role.PRACTITIONER))
]
Readers = Annotated[
    Principal,
    Depends(allow(Role.RETHINK_FACILITATOR, Role.TEAM_MANAGER, Role.PRACTITIONER, Role.ANALYST, Role.ADMIN)),
]
ClusterFilter = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="Cluster code")]
# Whoever is named as a session's facilitator records its attendance, feedback and alignment.
Reporters = Annotated[
    Principal,
    Depends(allow(Role.RETHINK_FACILITATOR, Role.TEAM_MANAGER, Role.ANALYST, Role.ADMIN)),
]


async def _forum(session: DbSession, forum_id: uuid.UUID, *, lock: bool = False) -> ForumSession:
    stmt = select(ForumSession).where(ForumSession.id == forum_id)
    if lock:
        stmt = stmt.with_for_update()
    forum = (await session.scalars(stmt)).first()
    if forum is None:
        raise not_found("forum", forum_id)
    return forum


async def _own_forum(
    session: DbSession, user: Principal, forum_id: uuid.UUID, *, lock: bool = False
) -> ForumSession:
    forum = await _forum(session, forum_id, lock=lock)
    if forum.facilitator_sub != user.sub:
        raise forbidden("only the session's facilitator records it", rule="facilitator_only")
    return forum


@router.post("", status_code=201, response_model=ForumOut, summary="Record a forum session")
async def create_forum(user: Organisers, body: ForumIn, session: DbSession) -> ForumSession:
    if body.cluster_code and await clusters.get(session, body.cluster_code) is None:
        raise unprocessable("body.cluster_code", "unknown_cluster", f"no cluster {body.cluster_code}")
    facilitator = body.facilitator_sub or user.sub
    if user.role is Role.RETHINK_FACILITATOR and facilitator != user.sub:
        raise unprocessable("body.facilitator_sub", "facilitator_is_caller", "record your own sessions")
    if body.family_id is not None:
        # The caller must already see the family: naming it grants the facilitator access.
        await visible_family(session, user, body.family_id)
    forum = ForumSession(
        type=body.type.value,
        held_on=body.held_on,
        cluster_code=body.cluster_code,
        facilitator_sub=facilitator,
        family_id=body.family_id,
    )
    session.add(forum)
    await session.flush()
    await audit.record(session, user, "create", "forum_session", forum.id)
    return forum


@router.post("/{forum_id}/attendance", status_code=201, summary="Attendance by agency sector")
async def add_attendance(
    user: Organisers, forum_id: uuid.UUID, body: AttendanceIn, session: DbSession
) -> dict[str, object]:
    forum = await _own_forum(session, user, forum_id)
    row = ForumAttendance(session_id=forum.id, sector=body.sector.value, count=body.count)
    session.add(row)
    await session.flush()
    await audit.record(session, user, "create", "forum_attendance", row.id)
    return {"id": str(row.id), "sector": row.sector, "count": row.count}


@router.post("/{forum_id}/feedback", status_code=201, summary="A participant's feedback")
async def add_feedback(
    user: Organisers, forum_id: uuid.UUID, body: FeedbackIn, session: DbSession
) -> dict[str, object]:
    forum = await _own_forum(session, user, forum_id)
    row = ForumFeedback(session_id=forum.id, **body.model_dump(mode="json"))
    session.add(row)
    await session.flush()
    await audit.record(session, user, "create", "forum_feedback", row.id)
    return {"id": str(row.id)}


@router.put(
    "/{forum_id}/alignment",
    response_model=AlignmentOut,
    summary=(
        "Practice and Progress: participants' scores at start and end (an omitted score is kept, "
        "null clears it)"
    ),
)
async def put_alignment(
    user: Organisers, forum_id: uuid.UUID, body: AlignmentIn, session: DbSession
) -> AlignmentOut:
    # Locked: two PUTs at once would both insert a new participant's row (uq_alignment_scores_participant).
    forum = await _own_forum(session, user, forum_id, lock=True)
    if forum.type != ForumType.PRACTICE_AND_PROGRESS.value:
        raise unprocessable(
            "path.forum_id", "alignment_only_practice_and_progress", "alignment is scored in P&P only"
        )
    labels = [s.participant for s in body.scores]
    if len(set(labels)) != len(labels):
        raise unprocessable("body.scores", "participant_repeated", "each participant scores once")
    existing = {
        a.participant: a
        for a in (
            await session.scalars(select(AlignmentScore).where(AlignmentScore.session_id == forum.id))
        ).all()
    }
    for s in body.scores:
        row = existing.get(s.participant)
        if row is None:
            row = AlignmentScore(session_id=forum.id, participant=s.participant)
            session.add(row)
            existing[s.participant] = row
        # Scores come in two phases (start, then end): an omitted score keeps the stored one, an
        # explicit null clears it.
        if "start" in s.model_fields_set:
            row.start_score = s.start
        if "end" in s.model_fields_set:
            row.end_score = s.end
    await session.flush()
    await audit.record(session, user, "update", "forum_session", forum.id)
    return _alignment_out(existing.values())


def _alignment_out(rows: Iterable[AlignmentScore]) -> AlignmentOut:
    pairs = {r.participant: (r.start_score, r.end_score) for r in rows}
    result = alignment(pairs)
    if result is None:
        complete = sum(1 for s, e in pairs.values() if s is not None and e is not None)
        return AlignmentOut(participants=complete, start=None, end=None, converged=None)
    return AlignmentOut(
        participants=result.participants,
        start=SpreadOut.model_validate(result.start),
        end=SpreadOut.model_validate(result.end),
        converged=result.converged,
    )


@router.get("/{forum_id}/alignment", response_model=AlignmentOut, summary="Alignment result")
async def get_alignment(user: Readers, forum_id: uuid.UUID, session: DbSession) -> AlignmentOut:
    forum = await _forum(session, forum_id)
    rows = (await session.scalars(select(AlignmentScore).where(AlignmentScore.session_id == forum.id))).all()
    return _alignment_out(rows)


@router.get("/report", response_model=ForumReport, summary="Attendance share and feedback")
async def report(
    user: Reporters,
    session: DbSession,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    type: Annotated[ForumType | None, Query()] = None,
    cluster: ClusterFilter = None,
) -> ForumReport:
    if date_from is not None and date_to is not None and date_to < date_from:
        raise unprocessable("query.to", "period_reversed", "`to` is before `from`")
    # Counted in SQL over the filtered sessions: listing their ids fails past 32,767 query arguments.
    where = _conditions(date_from, date_to, type, cluster)
    by_type = (
        await session.execute(
            select(ForumSession.type, func.count())
            .where(*where)
            .group_by(ForumSession.type)
            .order_by(ForumSession.type)
        )
    ).all()
    sectors = await _sector_counts(session, *where)
    return ForumReport(
        sessions=sum(n for _, n in by_type),
        sessions_by_type={t: n for t, n in by_type},
        attendances=sum(sectors.values()),
        attendance_by_sector=attendance_share(sectors),
        feedback=feedback_summary(await _answer_counts(session, *where)),
    )


def _conditions(
    date_from: date | None, date_to: date | None, type: ForumType | None, cluster: str | None
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if date_from:
        where.append(ForumSession.held_on >= date_from)
    if date_to:
        where.append(ForumSession.held_on <= date_to)
    if type:
        where.append(ForumSession.type == type.value)
    if cluster:
        where.append(ForumSession.cluster_code == cluster)
    return where


def _filtered(
    date_from: date | None, date_to: date | None, type: ForumType | None, cluster: str | None
) -> Select[Any]:
    return select(ForumSession).where(*_conditions(date_from, date_to, type, cluster))


async def _sector_counts(session: DbSession, *where: ColumnElement[bool]) -> Counter[str]:
    """Attendances per sector over the sessions matching `where`."""
    rows = await session.execute(
        select(ForumAttendance.sector, func.sum(ForumAttendance.count))
        .join(ForumSession, ForumSession.id == ForumAttendance.session_id)
        .where(*where)
        .group_by(ForumAttendance.sector)
    )
    return Counter({sector: int(total) for sector, total in rows.all()})


async def _answer_counts(session: DbSession, *where: ColumnElement[bool]) -> Counter[FeedbackAnswer]:
    """Each distinct feedback answer over the sessions matching `where`, with how many gave it."""
    answer = (
        ForumFeedback.improved_understanding,
        ForumFeedback.confidence,
        ForumFeedback.broadened_perspective,
        ForumFeedback.multi_agency_networking,
    )
    rows = await session.execute(
        select(*answer, func.count())
        .join(ForumSession, ForumSession.id == ForumFeedback.session_id)
        .where(*where)
        .group_by(*answer)
    )
    counts: Counter[FeedbackAnswer] = Counter()
    for understanding, confidence, broadened, networking, n in rows.all():
        key = FeedbackAnswer(
            Confidence(understanding) if understanding else None,
            Confidence(confidence) if confidence else None,
            broadened,
            networking,
        )
        counts[key] += n
    return counts


async def _hide_unseen_families(session: DbSession, user: Principal, items: list[ForumOut]) -> None:
    """A session about one family links that family to it: personal data, even pseudonymous.
    Show the family id only to those who may see the family, and audit it as a read of the family."""
    ids = {i.family_id for i in items if i.family_id is not None}
    if not ids:
        return
    visible = set(
        (await session.scalars(select(Family.id).where(Family.id.in_(ids), visible_filter(user)))).all()
    )
    for item in items:
        if item.family_id not in visible:
            item.family_id = None
    shown: list[object] = list(dict.fromkeys(i.family_id for i in items if i.family_id is not None))
    await audit.record_many(session, user, "read", "family", shown)


@router.get("", response_model=Page[ForumOut], summary="Forum and practice development sessions")
async def list_forums(
    user: Readers,
    session: DbSession,
    params: Annotated[CursorParams, Depends()],
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    type: Annotated[ForumType | None, Query()] = None,
    cluster: ClusterFilter = None,
) -> Page[ForumOut]:
    page = await paginate(
        session,
        _filtered(date_from, date_to, type, cluster),
        params,
        key=ForumSession.created_at,
        id_col=ForumSession.id,
        to_item=ForumOut.model_validate,
    )
    await _hide_unseen_families(session, user, page.items)
    return page


@router.get(
    "/{forum_id}",
    response_model=ForumDetail,
    summary="A session with its attendance by sector, feedback summary and alignment",
)
async def get_forum(user: Readers, forum_id: uuid.UUID, session: DbSession) -> ForumDetail:
    forum = await _forum(session, forum_id)
    scores = (
        await session.scalars(select(AlignmentScore).where(AlignmentScore.session_id == forum.id))
    ).all()
    by_sector = await _sector_counts(session, ForumSession.id == forum.id)
    out = ForumOut.model_validate(forum)
    await _hide_unseen_families(session, user, [out])
    return ForumDetail(
        **out.model_dump(),
        attendances=sum(by_sector.values()),
        attendance_by_sector=attendance_share(by_sector),
        feedback=feedback_summary(await _answer_counts(session, ForumSession.id == forum.id)),
        alignment=_alignment_out(scores) if forum.type == ForumType.PRACTICE_AND_PROGRESS.value else None,
    )
