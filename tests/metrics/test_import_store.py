"""The bulk record writer's conflict paths: a COPY that meets stored ids, in-chunk duplicates."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import text

from services.metrics_worker.imports.store import RecordWriter
from services.metrics_worker.records import ServiceRecord


def _records(prefix: str, n: int, day: date) -> list[ServiceRecord]:
    return [
        ServiceRecord("cla_start", "RES-1", day, f"child-{prefix}-{i}", f"{prefix}-{i}") for i in range(n)
    ]


async def _state(backbone) -> tuple[int, dict[str, int]]:  # type: ignore[no-untyped-def]
    async with backbone.engines["metrics"].connect() as conn:
        stored = await conn.scalar(text("select count(*) from metrics.service_records"))
        counts = dict(
            (
                await conn.execute(
                    text(
                        "select to_char(month, 'YYYY-MM'), count from metrics.monthly_counts "
                        "where measure = 'cla_start' and cluster_code = 'RES-1'"
                    )
                )
            ).all()
        )
    return int(stored or 0), counts


async def test_copy_meeting_stored_ids_is_retried_and_counts_only_new_records(backbone):
    jan, feb = date(2019, 1, 10), date(2019, 2, 10)
    async with backbone.sessionmakers["metrics"]() as session, session.begin():
        first = RecordWriter(session, uuid.uuid4())
        assert await first.add(_records("old", 30, jan)) == 30
        await first.count()
    async with backbone.sessionmakers["metrics"]() as session, session.begin():
        writer = RecordWriter(session, uuid.uuid4())
        # a first chunk of new ids switches the look-up off ...
        assert await writer.add(_records("new", 20, feb)) == 20
        # ... so this chunk's COPY meets 30 stored ids, is rolled back to its savepoint and retried
        mixed = _records("old", 30, jan) + _records("more", 5, feb)
        assert await writer.add(mixed) == 5
        # duplicates inside one chunk: the first record of a source id wins
        dupes = _records("dup", 3, feb) + _records("dup", 3, jan)
        assert await writer.add(dupes) == 3
        await writer.count()
    stored, counts = await _state(backbone)
    assert stored == 30 + 20 + 5 + 3
    assert counts == {"2019-01": 30, "2019-02": 28}
