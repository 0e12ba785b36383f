"""Write throughput: the real formulation API (row + outbox + audit) against a bare FastAPI + asyncpg
INSERT endpoint, both under the same load (64 concurrent clients by default), in the same run.

    uv run python bench/backbone_write.py [--clients 64] [--duration 15] [--profile]

Targets (issue 2): ours >= 50% of the bare endpoint's requests/s, and our p99 <= 2x the bare p99.
Load comes from `wrk` (apt-get install wrk) with a Lua script for unique PUT bodies, or, without
wrk (or with --no-wrk), from a keep-alive asyncio HTTP/1.1 client in a separate process. A third
row, by hand with asyncpg, shows the classic shape of the same work (BEGIN, the row, the audit row,
the outbox row, NOTIFY, COMMIT) for comparison. Both servers stay up while `--rounds` interleaved
rounds measure them back to back; the targets are judged on the median ratios, since this shared
machine's speed drifts between minutes.
Everything listens on 127.0.0.1 only; every load run is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._servers import (
    BENCH_SECRET,
    OUT,
    backing_servers,
    cpu_seconds,
    free_port,
    percentile,
    running,
    serve_formulation,
)

BODY = {"name": "Bench cluster", "res_start": "2017-10-01", "co_located": True}
POOL_SIZE, MAX_OVERFLOW = 20, 0
_ISSUER, _AUDIENCE = (
    "rethink-dev",
    "rethink",
)  # ServiceSettings' development defaults  # the same pool as the service's defaults (RETHINK_DB_POOL_*)

WRK_SCRIPT = r"""
local counter = 0
local n_threads = 0
function setup(thread)
  n_threads = n_threads + 1
  thread:set("tid", n_threads)
end
function init(args)
  prefix, path = args[1], args[3]
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  wrk.body = args[4]
end
function request()
  counter = counter + 1
  return wrk.format("PUT", path .. prefix .. tid .. "-" .. counter)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nRESULT {"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, '
    .. '"p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
"""


@dataclass
class LoadResult:
    requests: int
    seconds: float
    errors: int
    non2xx: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    tool: str
    cpu_ms_per_request: float = 0.0
    db_cpu_ms_per_request: float = float("nan")

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# --- the bare ceiling: FastAPI + asyncpg, one INSERT per request ------------------------------


class BareClusterPut(BaseModel):
    """The same body as the real endpoint's, validated the same way (pydantic v2)."""

    name: str = Field(min_length=1, max_length=200)
    res_start: date | None
    co_located: bool = False


def bare_app(database_url: str) -> FastAPI:
    import asyncpg

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(
            database_url, min_size=POOL_SIZE, max_size=POOL_SIZE + MAX_OVERFLOW
        )
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.put("/bare/{code}", status_code=201)
    async def put(code: str, body: BareClusterPut) -> dict[str, object]:
        async with app.state.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO bench.bare_clusters (code, name, res_start, co_located) VALUES ($1, $2, $3, $4)",
                code,
                body.name,
                body.res_start,
                body.co_located,
            )
        return {"code": code, **body.model_dump(mode="json")}

    @app.put("/bare-tx/{code}", status_code=201)
    async def put_tx(code: str, body: BareClusterPut, request: Request) -> dict[str, object]:
        # The same database work as the real endpoint, by hand: verify the JWT, then the row, an
        # audit row, an outbox row and a NOTIFY in one transaction. A diagnostic, not the target.
        claims = verify_bench_token(request.headers.get("authorization", ""))
        async with app.state.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO bench.tx_clusters (code, name, res_start, co_located) VALUES ($1, $2, $3, $4)",
                code,
                body.name,
                body.res_start,
                body.co_located,
            )
            await conn.execute(
                "INSERT INTO bench.tx_audit (actor, role, action, resource_type, resource_id)"
                " VALUES ($1, $2, 'create', 'cluster', $3)",
                claims["sub"],
                claims["role"],
                code,
            )
            payload = {"cluster_code": code, "res_start": str(body.res_start), "co_located": body.co_located}
            await conn.execute(
                "INSERT INTO bench.tx_outbox (event_id, type, subject_id, payload)"
                " VALUES ($1, 'cluster.upserted', $2, $3::jsonb)",
                uuid.uuid4(),
                code,
                json.dumps(payload),
            )
            await conn.execute("NOTIFY bench_outbox")
        return {"code": code, **body.model_dump(mode="json")}

    return app


def verify_bench_token(header: str) -> dict[str, object]:
    import jwt

    token = header.partition(" ")[2]
    claims: dict[str, object] = jwt.decode(
        token, BENCH_SECRET, algorithms=["HS256"], audience=_AUDIENCE, issuer=_ISSUER
    )
    return claims


