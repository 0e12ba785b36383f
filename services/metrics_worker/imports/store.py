"""Storing an imported file's records a chunk at a time, at close to the cost of a plain COPY.

Same outcome as ``series.service.store_records`` (insert the records whose source id is new, add
exactly those to ``monthly_counts``), by a cheaper route for large files: COPY each chunk's new
records straight into ``service_records`` in source-id order, in a savepoint, and count them by
measure, cluster and month on the way; once the whole file is in, the counts go to
``monthly_counts`` in one statement. ``INSERT ... ON CONFLICT`` from a staging table cost half as
much again in server time as that COPY.

Which records are new: a chunk's source ids are looked up in one indexed query before its COPY,
for as long as look-ups find stored ids. A file of new episodes stops looking up after its first
chunk; if a COPY then meets a stored id, the unique index refuses it, the savepoint is rolled back
and the chunk is retried with the look-up (which stays on). If a concurrent writer stores one of
the ids between a look-up and the COPY, the chunk is inserted with ``ON CONFLICT DO NOTHING``
instead. Either way the outcome is the same as the general path's.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from itertools import repeat
from operator import add, itemgetter
from typing import Any

import asyncpg
from asyncpg.pgproto.pgproto import UUID as WireUUID
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics_worker.records import ServiceRecord
from services.metrics_worker.series.service import COUNTS_LOCK

# The keys go as one newline-separated text: asyncpg checks every element of a list parameter
# against collection ABCs, which cost more than the look-up itself. Source ids built by the
# importers never hold a newline (one that does sends its chunk the general way).
_KNOWN = (
    "SELECT source_id FROM metrics.service_records WHERE source_id = ANY (string_to_array($1::text, E'\\n'))"
)
_SOURCE_ID = itemgetter(4)  # ServiceRecord.source_id
_TYPE_CLUSTER_DAY = itemgetter(0, 1, 2)
# ServiceRecord's order, then the import's batch id
_COLUMNS = ("type", "cluster_code", "occurred_on", "child_ref", "source_id", "batch_id")
_INSERT_NEW = """
INSERT INTO metrics.service_records (type, cluster_code, occurred_on, child_ref, source_id, batch_id)
SELECT DISTINCT ON (source_id) type, cluster_code, occurred_on, child_ref, source_id, $6::uuid
FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], $5::text[])
    AS t(type, cluster_code, occurred_on, child_ref, source_id)
ORDER BY source_id
ON CONFLICT (source_id) DO NOTHING
RETURNING type, cluster_code, occurred_on
"""
_ADD_COUNTS = """
INSERT INTO metrics.monthly_counts (measure, cluster_code, month, count)
SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::int[]) ORDER BY 1, 2, 3
ON CONFLICT (measure, cluster_code, month)
DO UPDATE SET count = metrics.monthly_counts.count + EXCLUDED.count
"""


async def driver_connection(session: AsyncSession) -> Any:
    """The session's asyncpg connection (same transaction), for COPY."""
    conn = await session.connection()
    return (await conn.get_raw_connection()).driver_connection


class RecordWriter:
    """``add`` each chunk, then ``count`` once; all inside the caller's transaction."""

    def __init__(self, session: AsyncSession, batch_id: uuid.UUID) -> None:
        self.session = session
        self.batch_id = batch_id
        self._tail = (WireUUID(str(batch_id)),)  # asyncpg's own UUID is copied without conversion
        self._pg: Any = None
        self._months: Counter[tuple[str, str, date]] = Counter()  # (measure, cluster, month)
        # Look source ids up before each COPY while the look-ups find some (a file overlapping
        # earlier ones); once one finds none, COPY straight away and go back to looking up only
        # if a COPY hits a stored id (its savepoint is rolled back and the chunk retried).
        self._look_up = True

    async def _connection(self) -> Any:
        if self._pg is None:
            self._pg = await driver_connection(self.session)
            # Writers share the counts lock; the recompute takes it exclusively (series.service).
            await self._pg.execute("SELECT pg_advisory_xact_lock_shared($1)", COUNTS_LOCK)
        return self._pg

    async def add(self, records: Sequence[ServiceRecord]) -> int:
        """Store the records whose source id is not stored yet; returns how many. Within the
        chunk the first record of a source id wins (later ones are duplicates)."""
        if not records:
            return 0
        pg = await self._connection()
        # C-level passes only: a million-row file goes through here.
        fresh = dict(zip(map(_SOURCE_ID, reversed(records)), reversed(records), strict=True))
        ids = sorted(fresh)  # sorted keys: one pass down the unique index, and a cheaper COPY
        looked_up = self._look_up
        if looked_up:
            joined = "\n".join(ids)
            if joined.count("\n") != len(ids) - 1:
                return await self._insert_new([fresh[sid] for sid in ids])
            known = await pg.fetch(_KNOWN, joined)
            self._look_up = bool(known)
            for row in known:
                del fresh[row[0]]
            if known:
                ids = [sid for sid in ids if sid in fresh]
        if not ids:
            return 0
        rows = list(map(add, map(fresh.__getitem__, ids), repeat(self._tail)))
        try:
            async with pg.transaction():  # a savepoint inside the import's transaction
                await pg.copy_records_to_table(
                    "service_records", schema_name="metrics", columns=_COLUMNS, records=rows
                )
        except asyncpg.UniqueViolationError:
            if not looked_up:  # a stored source id after all: retry, looking up from now on
                self._look_up = True
                return await self.add(records)
            # stored by a concurrent writer since the look-up
            return await self._insert_new([fresh[sid] for sid in ids])
        self._count(map(_TYPE_CLUSTER_DAY, rows))
        return len(rows)

    async def _insert_new(self, records: list[ServiceRecord]) -> int:
        pg = await self._connection()
        columns = (list(column) for column in zip(*records, strict=True))
        inserted = await pg.fetch(_INSERT_NEW, *columns, self.batch_id)
        self._count(tuple(row) for row in inserted)
        return len(inserted)

    def _count(self, keys: Iterable[tuple[str, str, date]]) -> None:
        days = Counter(keys)  # C-level; a chunk's (type, cluster, day) keys, then folded to months
        months = self._months
        for (kind, cluster, day), n in days.items():
            months[kind, cluster, day.replace(day=1)] += n

    async def count(self) -> None:
        """Add every record this writer stored to the monthly counts (call once, at the end)."""
        if not self._months:
            return
        keys = list(self._months)
        await self._pg.execute(
            _ADD_COUNTS,
            [k[0] for k in keys],
            [k[1] for k in keys],
            [k[2] for k in keys],
            [self._months[k] for k in keys],
        )
        self._months.clear()
