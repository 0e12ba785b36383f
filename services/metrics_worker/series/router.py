"""Service records in, series and before/after tables out."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus
from fastapi import Query, Request, Response
from redis.exceptions import RedisError

from services.metrics_worker.access import (
    DisclosureParam,
    Ingester,
    Reader,
    RecomputeReader,
    Scheduler,
    disclosure_for,
)
from services.metrics_worker.chart import series_svg
from services.metrics_worker.months import format_month, parse_month
from services.metrics_worker.prepost import pre_post_table
from services.metrics_worker.records import ServiceRecord, keyed_pseudonymiser
from services.metrics_worker.series import reports
from services.metrics_worker.series.measures import MEASURES
from services.metrics_worker.series.models import RecomputeRun
from services.metrics_worker.series.schemas import (
    ClusterCode,
    RecomputeOut,
    ServiceEventsIn,
    ServiceEventsOut,
)
from services.metrics_worker.series.service import recompute, store_records
from services.metrics_worker.settings import request_pseudonym_key
from shared import audit, clock
from shared.deps import DbSession
from shared.errors import Problem, not_found, unprocessable
from shared.http import APIRouter
from shared.queues import queue_name

router = APIRouter(tags=["series"])

MeasureParam = Annotated[str, Query(description="one of: " + ", ".join(MEASURES))]
MonthParam = Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", examples=["2015-04"])]


def _measure(measure: str) -> str:
    if measure not in MEASURES:
        raise unprocessable("query.measure", "unknown_measure", f"measure must be one of {MEASURES}")
    return measure


def window(first: str, last: str) -> tuple[date, date]:
    try:
        a = parse_month(first)
    except ValueError as exc:
        raise unprocessable("query.from", "month_format", str(exc)) from None
    try:
        b = parse_month(last)
    except ValueError as exc:
        raise unprocessable("query.to", "month_format", str(exc)) from None
    if b < a:
        raise unprocessable("query.to", "window_order", "`to` is before `from`")
    if b > clock.today():
        # months yet to come have no records and would count as zero months in every average
        raise unprocessable("query.to", "month_in_future", "`to` is after the current month")
    if (b.year - a.year) * 12 + b.month - a.month >= 240:
        raise unprocessable("query.to", "window_too_long", "at most 240 months")
    return a, b


@router.post(
    "/v1/service-events",
    response_model=ServiceEventsOut,
    summary="Record contacts, referrals, CP plans and CLA episodes (idempotent by source_id)",
)
async def post_service_events(
    user: Ingester, body: ServiceEventsIn, session: DbSession, request: Request
) -> ServiceEventsOut:
    batch_id = uuid.uuid4()
    # Partners send their own pseudonymous refs; keyed-hashing them again means a raw local id
    # sent by mistake is never stored either (a namespace of its own: never matched to LA ids).
    pseudonym = keyed_pseudonymiser(await request_pseudonym_key(request, session), "partner-child")
    records = [
        ServiceRecord(e.type, e.cluster, e.date, pseudonym(e.child_ref), e.source_id) for e in body.events
    ]
    accepted = await store_records(session, records, batch_id)
    if accepted:
        await audit.record(session, user, "create", "service_record_batch", batch_id)
    return ServiceEventsOut(
        accepted=accepted,
        duplicates=len(records) - accepted,
        batch_id=batch_id if accepted else None,
    )


@router.get("/v1/metrics/pre-post", summary="Before/after-RES table per RES cluster, with a total row")
async def get_pre_post(
    user: Reader,
    session: DbSession,
    measure: MeasureParam,
    from_: Annotated[str, Query(alias="from", pattern=r"^\d{4}-\d{2}$", examples=["2015-04"])],
    to: MonthParam,
    disclosure: DisclosureParam = None,
) -> dict[str, Any]:
    first, last = window(from_, to)
    return await reports.pre_post_report(
        session, _measure(measure), first, last, disclosure_for(user, disclosure)
    )


@router.get("/v1/metrics/series", summary="One cluster's monthly series for a measure")
async def get_series(
    user: Reader,
    session: DbSession,
    cluster: Annotated[ClusterCode, Query()],
    measure: MeasureParam,
    from_: Annotated[str, Query(alias="from", pattern=r"^\d{4}-\d{2}$")],
    to: MonthParam,
    disclosure: DisclosureParam = None,
) -> dict[str, Any]:
    first, last = window(from_, to)
    shown = disclosure_for(user, disclosure)
    series = await reports.cluster_series(
        session, cluster, _measure(measure), first, last, published=shown == "published"
    )
    values = reports.published_series(series) if shown == "published" else list(series.counts)
    start = series.res_start
    return {
        **await reports.freshness_fields(session),
        "cluster": cluster,
        "measure": measure,
        "res_start": format_month(start) if start else None,
        "disclosure": shown,
        "months": [
            {"month": format_month(m), "count": v} for m, v in zip(series.months, values, strict=True)
        ],
    }


@router.get(
    "/v1/metrics/series.svg",
    response_class=Response,
    responses={
        200: {
            "content": {"image/svg+xml": {}},
            "headers": {"X-As-Of": {"description": "when the charted data was last updated"}},
        }
    },
    summary="Line chart of a cluster's series with the RES start and averages marked",
)
async def get_series_svg(
    user: Reader,
    session: DbSession,
    cluster: Annotated[ClusterCode, Query()],
    measure: MeasureParam,
    from_: Annotated[str, Query(alias="from", pattern=r"^\d{4}-\d{2}$")] = "2015-04",
    to: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
    disclosure: DisclosureParam = None,
) -> Response:
    first, last = window(from_, to or format_month(clock.today()))
    shown = disclosure_for(user, disclosure)
    series = await reports.cluster_series(
        session, cluster, _measure(measure), first, last, published=shown == "published"
    )
    months, counts, start = series.months, series.counts, series.res_start
    pre_avg = post_avg = None
    if start is not None:
        (row,), _ = pre_post_table(
            {(cluster, m): n for m, n in zip(months, counts, strict=True)},
            {cluster: start},
            first,
            last,
        )
        pre_avg, post_avg = row.pre_monthly_average, row.post_monthly_average
        if shown == "published":
            # an average times its months is a count: hide it where the table hides that count
            pre_avg = None if False in series.hidden_periods else pre_avg
            post_avg = None if True in series.hidden_periods else post_avg
    points: list[int | None] = list(counts)
    if shown == "published":
        points = [v if isinstance(v, int) else None for v in reports.published_series(series)]
    as_of: datetime = (await reports.freshness_fields(session))["as_of"]
    title = f"{cluster}: {measure} per month"
    svg = series_svg(title, months, points, start, pre_avg, post_avg, as_of=as_of)
    return Response(svg, media_type="image/svg+xml", headers={"X-As-Of": as_of.isoformat()})


def _run_out(run: RecomputeRun) -> RecomputeOut:
    return RecomputeOut(
        run_id=run.id,
        status="done",
        as_of=datetime.now(UTC),
        trigger=run.trigger,
        started_at=run.started_at,
        finished_at=run.finished_at,
        records=run.records,
        cells=run.cells,
        identical_to_incremental=run.identical_to_incremental,
    )


def _arq(request: Request) -> ArqRedis:
    return ArqRedis(connection_pool=request.app.state.redis.connection_pool)


def _queue_down() -> Problem:
    return Problem(503, detail="the job queue is not reachable; try again", rule="queue_unavailable")


def _queue(request: Request) -> str:
    return queue_name(request.app.state.settings.queue_prefix, "metrics")


@router.post(
    "/v1/recompute",
    response_model=RecomputeOut,
    status_code=202,
    responses={200: {"description": "with `wait=true`: the rebuild ran inside the request"}},
    summary="Rebuild every monthly count from the raw records (queued; poll the run)",
)
async def post_recompute(
    user: Scheduler,
    session: DbSession,
    request: Request,
    response: Response,
    wait: Annotated[
        bool, Query(description="rebuild inside the request instead of queueing the worker job")
    ] = False,
) -> RecomputeOut:
    if wait:
        run = await recompute(session, trigger="api")
        await audit.record(session, user, "update", "monthly_counts", run.id)
        response.status_code = 200
        return _run_out(run)
    run_id = uuid.uuid4()
    try:
        job = await _arq(request).enqueue_job(
            "metrics.recompute", "api", str(run_id), _job_id=str(run_id), _queue_name=_queue(request)
        )
    except (RedisError, OSError):
        job = None
    if job is None:
        raise _queue_down()
    await audit.record(session, user, "update", "monthly_counts", run_id)
    response.headers["Location"] = f"/v1/recompute/{run_id}"
    return RecomputeOut(run_id=run_id, status="queued", as_of=datetime.now(UTC))


@router.get(
    "/v1/recompute/{run_id}",
    response_model=RecomputeOut,
    summary="Status of a recompute run (queued, running, done or failed)",
)
async def get_recompute(
    user: RecomputeReader, run_id: uuid.UUID, session: DbSession, request: Request
) -> RecomputeOut:
    run = await session.get(RecomputeRun, run_id)
    if run is not None:
        return _run_out(run)
    job = Job(str(run_id), _arq(request), _queue_name=_queue(request))
    try:
        state = await job.status()
        result = await job.result_info() if state == JobStatus.complete else None
    except (RedisError, OSError):
        raise _queue_down() from None
    if state == JobStatus.not_found:
        raise not_found("recompute run", run_id)
    if state == JobStatus.in_progress:
        status = "running"
    elif state == JobStatus.complete:
        # done jobs have their row; a complete job without one failed (and rolled back)
        status = "failed" if result is None or not result.success else "done"
    else:
        status = "queued"
    return RecomputeOut(run_id=run_id, status=status, as_of=datetime.now(UTC))


@router.get("/v1/metrics/rates", summary="Rates per 10,000 children aged 0-17 per cluster and year")
async def get_rates(
    user: Reader,
    session: DbSession,
    measure: MeasureParam,
    year: Annotated[int, Query(ge=1990, le=2100)],
    disclosure: DisclosureParam = None,
) -> dict[str, Any]:
    return await reports.rates_report(session, _measure(measure), year, disclosure_for(user, disclosure))


@router.get(
    "/v1/metrics/sustained-outcomes",
    summary="Share of families re-referred within 12 months after their RES plan closed",
)
async def get_sustained(
    user: Reader,
    session: DbSession,
    from_: Annotated[str, Query(alias="from", pattern=r"^\d{4}-\d{2}$")],
    to: MonthParam,
    disclosure: DisclosureParam = None,
) -> dict[str, Any]:
    first, last = window(from_, to)
    return await reports.sustained_outcomes(
        session, first, last, clock.today(), disclosure_for(user, disclosure)
    )


__all__ = ["router"]