def serve_bare(port: int, database_url: str) -> None:
    import uvicorn

    # Same uvicorn settings as `rethink serve` (one worker, proxy headers, no uvicorn log config),
    # with no access log: this is the ceiling.
    uvicorn.run(
        bare_app(database_url),
        host="127.0.0.1",
        port=port,
        log_config=None,
        workers=1,
        proxy_headers=True,
        access_log=False,
    )


async def create_bare_table(database_url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "CREATE SCHEMA IF NOT EXISTS bench;"
            "CREATE TABLE IF NOT EXISTS bench.bare_clusters (code varchar(40) PRIMARY KEY,"
            " name varchar(200) NOT NULL, res_start date, co_located boolean NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now());"
            "CREATE TABLE IF NOT EXISTS bench.tx_clusters (LIKE bench.bare_clusters INCLUDING ALL);"
            "CREATE TABLE IF NOT EXISTS bench.tx_audit (id bigint GENERATED ALWAYS AS IDENTITY"
            " PRIMARY KEY, occurred_at timestamptz NOT NULL DEFAULT now(), actor varchar(200)"
            " NOT NULL, role varchar(40) NOT NULL, action varchar(20) NOT NULL, resource_type"
            " varchar(60) NOT NULL, resource_id varchar(100) NOT NULL);"
            "CREATE TABLE IF NOT EXISTS bench.tx_outbox (id bigint GENERATED ALWAYS AS IDENTITY"
            " PRIMARY KEY, event_id uuid NOT NULL UNIQUE, type varchar(100) NOT NULL,"
            " occurred_at timestamptz NOT NULL DEFAULT now(), subject_id varchar(100) NOT NULL,"
            " payload jsonb NOT NULL, published_at timestamptz);"
            "CREATE INDEX IF NOT EXISTS ix_tx_outbox_unpublished ON bench.tx_outbox (id)"
            " WHERE published_at IS NULL"
        )
    finally:
        await conn.close()


async def count_rows(database_url: str, table: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


# --- load generation --------------------------------------------------------------------------


def run_wrk(
    url: str, path: str, prefix: str, token: str, clients: int, seconds: float, threads: int
) -> LoadResult:
    OUT.mkdir(parents=True, exist_ok=True)
    script = OUT / "put.lua"
    script.write_text(WRK_SCRIPT)
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{clients}",
        f"-d{seconds:.0f}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
        "--",
        prefix,
        token,
        path,
        json.dumps(BODY),
    ]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=True)
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    data = json.loads(line[len("RESULT ") :])
    return LoadResult(
        data["requests"],
        data["duration_us"] / 1e6,
        data["errors"],
        data["non2xx"],
        data["p50_ms"],
        data["p90_ms"],
        data["p99_ms"],
        data["max_ms"],
        "wrk",
    )


async def _asyncio_load(
    url: str, path: str, prefix: str, token: str, clients: int, seconds: float
) -> dict[str, object]:
    """wrk's job without wrk: one keep-alive HTTP/1.1 connection per client, raw asyncio streams
    (httpx's pool is itself the bottleneck at this rate)."""
    from urllib.parse import urlsplit

    target = urlsplit(url)
    body = json.dumps(BODY).encode()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0
    deadline = time.perf_counter() + seconds

    async def one_client(n: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(target.hostname, target.port)
        i = 0
        try:
            while time.perf_counter() < deadline:
                i += 1
                head = (
                    f"PUT {path}{prefix}{n}-{i} HTTP/1.1\r\nHost: {target.netloc}\r\n"
                    f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                )
                start = time.perf_counter()
                writer.write(head.encode() + body)
                try:
                    async with asyncio.timeout(10):
                        status_line = await reader.readline()
                        length = 0
                        while (line := await reader.readline()) not in (b"\r\n", b""):
                            name, _, value = line.decode("latin-1").partition(":")
                            if name.lower() == "content-length":
                                length = int(value)
                        await reader.readexactly(length)
                except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                    errors += 1
                    return
                statuses[int(status_line.split()[1])] += 1
                latencies.append(time.perf_counter() - start)
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(one_client(n) for n in range(clients)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "errors": errors,
        "non2xx": sum(v for k, v in statuses.items() if not 200 <= k < 300),
        **{f"p{q}_ms": percentile(latencies, q) * 1000 for q in (50, 90, 99)},
        "max_ms": (latencies[-1] if latencies else 0) * 1000,
    }


def run_asyncio(url: str, path: str, prefix: str, token: str, clients: int, seconds: float) -> LoadResult:
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--load-asyncio",
        url,
        path,
        prefix,
        token,
        str(clients),
        str(seconds),
    ]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=True)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return LoadResult(tool="asyncio client", **data)


def load(
    url: str, path: str, prefix: str, token: str, args: argparse.Namespace, seconds: float
) -> LoadResult:
    if shutil.which("wrk") and not args.no_wrk:
        return run_wrk(url, path, prefix, token, args.clients, seconds, args.threads)
    return run_asyncio(url, path, prefix, token, args.clients, seconds)


