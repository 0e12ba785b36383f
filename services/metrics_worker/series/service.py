"""Storing service records and keeping the monthly counts in step with them.

Every write path (API batch, events, file imports) goes through one SQL statement that inserts the
new records and adds exactly those rows to ``monthly_counts``; a duplicate source id inserts
nothing and so counts nothing. The recompute job rebuilds the counts from the raw records with the
same grouping, so the two always agree.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Sequence
from datetime import UTC, date, datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics_worker.records import ServiceRecord
from services.metrics_worker.series.models import MonthlyCount, RecomputeRun

# Incremental writers share this lock; the recompute takes it exclusively, so a rebuild never
# interleaves with an increment.
COUNTS_LOCK = zlib.crc32(b"metrics.monthly_counts")

_APPLY = """
WITH src AS (
    SELECT DISTINCT ON (source_id) source_id, type, cluster_code, occurred_on, child_ref
    FROM {source}
    ORDER BY source_id
), ins AS (
    INSERT INTO metrics.service_records
        (source_id, type, cluster_code, occurred_on, child_ref, batch_id)
    SELECT source_id, type, cluster_code, occurred_on, child_ref, CAST(:batch_id AS uuid) FROM src
    ON CONFLICT (source_id) DO NOTHING
    RETURNING type, cluster_code, occurred_on
), agg AS (
    SELECT type, cluster_code, CAST(date_trunc('month', occurred_on) AS date) AS month,
           count(*) AS n
    FROM ins GROUP BY 1, 2, 3
), up AS (
    INSERT INTO metrics.monthly_counts (measure, cluster_code, month, count)
    SELECT type, cluster_code, month, n FROM agg ORDER BY 1, 2, 3
    ON CONFLICT (measure, cluster_code, month)
    DO UPDATE SET count = metrics.monthly_counts.count + EXCLUDED.count
)
SELECT CAST(coalesce(sum(n), 0) AS bigint) FROM agg
"""

_UNNEST = """unnest(CAST(:source_ids AS text[]), CAST(:types AS text[]),
    CAST(:clusters AS text[]), CAST(:dates AS date[]), CAST(:child_refs AS text[]))
    AS t(source_id, type, cluster_code, occurred_on, child_ref)"""


async def _shared_lock(session: AsyncSession) -> None:
    await session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": COUNTS_LOCK})


async def store_records(
    session: AsyncSession, records: Sequence[ServiceRecord], batch_id: uuid.UUID | None = None
) -> int:
    """Insert records not seen before and count them in. Returns how many were new."""
    if not records:
        return 0
    await _shared_lock(session)
    applied = await session.scalar(
        text(_APPLY.format(source=_UNNEST)),
        {
            "source_ids": [r.source_id for r in records],
            "types": [r.type for r in records],
            "clusters": [r.cluster for r in records],
            "dates": [r.date for r in records],
            "child_refs": [r.child_ref for r in records],
            "batch_id": batch_id,
        },
    )
    return int(applied or 0)


async def store_staged(session: AsyncSession, staging_table: str, batch_id: uuid.UUID) -> int:
    """Same as :func:`store_records`, from a staging table filled by COPY."""
    await _shared_lock(session)
    applied = await session.scalar(text(_APPLY.format(source=staging_table)), {"batch_id": batch_id})
    return int(applied or 0)


async def recompute(session: AsyncSession, trigger: str, run_id: uuid.UUID | None = None) -> RecomputeRun:
    """Rebuild every monthly count from the raw records, noting whether anything changed."""
    started = datetime.now(UTC)
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": COUNTS_LOCK})
    before = await counts_snapshot(session)
    await session.execute(text("DELETE FROM metrics.monthly_counts"))
    cells = await session.execute(
        text(
            """INSERT INTO metrics.monthly_counts (measure, cluster_code, month, count)
            SELECT type, cluster_code, CAST(date_trunc('month', occurred_on) AS date), count(*)
            FROM metrics.service_records GROUP BY 1, 2, 3"""
        )
    )
    records = await session.scalar(text("SELECT count(*) FROM metrics.service_records"))
    run = RecomputeRun(
        id=run_id or uuid.uuid4(),
        trigger=trigger,
        started_at=started,
        finished_at=datetime.now(UTC),
        records=int(records or 0),
        cells=cells.rowcount,  # type: ignore[attr-defined]
        identical_to_incremental=before == await counts_snapshot(session),
    )
    session.add(run)
    await session.flush()
    return run


async def monthly_counts(
    session: AsyncSession, measure: str, first: date, last: date
) -> dict[tuple[str, date], int]:
    rows = await session.execute(
        select(MonthlyCount.cluster_code, MonthlyCount.month, MonthlyCount.count).where(
            MonthlyCount.measure == measure,
            MonthlyCount.month >= first,
            MonthlyCount.month <= last,
        )
    )
    return {(c, m): n for c, m, n in rows}


async def freshness(session: AsyncSession) -> tuple[datetime | None, datetime | None]:
    """(latest record counted, latest full recompute)."""
    latest = await session.scalar(text("SELECT max(received_at) FROM metrics.service_records"))
    rebuilt = await session.scalar(
        select(RecomputeRun.finished_at).order_by(RecomputeRun.finished_at.desc()).limit(1)
    )
    return latest, rebuilt


async def counts_snapshot(session: AsyncSession) -> dict[tuple[str, str, date], int]:
    """Every monthly count (for comparing the incremental and rebuilt results)."""
    rows = await session.execute(
        select(MonthlyCount.measure, MonthlyCount.cluster_code, MonthlyCount.month, MonthlyCount.count)
    )
    return {(m, c, mo): n for m, c, mo, n in rows}
