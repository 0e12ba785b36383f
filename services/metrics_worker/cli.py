"""`rethink import ssda903|cin ...`: apply a statutory file from disk (registered by shared.cli)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Literal

from services.metrics_worker import models  # noqa: F401  (registers the tables and infra)
from services.metrics_worker.db import SCHEMA
from services.metrics_worker.imports import service
from services.metrics_worker.records import ImportReport
from services.metrics_worker.settings import PseudonymKeyMissing, Settings
from shared.auth import Principal, Role
from shared.db import create_engine, create_sessionmaker
from shared.local_db import database_url

# the files an import reads, by the name the refusal gives them (the argument's name)
_FILES = {"ssda903": ("episodes", "sector_map", "header"), "cin": ("census", "child_map")}


def register(subparsers: Any) -> None:
    imp = subparsers.add_parser("import", help="import a statutory file into the metrics service")
    kinds = imp.add_subparsers(dest="kind", required=True)
    s = kinds.add_parser("ssda903", help="SSDA903 episodes (CSV or XML)")
    s.add_argument("episodes", type=Path)
    s.add_argument("--sector-map", type=Path, required=True, help="CSV: postcode_sector,cluster")
    s.add_argument("--header", type=Path, help="the SSDA903 header file (optional)")
    s.add_argument("--format", choices=("csv", "xml"), help="default: from the file extension")
    s.add_argument("--allow-partial", action="store_true", help="apply without rejected rows")
    s.set_defaults(func=cmd_import)
    c = kinds.add_parser("cin", help="CIN census XML")
    c.add_argument("census", type=Path)
    c.add_argument("--child-map", type=Path, required=True, help="CSV: LAchildID,cluster")
    c.add_argument("--allow-partial", action="store_true", help="apply without rejected rows")
    c.set_defaults(func=cmd_import)


def unreadable_file(args: argparse.Namespace) -> dict[str, Any] | None:
    """The refusal for the first file given that is missing or not a file, before any work."""
    for field in _FILES[args.kind]:
        path: Path | None = getattr(args, field)
        if path is None or (path.exists() and not path.is_dir()):
            continue  # a file, or a pipe such as <(zcat episodes.csv.gz)
        rule, what = (
            ("not_a_file", "is a directory") if path.exists() else ("file_not_found", "does not exist")
        )
        return _refused(field, rule, f"{path} {what}")
    return None


def _refused(field: str, rule: str, message: str) -> dict[str, Any]:
    return {"status": "refused", "field": field, "rule": rule, "message": message}


async def run_import(args: argparse.Namespace, settings: Settings) -> tuple[int, dict[str, Any]]:
    refusal = unreadable_file(args)
    if refusal is not None:
        return 2, refusal
    engine = create_engine(settings.require_database_url(), pool_size=1, max_overflow=0)
    sessionmaker = create_sessionmaker(engine, service="metrics", schema=SCHEMA)
    actor = Principal(sub=f"cli:{getpass.getuser()}", role=Role.ANALYST)
    report = ImportReport()
    try:
        async with sessionmaker() as session:
            key = await settings.pseudonym_secret_for(session)
        with ExitStack() as files:
            if args.kind == "ssda903":
                with args.sector_map.open("rb") as f:
                    sectors = service.read_map(f, "sector_map", "postcode_sector")
                xml = (args.format or args.episodes.suffix.lower().lstrip(".")) == "xml"
                fmt: Literal["csv", "xml"] = "xml" if xml else "csv"
                header = files.enter_context(args.header.open("rb")) if args.header else None
                episodes = files.enter_context(args.episodes.open("rb"))
                records = service.ssda903_records(episodes, fmt, sectors, key, report, header)
                kind: service.Kind = "ssda903_xml" if fmt == "xml" else "ssda903_csv"
            else:
                with args.child_map.open("rb") as f:
                    children = service.read_map(f, "child_map", "LAchildID")
                records = service.cin_records(
                    files.enter_context(args.census.open("rb")), children, key, report
                )
                kind = "cin_xml"
            async with sessionmaker() as session, session.begin():
                run = await service.apply_file(
                    session, actor, kind, records, report, allow_partial=args.allow_partial
                )
            return 0, service.report_out(report, run)
    except service.FileHasErrors as exc:
        out = service.report_out(exc.report)
        out["message"] = "rows were rejected; nothing was applied (use --allow-partial)"
        return 1, out
    except service.ImportError_ as exc:
        return 2, _refused(exc.field, exc.rule, exc.detail)
    except PseudonymKeyMissing as exc:
        return 2, _refused("pseudonym_key", "pseudonym_key_missing", str(exc))
    finally:
        await engine.dispose()


def cmd_import(args: argparse.Namespace) -> int:
    settings = Settings()
    refusal = unreadable_file(args)  # before a database is looked for (or started)
    if refusal is not None:
        code, out = 2, refusal
    else:
        # DATABASE_URL, else the embedded server `rethink dev` uses
        with database_url(settings) as url:
            code, out = asyncio.run(run_import(args, settings.model_copy(update={"database_url": url})))
    print(json.dumps(out, indent=2, default=str), file=sys.stdout if code == 0 else sys.stderr)
    return code
