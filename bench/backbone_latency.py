"""Commit -> consumer-applied latency of the event backbone, through real processes.

    uv run python bench/backbone_latency.py [--writes 300] [--interval-ms 20]

Runs the formulation API (`rethink serve formulation`) and the worker (`rethink worker`: every
relay and consumer), makes N cluster writes through the API one after another, spaced a little
apart, and reads, for each event, when the goals consumer applied it (goals.processed_events).
Target (issue 2): p95 <= 200 ms from commit to applied. Everything listens on 127.0.0.1.

Clocks: `occurred_at` is stamped by the API just before the event row is inserted (so slightly
before the commit, which makes the figure conservative); `processed_at` is the consumer
transaction's start, written in the same transaction as the effect. Both come from this machine's
clock. The relay leg (outbox row committed -> published to Redis) is printed separately.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._servers import (
    BENCH_SECRET,
    Backing,
    backing_servers,
    percentile,
    rethink_env,
    running,
    serve_formulation,
)

TARGET_P95_MS = 200.0
BODY = {"name": "Latency cluster", "res_start": "2017-10-01", "co_located": False}


async def _fetch(database_url: str, prefix: str) -> list[tuple[str, float, float | None, dict[str, float]]]:
    """(code, occurred_at, published_at, {consumer schema: processed_at}) per event of this run."""
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            """
            SELECT o.subject_id, extract(epoch FROM o.occurred_at) AS occurred,
                   extract(epoch FROM o.published_at) AS published,
                   extract(epoch FROM g.processed_at) AS goals,
                   extract(epoch FROM m.processed_at) AS metrics
            FROM formulation.outbox o
            LEFT JOIN goals.processed_events g ON g.event_id = o.event_id
            LEFT JOIN metrics.processed_events m ON m.event_id = o.event_id
            WHERE o.type = 'cluster.upserted' AND o.subject_id LIKE $1
            """,
            prefix + "%",
        )
    finally:
        await conn.close()
    out = []
    for r in rows:
        applied = {k: float(r[k]) for k in ("goals", "metrics") if r[k] is not None}
        published = float(r["published"]) if r["published"] is not None else None
        out.append((r["subject_id"], float(r["occurred"]), published, applied))
    return out


def wait_applied(
    backing: Backing, prefix: str, n: int, timeout: float
) -> list[tuple[str, float, float | None, dict[str, float]]]:
    """Poll until both consumers applied all n events of this run (or the timeout passes)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = asyncio.run(_fetch(backing.database_url, prefix))
        done = sum(1 for r in rows if len(r[3]) == 2)
        if done >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.25)


def write(client: httpx.Client, code: str) -> float:
    r = client.put(f"/v1/clusters/{code}", json=BODY)
    if r.status_code not in (200, 201):
        raise RuntimeError(f"PUT {code} answered {r.status_code}: {r.text[:200]}")
    return time.time()


def summary(name: str, values_ms: list[float]) -> str:
    v = sorted(values_ms)
    return (
        f"  {name:<40} {len(v):>5} {percentile(v, 50):>8.1f} {percentile(v, 95):>8.1f}"
        f" {percentile(v, 99):>8.1f} {v[-1] if v else float('nan'):>8.1f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--interval-ms", type=float, default=20.0, help="pause between writes")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for consumers")
    args = parser.parse_args()
    if not 1 <= args.writes <= 10_000 or not 0 <= args.interval_ms <= 1000:
        parser.error("--writes must be 1..10000 and --interval-ms 0..1000")

    from shared.auth import issue_dev_token
    from shared.settings import ServiceSettings

    token = issue_dev_token(ServiceSettings(jwt_secret=BENCH_SECRET), role="admin", sub="bench-admin")
    with backing_servers() as backing:
        where = "embedded" if backing.embedded else "DATABASE_URL/REDIS_URL"
        print(f"PostgreSQL and Redis: {where}; fresh database migrated")
        url, api_argv, api_env = serve_formulation(backing)
        worker_argv = [api_argv[0], "worker"]
        with (
            running("formulation", api_argv, api_env, f"{url}/readyz"),
            running("worker", worker_argv, rethink_env(backing)),
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client,
        ):
            # Warm-up: the worker is ready once a first event has gone all the way through.
            write(client, "warm-0")
            if len(wait_applied(backing, "warm-", 1, 60)[0][3]) != 2:
                print("the worker did not apply the warm-up event within 60 s; see bench/out/")
                return 2
            started = time.perf_counter()
            responded: dict[str, float] = {}
            for i in range(args.writes):
                code = f"lat-{i}"
                responded[code] = write(client, code)
                time.sleep(args.interval_ms / 1000)
            elapsed = time.perf_counter() - started
            rows = wait_applied(backing, "lat-", args.writes, args.timeout)
        report(rows, responded, args, elapsed)
        goals = [1000 * (a["goals"] - occ) for _, occ, _, a in rows if "goals" in a]
        ok = len(goals) == args.writes and percentile(sorted(goals), 95) <= TARGET_P95_MS
    return 0 if ok else 1


def report(
    rows: list[tuple[str, float, float | None, dict[str, float]]],
    responded: dict[str, float],
    args: argparse.Namespace,
    elapsed: float,
) -> None:
    goals = [1000 * (a["goals"] - occ) for _, occ, _, a in rows if "goals" in a]
    metrics = [1000 * (a["metrics"] - occ) for _, occ, _, a in rows if "metrics" in a]
    relay = [1000 * (pub - occ) for _, occ, pub, _ in rows if pub is not None]
    after_response = [
        1000 * (a["goals"] - responded[code]) for code, _, _, a in rows if "goals" in a and code in responded
    ]
    print(
        f"\n{args.writes} writes through PUT /v1/clusters/{{code}} in {elapsed:.1f} s "
        f"({args.interval_ms:.0f} ms apart); worker: `rethink worker` (relays + arq consumers)"
    )
    print(f"  {'leg (ms)':<40} {'n':>5} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
    print(summary("commit -> applied by goals consumer", goals))
    print(summary("commit -> applied by metrics consumer", metrics))
    print(summary("commit -> published by the relay", relay))
    print(summary("API response -> applied by goals", after_response))
    applied_at = sorted(a["goals"] for _, _, _, a in rows if "goals" in a)
    if len(applied_at) > 1 and applied_at[-1] > applied_at[0]:
        consumer_rate = (len(applied_at) - 1) / (applied_at[-1] - applied_at[0])
        write_rate = args.writes / elapsed
        print(f"\n  write rate {write_rate:.1f}/s; goals consumer applied {consumer_rate:.1f} events/s")
        if consumer_rate < 0.9 * write_rate:
            print("  The consumer is slower than the writes, so a queue builds up and the latency is")
            print("  mostly waiting in it. (arq takes at most max_jobs = RETHINK_CONSUMER_CONCURRENCY")
            print("  jobs per poll, and the worker polls every 0.1 s.)")
    missing = args.writes - len(goals)
    if missing:
        print(f"  WARNING: {missing} events were not applied by goals within {args.timeout:.0f} s")
    p95 = percentile(sorted(goals), 95) if goals else float("nan")
    verdict = "MET" if goals and not missing and p95 <= TARGET_P95_MS else "MISSED"
    print(f"\nTarget: commit -> applied p95 <= {TARGET_P95_MS:.0f} ms: p95 = {p95:.1f} ms  {verdict}")


if __name__ == "__main__":
    sys.exit(main())
