"""Applying a statutory file: parse in one pass, a chunk at a time in a worker thread, while the
previous chunk is stored (new source ids COPYed into the records table and added to the monthly
counts, see ``store.py``). Memory stays flat whatever the file size; a file with rejected rows is
applied only when the caller allows it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import re
import uuid
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from itertools import islice
from typing import IO, Any, Literal
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics_worker.imports.cin import CinParser, parse_cin_xml
from services.metrics_worker.imports.models import ImportRun
from services.metrics_worker.imports.ssda903 import (
    EpisodeParser,
    HeaderFile,
    csv_rows,
    parse_episodes_csv,
    parse_episodes_xml,
    read_header_file,
    too_long,
)
from services.metrics_worker.imports.store import RecordWriter
from services.metrics_worker.records import (
    FileFormatError,
    ImportReport,
    ServiceRecord,
    keyed_pseudonymiser,
    sector_key,
)
from services.metrics_worker.series.service import store_staged
from shared import audit
from shared.auth import Principal

Kind = Literal["ssda903_csv", "ssda903_xml", "cin_xml"]
# The upload part (and CLI argument) that holds each kind's main file: refusals name it.
MAIN_PART: dict[Kind, str] = {"ssda903_csv": "episodes", "ssda903_xml": "episodes", "cin_xml": "census"}
STAGE = "metrics_import_stage"
CIN_RE_REFERRALS_LOCK = zlib.crc32(b"metrics.cin_re_referrals")
_CLUSTER = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class ImportError_(Exception):
    """The file cannot be read at all (bad encoding, malformed XML, bad map)."""

    def __init__(self, field: str, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.field, self.rule, self.detail = field, rule, detail


class FileHasErrors(Exception):
    def __init__(self, report: ImportReport) -> None:
        super().__init__("file has rejected rows")
        self.report = report


def text_lines(stream: IO[bytes], field: str) -> Iterator[str]:
    """Decode a byte stream lazily (UTF-8, BOM tolerated); a bad byte aborts the import, naming
    the part (``field``) it came in."""
    wrapper = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        yield from wrapper
    except UnicodeDecodeError:
        raise ImportError_(field, "encoding", "the file is not UTF-8 text") from None
    finally:
        with contextlib.suppress(ValueError):  # already closed by its owner
            wrapper.detach()  # leave the caller's stream open


def read_map(stream: IO[bytes], field: str, key_name: str) -> dict[str, str]:
    """A two-column CSV (key, cluster code), with or without a header row (the first non-blank
    one). Postcode sectors are normalised like HOME_POST's (``ls97`` → ``LS9 7``); a key that is
    not a sector, or one mapped to two clusters, refuses the map rather than never matching or
    silently keeping the last."""
    out: dict[str, str] = {}
    first = True
    for number, row in csv_rows(text_lines(stream, field)):
        if row is None:
            raise ImportError_(field, "map_format", too_long(number))
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) != 2:
            raise ImportError_(field, "map_format", f"row {number}: expected {key_name},cluster")
        key, cluster = row[0].strip(), row[1].strip()
        if first:
            first = False
            if cluster.lower() in ("cluster", "cluster_code"):
                continue  # the column names
        if key_name == "postcode_sector":
            key = sector_key(key) or ""
        if not key or not _CLUSTER.match(cluster):
            raise ImportError_(field, "map_format", f"row {number}: bad {key_name} or cluster code")
        if out.setdefault(key, cluster) != cluster:
            raise ImportError_(
                field, "map_format", f"row {number}: {key} is mapped to {out[key]} and to {cluster}"
            )
    if not out:
        raise ImportError_(field, "map_empty", "the map has no rows")
    return out


def _guarded(records: Iterable[ServiceRecord], part: str) -> Iterator[ServiceRecord]:
    try:
        yield from records
    except (ParseError, DefusedXmlException) as exc:
        raise ImportError_(part, "malformed_xml", f"the XML cannot be read: {exc}") from None
    except FileFormatError as exc:
        raise ImportError_(part, "file_format", str(exc)) from None


def _header_file(stream: IO[bytes], report: ImportReport) -> HeaderFile:
    try:
        return read_header_file(text_lines(stream, "header"), report)
    except FileFormatError as exc:
        raise ImportError_("header", "file_format", str(exc)) from None


# Small enough that the first chunk is parsed quickly and the last one stored quickly (neither
# overlaps with anything), large enough that the per-chunk round trips do not matter.
CHUNK_RECORDS = 50_000
_GC_GEN0 = 100_000
_gc_state: dict[str, Any] = {"imports": 0, "saved": None}


@contextlib.contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """A million-row file allocates millions of short-lived tuples; at the default threshold (700)
    the cycle collector ran thousands of times and rescanned the live chunks, about a quarter of the
    import's Python time. While imports run it runs less often (never switched off); entered and
    left on the event loop's thread, so overlapping imports restore the original setting once."""
    if _gc_state["imports"] == 0:
        saved = gc.get_threshold()
        _gc_state["saved"] = saved
        gc.set_threshold(max(saved[0], _GC_GEN0), *saved[1:])
    _gc_state["imports"] += 1
    try:
        yield
    finally:
        _gc_state["imports"] -= 1
        if _gc_state["imports"] == 0:
            gc.set_threshold(*_gc_state["saved"])