# --- the run ----------------------------------------------------------------------------------


def measure(
    name: str,
    url: str,
    path: str,
    token: str,
    args: argparse.Namespace,
    pid: int,
    postmaster: int | None,
) -> LoadResult:
    load(url, path, f"{name}-w", token, args, args.warmup)  # warm the pools and caches
    profiler = None
    if args.profile and name == "o0":
        profiler = start_profiler(pid, args.duration)
    api_before = cpu_seconds(pid)
    db_before = cpu_seconds(postmaster, children=True)
    result = load(url, path, f"{name}-m", token, args, args.duration)
    n = max(result.requests, 1)
    result.cpu_ms_per_request = 1000 * (cpu_seconds(pid) - api_before) / n
    if postmaster is not None:
        result.db_cpu_ms_per_request = 1000 * (cpu_seconds(postmaster, children=True) - db_before) / n
    if profiler is not None:
        profiler.wait(args.duration + 30)
    return result


def start_profiler(pid: int, seconds: float) -> subprocess.Popen[bytes] | None:
    local = Path.home() / ".local" / "bin" / "py-spy"  # where `uv tool install` puts it
    py_spy = shutil.which("py-spy") or (str(local) if local.exists() else None)
    if py_spy is None:
        print("  (py-spy not found: `uv tool install py-spy` to profile)")
        return None
    return subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "250",
            "--format",
            "raw",
            "--output",
            str(OUT / "profile.txt"),
            "--nonblocking",
            "--gil",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# Where a GIL-holding sample is charged: the innermost frame that matches one of these. SQLAlchemy's
# async layer runs its sync code in greenlets, whose stacks py-spy shows as separate roots.
PROFILE_BUCKETS = (
    ("JWT verification (PyJWT)", ("jwt/",)),
    ("Prometheus metrics", ("prometheus_client",)),
    ("JSON request log", ("shared/logs.py", "logging/")),
    ("FastAPI OpenTelemetry middleware", ("fastapi/telemetry", "opentelemetry")),
    ("pydantic", ("pydantic",)),
    ("event envelope + catalogue", ("shared/events.py",)),
    ("asyncpg protocol (round trips)", ("asyncpg/",)),
    ("SQLAlchemy ORM/Core + greenlets", ("sqlalchemy/", "greenlet")),
    ("FastAPI dependencies/routing", ("fastapi/",)),
    ("Starlette middleware", ("starlette/",)),
    ("threadpool hand-off (sync dependency)", ("threading.py", "queue.py", "anyio/")),
    ("uvicorn HTTP", ("uvicorn/",)),
    ("asyncio event loop", ("asyncio/",)),
    ("rethink code (shared/, services/)", ("shared/", "services/")),
)


def summarise_profile(path: Path, top: int = 12) -> None:
    """Share of GIL-holding samples per layer and per function, from py-spy's raw output."""
    if not path.exists():
        return
    buckets: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        bucket = next(
            (name for f in reversed(frames) for name, keys in PROFILE_BUCKETS if any(k in f for k in keys)),
            "other",
        )
        buckets[bucket] += count
        for frame in {f for f in frames if "shared/" in f or "services/" in f}:
            inclusive[frame.split(" (")[0] + " (" + frame.split(" (")[-1].split(":")[0]] += count
    if not total:
        return
    print(
        f"\nProfile of the formulation API under load: {total} GIL-holding samples "
        f"(py-spy, bench/out/profile.txt)"
    )
    print("  share   layer (innermost matching frame)")
    for name, count in buckets.most_common():
        print(f"  {100 * count / total:5.1f}%  {name}")
    print("  share   rethink function (inclusive; greenlet stacks excluded)")
    for frame, count in inclusive.most_common(top):
        print(f"  {100 * count / total:5.1f}%  {frame})")


