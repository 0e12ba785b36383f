"""HTTP upload of statutory files (the CLI `rethink import` does the same from disk)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import File, Form, Request, UploadFile

from services.metrics_worker.access import Analyst
from services.metrics_worker.imports import service
from services.metrics_worker.imports.models import ImportRun
from services.metrics_worker.records import ImportReport
from services.metrics_worker.settings import request_pseudonym_key
from shared import audit
from shared.deps import DbSession
from shared.errors import Problem, not_found, unprocessable
from shared.http import APIRouter

router = APIRouter(prefix="/v1/imports", tags=["imports"])


def _refused(exc: service.ImportError_) -> Problem:
    return unprocessable(f"body.{exc.field}", exc.rule, exc.detail)


async def _apply(
    session: Any,
    user: Any,
    kind: service.Kind,
    records: Any,
    report: ImportReport,
    allow_partial: bool,
) -> dict[str, Any]:
    try:
        run = await service.apply_file(session, user, kind, records, report, allow_partial=allow_partial)
    except service.ImportError_ as exc:
        raise _refused(exc) from None
    except service.FileHasErrors as exc:
        raise Problem(
            422,
            detail=f"{exc.report.rejected_count} rows were rejected; nothing was applied. Fix "
            "them, or send allow_partial=true to apply the file without them.",
            rule="file_has_errors",
            field=f"body.{service.MAIN_PART[kind]}",
            report=service.report_out(exc.report),
        ) from None
    return service.report_out(report, run)


@router.post(
    "/ssda903",
    status_code=201,
    summary="Import SSDA903 episodes (CSV or XML) with a postcode-sector -> cluster map",
    description=(
        "A `multipart/form-data` upload: the SSDA903 episodes file, a CSV mapping each postcode "
        "sector to a cluster code, and optionally the SSDA903 header file. Child ids are replaced "
        "by pseudonyms on the way in. A file with rejected rows applies nothing (422 "
        "`file_has_errors`, with the row report) unless `allow_partial` is true; records already "
        "held are counted as duplicates, never added twice."
    ),
)
async def import_ssda903(
    request: Request,
    user: Analyst,
    session: DbSession,
    episodes: Annotated[UploadFile, File(description="episodes file, CSV or XML")],
    sector_map: Annotated[UploadFile, File(description="CSV: postcode_sector,cluster")],
    header: Annotated[UploadFile | None, File(description="optional SSDA903 header file")] = None,
    format: Annotated[Literal["csv", "xml"], Form(description="format of the episodes file")] = "csv",
    allow_partial: Annotated[
        bool, Form(description="apply the valid rows even when some rows are rejected")
    ] = False,
) -> dict[str, Any]:
    report = ImportReport()
    try:
        sectors = service.read_map(sector_map.file, "sector_map", "postcode_sector")
        # reads the header file at once, so its errors are refused here too
        records = service.ssda903_records(
            episodes.file,
            format,
            sectors,
            await request_pseudonym_key(request, session),
            report,
            header.file if header is not None else None,
        )
    except service.ImportError_ as exc:
        raise _refused(exc) from None
    kind: service.Kind = "ssda903_xml" if format == "xml" else "ssda903_csv"
    return await _apply(session, user, kind, records, report, allow_partial)


@router.post(
    "/cin",
    status_code=201,
    summary="Import a CIN census XML file with a child -> cluster map",
    description=(
        "A `multipart/form-data` upload: the CIN census XML and a CSV mapping each LAchildID to a "
        "cluster code. Child ids are replaced by pseudonyms on the way in. A file with rejected "
        "rows applies nothing (422 `file_has_errors`, with the row report) unless `allow_partial` "
        "is true; records already held are counted as duplicates, never added twice."
    ),
)
async def import_cin(
    request: Request,
    user: Analyst,
    session: DbSession,
    census: Annotated[UploadFile, File(description="CIN census XML")],
    child_map: Annotated[UploadFile, File(description="CSV: LAchildID,cluster")],
    allow_partial: Annotated[
        bool, Form(description="apply the valid rows even when some rows are rejected")
    ] = False,
) -> dict[str, Any]:
    try:
        children = service.read_map(child_map.file, "child_map", "LAchildID")
    except service.ImportError_ as exc:
        raise _refused(exc) from None
    report = ImportReport()
    records = service.cin_records(
        census.file, children, await request_pseudonym_key(request, session), report
    )
    return await _apply(session, user, "cin_xml", records, report, allow_partial)


@router.get("/{import_id}", summary="The report of an applied import")
async def get_import(user: Analyst, import_id: uuid.UUID, session: DbSession) -> dict[str, Any]:
    run = await session.get(ImportRun, import_id)
    if run is None:
        raise not_found("import", import_id)
    await audit.record(session, user, "read", "import_run", run.id)
    return {
        "import_id": run.id,
        "kind": run.kind,
        "status": run.status,
        "actor": run.actor,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "rows_read": run.rows_read,
        "applied": run.applied,
        "duplicates": run.duplicates,
        "ignored": run.ignored,
        "rejected_count": run.rejected_count,
        "rejected": [{"at": r["location"], "field": r["field"], "reason": r["reason"]} for r in run.rejected],
    }