async def apply_file(
    session: AsyncSession,
    actor: Principal,
    kind: Kind,
    records: Iterable[ServiceRecord],
    report: ImportReport,
    *,
    allow_partial: bool,
) -> ImportRun:
    """Parse in a worker thread, a chunk ahead, while the database stores the previous chunk.

    Everything runs in the caller's transaction, so a refused file leaves nothing behind. Once a
    row is rejected and partial application was not asked for, storing stops but parsing goes
    on, so the report lists every rejected row.
    """
    started = datetime.now(UTC)
    run_id = uuid.uuid4()
    source = _guarded(records, MAIN_PART[kind])

    def next_chunk() -> list[ServiceRecord]:
        return list(islice(source, CHUNK_RECORDS))

    writer = RecordWriter(session, run_id)
    with _fewer_gc_passes():
        chunk = await asyncio.to_thread(next_chunk)
        while chunk:
            ahead = asyncio.ensure_future(asyncio.to_thread(next_chunk))
            try:
                if allow_partial or not report.rejected_count:
                    report.applied += await writer.add(chunk)
            finally:
                chunk = await ahead  # never leave the parsing thread running on its own
    if report.rejected_count and not allow_partial:
        report.applied = 0  # whatever was stored is rolled back with the transaction
        raise FileHasErrors(report)
    await writer.count()
    report.duplicates = report.records - report.applied
    if kind == "cin_xml":
        report.re_referrals_across_files = await _re_referrals_across_files(session, run_id)
    run = ImportRun(
        id=run_id,
        kind=kind,
        status="partial" if report.rejected_count else "applied",
        actor=actor.sub,
        started_at=started,
        finished_at=datetime.now(UTC),
        rows_read=report.rows_read,
        applied=report.applied,
        duplicates=report.duplicates,
        ignored=report.ignored,
        rejected_count=report.rejected_count,
        rejected=[asdict(r) for r in report.rejected],
    )
    session.add(run)
    await session.flush()
    await audit.record(session, actor, "create", "import_run", run.id)
    return run


async def _re_referrals_across_files(session: AsyncSession, run_id: uuid.UUID) -> int:
    """Re-referrals that only show across files (a yearly census holds that year's referrals):
    a stored referral of a child in this file is a re-referral when the child's previous
    referral, from any file, is within 12 months before it. Both directions: this file's
    referrals after earlier ones, and stored referrals after this file's, so the result does
    not depend on the order files are imported in. Same source ids as the in-file rule, so a
    re-referral is never counted twice."""
    # CIN imports take turns here, so two at once still see each other's referrals.
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CIN_RE_REFERRALS_LOCK})
    await session.execute(
        text(
            f"CREATE TEMP TABLE {STAGE} (type text, cluster_code text, occurred_on date, "
            "child_ref text, source_id text) ON COMMIT DROP"
        )
    )
    await session.execute(
        text(
            f"""INSERT INTO {STAGE} (type, cluster_code, occurred_on, child_ref, source_id)
            SELECT 're_referral', r.cluster_code, r.occurred_on, r.child_ref,
                   'cin:' || r.child_ref || ':re_referral:' || to_char(r.occurred_on, 'YYYY-MM-DD')
            FROM metrics.service_records r
            WHERE r.type = 'referral'
              AND r.child_ref IN (
                SELECT child_ref FROM metrics.service_records
                WHERE batch_id = :run_id AND type = 'referral')
              AND EXISTS (
                SELECT 1 FROM metrics.service_records p
                WHERE p.child_ref = r.child_ref AND p.type = 'referral'
                  AND p.occurred_on < r.occurred_on
                  AND r.occurred_on <= p.occurred_on + interval '12 months')"""
        ),
        {"run_id": run_id},
    )
    applied = await store_staged(session, STAGE, run_id)
    await session.execute(text(f"DROP TABLE {STAGE}"))
    return applied


def ssda903_records(
    episodes: IO[bytes],
    fmt: Literal["csv", "xml"],
    sector_map: Mapping[str, str],
    key: bytes,
    report: ImportReport,
    header: IO[bytes] | None = None,
) -> Iterator[ServiceRecord]:
    """Reads the header file now (ImportError_ for the ``header`` part); episodes as iterated."""
    children = _header_file(header, report) if header is not None else None
    parser = EpisodeParser(report, sector_map, keyed_pseudonymiser(key, "la-child"), children)
    if fmt == "xml":
        return parse_episodes_xml(episodes, parser)
    return parse_episodes_csv(text_lines(episodes, "episodes"), parser)


def cin_records(
    stream: IO[bytes], child_map: Mapping[str, str], key: bytes, report: ImportReport
) -> Iterator[ServiceRecord]:
    # Same namespace as SSDA903: the LA's child id gives the same pseudonym in both returns.
    return parse_cin_xml(stream, CinParser(report, child_map, keyed_pseudonymiser(key, "la-child")))


def report_out(report: ImportReport, run: ImportRun | None = None) -> dict[str, Any]:
    return {
        "import_id": run.id if run else None,
        "status": run.status if run else "refused",
        "rows_read": report.rows_read,
        "header_rows_read": report.header_rows_read,
        "records": report.records,
        "applied": report.applied,
        "duplicates": report.duplicates,
        "ignored": report.ignored,
        "rejected_count": report.rejected_count,
        "re_referrals_across_files": report.re_referrals_across_files,
        "rejected": [{"at": r.location, "field": r.field, "reason": r.reason} for r in report.rejected],
    }