def report(rounds: list[tuple[LoadResult, LoadResult, LoadResult]], clients: int) -> bool:
    def row(name: str, r: LoadResult) -> str:
        return (
            f"  {name:<38} {r.rps:>7.0f} {r.p50_ms:>8.1f} {r.p90_ms:>8.1f} {r.p99_ms:>8.1f}"
            f" {r.errors:>6} {r.non2xx:>7} {r.cpu_ms_per_request:>7.2f} {r.db_cpu_ms_per_request:>6.2f}"
        )

    tool, seconds = rounds[0][2].tool, rounds[0][2].seconds
    print(
        f"\nWrite throughput at {clients} concurrent clients ({tool}, {seconds:.0f} s per run, "
        f"{len(rounds)} interleaved round(s), 127.0.0.1)"
    )
    print(
        f"  {'endpoint':<38} {'req/s':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}"
        f" {'errors':>6} {'non-2xx':>7} {'API CPU':>7} {'PG CPU':>6}"
    )
    rps_ratios, p99_ratios = [], []
    for i, (bare, same_sql, ours) in enumerate(rounds, 1):
        print(row(f"[{i}] bare FastAPI + asyncpg INSERT", bare))
        print(row(f"[{i}] PUT /v1/clusters (row+audit+event)", ours))
        print(row(f"[{i}] diagnostic: 3 INSERTs + NOTIFY, tx", same_sql))
        rps_ratios.append(ours.rps / bare.rps if bare.rps else 0.0)
        p99_ratios.append(ours.p99_ms / bare.p99_ms if bare.p99_ms else float("inf"))
    rps_ratio, p99_ratio = statistics.median(rps_ratios), statistics.median(p99_ratios)
    rps_ok, p99_ok = rps_ratio >= 0.5, p99_ratio <= 2.0
    verdict = {True: "MET", False: "MISSED"}
    spread = "  (rounds: {})"
    print("\nTargets (median over the rounds; each round measures both endpoints back to back):")
    print(f"  throughput  ours / bare = {rps_ratio:.2f}  (target >= 0.50)  {verdict[rps_ok]}")
    print(spread.format(", ".join(f"{r:.2f}" for r in rps_ratios)))
    print(f"  p99 latency ours / bare = {p99_ratio:.2f}  (target <= 2.00)  {verdict[p99_ok]}")
    print(spread.format(", ".join(f"{r:.2f}" for r in p99_ratios)))
    print("  (API CPU / PG CPU: milliseconds of CPU per request in the API process and in the")
    print("   embedded PostgreSQL's processes; the machine has 2 cores for everything)")
    return rps_ok and p99_ok


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=15, help="seconds of measured load")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of load before each")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (the median counts)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (the box has 2 cores)")
    parser.add_argument("--log-level", default="INFO", help="the API's RETHINK_LOG_LEVEL")
    parser.add_argument("--no-wrk", action="store_true", help="use the asyncio client even with wrk")
    parser.add_argument("--profile", action="store_true", help="py-spy the API while measured")
    args = parser.parse_args()
    if not 1 <= args.clients <= 1024 or not 1 <= args.duration <= 300 or not 1 <= args.rounds <= 9:
        parser.error("--clients must be 1..1024, --duration 1..300 seconds and --rounds 1..9")

    from shared.auth import issue_dev_token
    from shared.settings import ServiceSettings

    token = issue_dev_token(ServiceSettings(jwt_secret=BENCH_SECRET), role="admin", sub="bench-admin")
    with backing_servers() as backing:
        where = "embedded" if backing.embedded else "DATABASE_URL/REDIS_URL"
        print(f"PostgreSQL and Redis: {where}; fresh database migrated")
        asyncio.run(create_bare_table(backing.database_url))
        bare_port = free_port()
        bare_url = f"http://127.0.0.1:{bare_port}"
        bare_argv = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--serve-bare",
            str(bare_port),
            backing.database_url,
        ]
        ours_url, ours_argv, ours_env = serve_formulation(backing, log_level=args.log_level)
        rounds = []
        with (
            running("bare", bare_argv, dict(os.environ), f"{bare_url}/healthz") as bare_proc,
            running("formulation", ours_argv, ours_env, f"{ours_url}/readyz") as ours_proc,
        ):
            pg = backing.postmaster_pid
            for i in range(args.rounds):
                bare = measure(f"b{i}", bare_url, "/bare/", token, args, bare_proc.pid, pg)
                ours = measure(f"o{i}", ours_url, "/v1/clusters/", token, args, ours_proc.pid, pg)
                same_sql = measure(f"s{i}", bare_url, "/bare-tx/", token, args, bare_proc.pid, pg)
                rounds.append((bare, same_sql, ours))
        ok = report(rounds, args.clients)
        rows = asyncio.run(count_rows(backing.database_url, "formulation.clusters"))
        audit = asyncio.run(count_rows(backing.database_url, "formulation.audit_log"))
        outbox = asyncio.run(count_rows(backing.database_url, "formulation.outbox"))
        print(
            f"\nClusters written by the real API (incl. warm-up): {rows}; audit rows {audit}, "
            f"outbox rows {outbox}"
        )
        if not rows == audit == outbox:
            print("WARNING: the real API's rows, audit rows and outbox rows differ")
            ok = False
        if args.profile:
            summarise_profile(OUT / "profile.txt")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-bare":
        serve_bare(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "--load-asyncio":
        url, path, prefix, token, clients, seconds = sys.argv[2:8]
        result = asyncio.run(_asyncio_load(url, path, prefix, token, int(clients), float(seconds)))
        print(json.dumps(result))
    else:
        sys.exit(main())
