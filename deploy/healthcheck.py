"""Container health check for every Rethink command (the image's HEALTHCHECK and k8s exec probes).

    python deploy/healthcheck.py              # infer from the container's command (PID 1)
    python deploy/healthcheck.py URL          # GET URL, healthy on 200
    python deploy/healthcheck.py worker       # PostgreSQL and Redis reachable, consumer loops alive
    python deploy/healthcheck.py worker goals # ... for a worker started with --service goals

An API is healthy when it answers its health URL; the worker has no HTTP port, so it is healthy
when it can reach the two servers it works between; a one-shot command (migrate) is always healthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

DEFAULT_PORTS = {"formulation": 8001, "goals": 8002, "metrics": 8003}
SERVICES = tuple(DEFAULT_PORTS)
TIMEOUT = 4.0


def worker_services(args: Sequence[str]) -> list[str]:
    """The services a `rethink worker [--service S ...]` command consumes for (all by default)."""
    named = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--service"]
    named += [a.split("=", 1)[1] for a in args if a.startswith("--service=")]
    return [s for s in SERVICES if s in named] or list(SERVICES)


def target_from_command(argv: Sequence[str], env: Mapping[str, str]) -> tuple[str, str]:
    """What to check for a container started with `argv` (the rethink arguments, maybe prefixed):
    ("http", url), ("worker", comma-separated services) or ("none", "")."""
    args = list(argv)
    if "serve" in args:
        rest = args[args.index("serve") + 1 :]
        service = next((a for a in rest if not a.startswith("-")), "formulation")
        port = str(DEFAULT_PORTS.get(service, 8001))
        port = env.get(f"RETHINK_{service.upper()}_PORT", port)
        if "--port" in rest and rest.index("--port") + 1 < len(rest):
            port = rest[rest.index("--port") + 1]
        return "http", f"http://127.0.0.1:{port}/healthz"
    if "worker" in args:
        return "worker", ",".join(worker_services(args[args.index("worker") + 1 :]))
    return "none", ""


def check_http(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:  # noqa: S310 (local URL)
            return bool(resp.status == 200)
    except OSError:
        return False


def check_worker(env: Mapping[str, str], services: Sequence[str] = SERVICES) -> bool:
    import asyncpg
    import redis

    db = env.get("RETHINK_DATABASE_URL") or env.get("DATABASE_URL") or ""
    rd = env.get("RETHINK_REDIS_URL") or env.get("REDIS_URL") or ""
    if not db or not rd:
        return False
    db = db.replace("postgresql+asyncpg://", "postgresql://", 1)

    async def ping_db() -> None:
        conn = await asyncpg.connect(db, timeout=TIMEOUT)
        try:
            await conn.fetchval("SELECT 1")
        finally:
            await conn.close()

    try:
        asyncio.run(asyncio.wait_for(ping_db(), TIMEOUT))
        client = redis.Redis.from_url(rd, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        if not client.ping():
            return False
        # Each consumer loop refreshes its arq health-check key (with a short expiry): a missing key
        # means a hung or dead worker loop even though the servers answer. Every loop the container
        # runs must be alive, not just one of them.
        prefix = env.get("RETHINK_QUEUE_PREFIX", "rethink")
        keys = [f"{prefix}:events:{svc}:health-check" for svc in services]
        return bool(keys) and client.exists(*keys) == len(keys)
    except Exception:
        return False


def pid1_command() -> list[str]:
    raw = Path("/proc/1/cmdline").read_bytes()
    return [part.decode() for part in raw.split(b"\0") if part]


def main(argv: Sequence[str]) -> int:
    env = os.environ
    if argv and argv[0].startswith("http"):
        kind, url = "http", argv[0]
    elif argv and argv[0] == "worker":
        # the services named here, else those of the container's own worker command
        kind, url = "worker", ",".join(argv[1:])
        if not url:
            with contextlib.suppress(OSError):
                inferred, services = target_from_command(pid1_command(), env)
                url = services if inferred == "worker" else ""
    else:
        kind, url = target_from_command(pid1_command(), env)
    if kind == "http":
        return 0 if check_http(url) else 1
    if kind == "worker":
        services = [s for s in url.split(",") if s] or list(SERVICES)
        return 0 if check_worker(env, services) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
