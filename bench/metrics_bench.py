"""Metrics service benchmark, in one run:

1. importing 1,000,000 SSDA903 episode rows (seconds, rows/s, peak memory) beside a raw COPY of the
   same file into a bare text table, which the target is judged against (at least half its rows/s;
   peak memory <= 300 MB), and a COPY of the resulting records into the indexed records table
   (the floor for storing them at all); medians of --repeat interleaved rounds;
2. latency of GET /v1/metrics/pre-post over 5,000,000 service records (target p95 <= 50 ms);
3. time from POSTing a record to seeing it in the before/after table (target p95 <= 0.5 s).

    uv run python bench/metrics_bench.py [--rows 1000000] [--records 5000000] [--repeat 3]
                                         [--import-only]

Uses DATABASE_URL when set (a server you own), else an embedded PostgreSQL in .rethink/bench-pg.
A scratch database is created for the run and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from shared.settings import asyncpg_url, plain_url  # noqa: E402

HEADER = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN"
CLUSTERS = [f"CL-{i:02d}" for i in range(25)]
RES_STARTS = {f"CL-{i:02d}": date(2017, 1 + i, 1) for i in range(7)}
SECRET = "bench-secret-" + "x" * 40


def peak_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: the latter keeps the parent's
    peak across fork/exec, which would charge the file generator's memory to the import."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


# --- scratch database ------------------------------------------------------------------------------
def server_url() -> tuple[str, object]:
    url = os.environ.get("DATABASE_URL") or os.environ.get("RETHINK_DATABASE_URL")
    if url:
        return plain_url(asyncpg_url(url)), None
    from shared.embedded import start_postgres

    handle, url = start_postgres(ROOT / ".rethink" / "bench-pg")
    return plain_url(asyncpg_url(url)), handle


@contextlib.contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A fresh database on the bench server (DATABASE_URL or an embedded one), dropped at the end."""
    server, handle = server_url()
    name = f"{prefix}_{os.getpid()}"
    asyncio.run(admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield plain_url(
            make_url(asyncpg_url(server)).set(database=name).render_as_string(hide_password=False)
        )
    finally:
        asyncio.run(admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if handle is not None:
            handle.cleanup()  # type: ignore[attr-defined]


async def admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


# --- 1. import -------------------------------------------------------------------------------------
def write_episodes(path: Path, rows: int) -> None:
    rng = random.Random(7)
    base = date(2015, 4, 1)
    with path.open("w") as f:
        f.write(HEADER + "\n")
        for i in range(rows):
            day = base + timedelta(days=rng.randrange(1765))
            rne = "S" if rng.random() < 0.7 else rng.choice("LPTBU")
            ls = "V3" if rng.random() < 0.02 else "C2"
            sector = f"LS{rng.randrange(25) + 1} {rng.randrange(3)}"
            f.write(f"C{i // 2:07d},{day:%d/%m/%Y},{rne},{ls},N1,U1,PR1,,,,{sector}AB,LS1 1,SC1\n")


def write_sector_map(path: Path) -> None:
    lines = ["postcode_sector,cluster"]
    lines += [f"LS{i + 1} {j},{CLUSTERS[i]}" for i in range(25) for j in range(3)]
    path.write_text("\n".join(lines) + "\n")


async def child_import(db_url: str, episodes: str, sectors: str) -> dict[str, float]:
    from services.metrics_worker.cli import register, run_import
    from services.metrics_worker.settings import Settings

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["import", "ssda903", episodes, "--sector-map", sectors])
    settings = Settings(database_url=db_url, pseudonym_key="bench-key")
    start = time.perf_counter()
    code, report = await run_import(args, settings)
    seconds = time.perf_counter() - start
    if code != 0:
        raise SystemExit(json.dumps(report, default=str))
    return {
        "seconds": seconds,
        "rows": report["rows_read"],
        "applied": report["applied"],
        "peak_mb": peak_mb(),
    }


async def child_raw_copy(db_url: str, episodes: str) -> dict[str, float]:
    conn = await asyncpg.connect(db_url)
    cols = ", ".join(f"{c.lower()} text" for c in HEADER.split(","))
    await conn.execute(f"DROP TABLE IF EXISTS bench_raw; CREATE TABLE bench_raw ({cols})")
    start = time.perf_counter()
    status = await conn.copy_to_table("bench_raw", source=episodes, format="csv", header=True)
    seconds = time.perf_counter() - start
    await conn.execute("DROP TABLE bench_raw")
    await conn.close()
    return {"seconds": seconds, "rows": int(status.split()[-1]), "peak_mb": peak_mb()}


async def child_raw_records(db_url: str, dump: str) -> dict[str, float]:
    """COPY the records our import stored straight back into an emptied service_records: the
    floor for writing these rows into that table with its indexes."""
    conn = await asyncpg.connect(db_url)
    cols = ["type", "cluster_code", "occurred_on", "child_ref", "source_id"]
    await conn.copy_from_table(
        "service_records", schema_name="metrics", columns=cols, output=dump, format="csv"
    )
    await conn.execute("TRUNCATE metrics.service_records, metrics.monthly_counts")
    start = time.perf_counter()
    status = await conn.copy_to_table(
        "service_records", schema_name="metrics", columns=cols, source=dump, format="csv"
    )
    seconds = time.perf_counter() - start
    await conn.close()
    return {"seconds": seconds, "rows": int(status.split()[-1]), "peak_mb": peak_mb()}


def run_child(*argv: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, *argv], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def bench_import(db_url: str, rows: int, repeat: int) -> None:
    """Each round: the bare COPY, our import into emptied tables, then the COPY of the records it
    stored into the emptied records table. Rounds are interleaved so that load from other work on
    the machine falls on all three alike; medians are reported, with the spread."""
    runs: dict[str, list[dict[str, float]]] = {"raw": [], "ours": [], "stored": []}
    with tempfile.TemporaryDirectory() as tmp:
        episodes, sectors = Path(tmp) / "episodes.csv", Path(tmp) / "sectors.csv"
        write_episodes(episodes, rows)
        write_sector_map(sectors)
        for _ in range(repeat):
            asyncio.run(admin(db_url, "TRUNCATE metrics.service_records, metrics.monthly_counts"))
            runs["raw"].append(run_child("_raw", db_url, str(episodes)))
            runs["ours"].append(run_child("_import", db_url, str(episodes), str(sectors)))
            runs["stored"].append(run_child("_raw_records", db_url, str(Path(tmp) / "records.csv")))
        # the records table now holds every record of the file: a re-sent file (overlapping
        # yearly returns) finds each one a duplicate
        again = run_child("_import", db_url, str(episodes), str(sectors))

    def median(name: str) -> dict[str, float]:
        return sorted(runs[name], key=lambda r: r["seconds"])[len(runs[name]) // 2]

    def spread(name: str) -> str:
        times = [r["seconds"] for r in runs[name]]
        return f"(median of {len(times)}: {min(times):.2f}-{max(times):.2f} s)" if len(times) > 1 else ""

    ours, raw, stored = median("ours"), median("raw"), median("stored")
    our_rate = ours["rows"] / ours["seconds"]
    peak = max(r["peak_mb"] for r in runs["ours"])
    print(f"\n1. SSDA903 import of {rows:,} episode rows ({int(ours['applied']):,} records applied)")
    print(
        "   rethink import (parse, validate, pseudonymise, look up known source ids, COPY the new"
        f" records, count):\n      {ours['seconds']:7.2f} s  {our_rate:10,.0f} rows/s  "
        f"peak {peak:6.1f} MB {spread('ours')}"
        f"\n      peak memory target <= 300 MB: {'met' if peak <= 300 else 'NOT met'}"
    )
    print(
        f"   the same file again (every record already stored): {again['seconds']:.2f} s, "
        f"{int(again['applied'])} applied"
    )
    for label, base, name in (
        ("a. raw COPY of the episode file into a bare text table", raw, "raw"),
        ("b. raw COPY of the records the import stored into metrics.service_records", stored, "stored"),
    ):
        rate = base["rows"] / base["seconds"]
        # compare per episode row: the records COPY moves fewer rows than the file has
        per_row = rows / base["seconds"]
        print(
            f"   {label}:\n      {base['seconds']:7.2f} s  {rate:10,.0f} rows/s {spread(name)}"
            f"  -> rethink's rows/s is {our_rate / per_row:.2f} of its episode rows/s"
            f" (>= 0.50: {'yes' if our_rate >= per_row / 2 else 'no'})"
        )
    per_row = rows / raw["seconds"]
    print(
        '   The issue\'s target ("at least half the raw rows/s" of "a raw COPY of the same rows")'
        " is judged against (a),\n"
        f"   the COPY of the same {rows:,} episode rows: "
        f"{'MET' if our_rate >= per_row / 2 else 'NOT MET'} ({our_rate / per_row:.2f}). (b) is the "
        "floor for writing these records into the indexed\n   records table at all, shown for scale."
    )


# --- 2 and 3. API latency ---------------------------------------------------------------------------
async def fill_records(db_url: str, records: int) -> float:
    conn = await asyncpg.connect(db_url)
    start = time.perf_counter()
    await conn.execute(
        """INSERT INTO metrics.service_records (source_id, type, cluster_code, occurred_on, child_ref)
        SELECT 'bench:' || g,
               (ARRAY['contact','referral','re_referral','cp_plan_start','cp_plan_end',
                      'cla_start','cla_end'])[1 + g % 7],
               'CL-' || lpad((g % 25)::text, 2, '0'),
               date '2015-04-01' + (g % 1765),
               'child-' || (g % 900000)
        FROM generate_series(1, $1::int) AS g""",
        records,
    )
    for code in CLUSTERS:
        await conn.execute(
            "INSERT INTO metrics.clusters (code, res_start) VALUES ($1, $2)", code, RES_STARTS.get(code)
        )
    await conn.close()
    return time.perf_counter() - start


async def bench_api(db_url: str, records: int) -> None:
    from services.metrics_worker.app import create_app
    from services.metrics_worker.settings import Settings
    from shared.auth import issue_dev_token

    filled = await fill_records(db_url, records)
    settings = Settings(
        database_url=db_url, redis_url="redis://127.0.0.1:1/0", jwt_secret=SECRET, log_level="WARNING"
    )
    app = create_app(settings)
    analyst = {"Authorization": "Bearer " + issue_dev_token(settings, role="analyst")}
    partner = {"Authorization": "Bearer " + issue_dev_token(settings, role="partner_system")}
    scheduler = {"Authorization": "Bearer " + issue_dev_token(settings, role="scheduler")}
    params = {"measure": "cla_start", "from": "2015-04", "to": "2020-01"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
            start = time.perf_counter()
            # inside the request: the bench runs no worker to take the queued job
            r = await client.post("/v1/recompute", params={"wait": "true"}, headers=scheduler)
            r.raise_for_status()
            rebuilt = time.perf_counter() - start
            print(
                f"\n2. before/after query over {records:,} records "
                f"(loaded in {filled:.1f} s, monthly counts rebuilt in {rebuilt:.1f} s)"
            )
            latencies = []
            for _ in range(200):
                t = time.perf_counter()
                r = await client.get("/v1/metrics/pre-post", params=params, headers=analyst)
                latencies.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, r.text
            p95 = pct(latencies, 95)
            print(
                f"   GET /v1/metrics/pre-post x200: p50 {pct(latencies, 50):.1f} ms, p95 {p95:.1f} ms"
                f" (target <= 50 ms: {'met' if p95 <= 50 else 'NOT met'})"
            )

            visible = []
            for i in range(100):
                cluster = CLUSTERS[i % 7]
                before = await _post_count(client, analyst, params, cluster)
                event = {
                    "type": "cla_start",
                    "cluster": cluster,
                    "date": "2019-06-15",
                    "child_ref": f"lat-{i}",
                    "source_id": f"lat-{uuid.uuid4()}",
                }
                t = time.perf_counter()
                r = await client.post("/v1/service-events", json={"events": [event]}, headers=partner)
                assert r.status_code == 200, r.text
                while await _post_count(client, analyst, params, cluster) != before + 1:
                    await asyncio.sleep(0.005)
                visible.append(time.perf_counter() - t)
            p95s = pct(visible, 95)
            verdict = "met" if p95s <= 0.5 else "NOT met"
            print(
                "3. POST a record -> seen in the before/after table x100: "
                f"p50 {pct(visible, 50) * 1000:.1f} ms, p95 {p95s * 1000:.1f} ms "
                f"(target <= 500 ms: {verdict})"
            )


async def _post_count(
    client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, str], cluster: str
) -> int:
    r = await client.get("/v1/metrics/pre-post", params=params, headers=headers)
    row = next(x for x in r.json()["rows"] if x["cluster"] == cluster)
    return int(row["post_count"])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_import":
        print(json.dumps(asyncio.run(child_import(*sys.argv[2:5]))))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_raw_records":
        print(json.dumps(asyncio.run(child_raw_records(*sys.argv[2:4]))))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_raw":
        print(json.dumps(asyncio.run(child_raw_copy(*sys.argv[2:4]))))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--records", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="rounds of part 1 (medians reported)")
    ap.add_argument("--import-only", action="store_true", help="skip the API latency parts (2, 3)")
    opts = ap.parse_args()
    with scratch_database("rethink_bench") as db_url:
        from shared.migrate import migrate_all

        migrate_all(db_url, ("metrics",))
        print(f"metrics benchmark on {os.cpu_count()} CPUs, database {make_url(db_url).database}")
        bench_import(db_url, opts.rows, opts.repeat)
        if not opts.import_only:
            asyncio.run(admin(db_url, "TRUNCATE metrics.service_records, metrics.monthly_counts"))
            asyncio.run(bench_api(db_url, opts.records))


if __name__ == "__main__":
    main()
