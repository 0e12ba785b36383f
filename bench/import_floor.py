"""How fast could any SSDA903 import be? The floor of a design that does all its work in SQL.

The import target is at least half the rows/s of a raw COPY of the episode file. This script
measures, on the same server and file as ``metrics_bench.py``, the cheapest import we can write
down that still does the issue's work: COPY the file into a temporary table (no WAL), then one
INSERT ... SELECT that keeps RNE ``S`` episodes outside V3/V4, parses ``dd/mm/yyyy``, maps the
postcode sector to a cluster, de-duplicates (CHILD, DECOM) and stores the records in a table with
no index at all; then the month counts. It skips what the real import also does (rejection
reports, look-ups of stored ids, the unique index that makes re-sending idempotent), so it is a
lower bound, printed beside the raw COPY:

    uv run python bench/import_floor.py [--rows 1000000] [--repeat 2]

Two variants: child references kept as given, and pseudonymised with HMAC-SHA256 in the
database (pgcrypto; skipped when the server lacks it), as the product requires.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from bench.metrics_bench import HEADER, scratch_database, write_episodes, write_sector_map  # noqa: E402

COLUMNS = ", ".join(f"{c.lower()} text" for c in HEADER.split(","))
STORE = """
INSERT INTO floor_store
SELECT DISTINCT ON (child, decom)
    'cla_start', m.cluster, to_date(decom, 'DD/MM/YYYY'), {child_ref},
    'ssda903:' || child || ':' || decom
FROM stage s JOIN floor_map m ON m.sector = left(s.home_post, length(s.home_post) - 2)
WHERE rne = 'S' AND ls NOT IN ('V3', 'V4')
ORDER BY child, decom
"""
COUNTS = """
SELECT count(*) FROM (
    SELECT cluster_code, date_trunc('month', occurred_on), count(*) FROM floor_store GROUP BY 1, 2
) months
"""


async def raw_copy(conn: asyncpg.Connection, episodes: str) -> float:
    await conn.execute(f"DROP TABLE IF EXISTS floor_bare; CREATE TABLE floor_bare ({COLUMNS})")
    start = time.perf_counter()
    await conn.copy_to_table("floor_bare", source=episodes, format="csv", header=True)
    return time.perf_counter() - start


async def floor_import(conn: asyncpg.Connection, episodes: str, child_ref: str) -> tuple[float, int]:
    await conn.execute(
        "DROP TABLE IF EXISTS floor_store; CREATE TABLE floor_store "
        "(type text, cluster_code text, occurred_on date, child_ref text, source_id text)"
    )
    start = time.perf_counter()
    async with conn.transaction():
        await conn.execute(f"CREATE TEMP TABLE stage ({COLUMNS}) ON COMMIT DROP")
        await conn.copy_to_table("stage", source=episodes, format="csv", header=True)
        status = await conn.execute(STORE.format(child_ref=child_ref))
        await conn.fetchval(COUNTS)
    return time.perf_counter() - start, int(status.split()[-1])


async def run(db_url: str, rows: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        episodes, sectors = Path(tmp) / "episodes.csv", Path(tmp) / "sectors.csv"
        write_episodes(episodes, rows)
        write_sector_map(sectors)
        conn = await asyncpg.connect(db_url)
        try:
            await conn.execute("CREATE TABLE floor_map (sector text PRIMARY KEY, cluster text)")
            await conn.copy_to_table("floor_map", source=str(sectors), format="csv", header=True)
            variants = {"child refs as given": "child"}
            try:
                await conn.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")
                variants["pseudonymised (HMAC-SHA256)"] = "encode(hmac(child, 'key', 'sha256'), 'hex')"
            except asyncpg.PostgresError as exc:
                print(f"(pseudonymised variant skipped: {exc})")
            raws: list[float] = []
            floors: dict[str, list[float]] = {name: [] for name in variants}
            stored = 0
            for _ in range(repeat):  # interleaved: the machine's speed drifts between minutes
                raws.append(await raw_copy(conn, str(episodes)))
                for name, expr in variants.items():
                    seconds, stored = await floor_import(conn, str(episodes), expr)
                    floors[name].append(seconds)
        finally:
            await conn.close()
    raw = statistics.median(raws)
    print(f"{rows:,} episode rows, {stored:,} records stored; medians of {repeat}")
    print(f"  raw COPY into a bare text table: {raw:.2f} s  {rows / raw:,.0f} rows/s")
    for name, values in floors.items():
        seconds = statistics.median(values)
        share = raw / seconds  # the share of the raw rate
        print(f"  SQL-only floor, {name}: {seconds:.2f} s  {rows / seconds:,.0f} rows/s, {share:.2f} of raw")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    opts = ap.parse_args()
    with scratch_database("rethink_floor") as db_url:
        asyncio.run(run(db_url, opts.rows, opts.repeat))


if __name__ == "__main__":
    main()
