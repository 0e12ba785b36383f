"""Servers for the benches: PostgreSQL and Redis (embedded, or DATABASE_URL / REDIS_URL), a fresh
migrated database per run, and API/worker subprocesses on 127.0.0.1 that are always stopped."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from shared.embedded import env_urls, free_port, start_postgres, start_redis
from shared.migrate import migrate_all
from shared.settings import asyncpg_url, plain_url

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"  # git-ignored: server logs and profiles
BENCH_SECRET = "bench-secret-" + "b" * 40  # signs the bench's development tokens
RETHINK = str(Path(sys.executable).with_name("rethink"))  # the project script in this venv


@dataclass(frozen=True)
class Backing:
    database_url: str  # plain postgresql:// URL of this run's own, migrated database
    redis_url: str
    queue_prefix: str
    embedded: bool
    postmaster_pid: int | None = None  # the embedded server's, to measure its CPU


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def backing_servers() -> Iterator[Backing]:
    """PostgreSQL and Redis with a fresh database migrated to head; dropped again afterwards."""
    db_url, redis_url = env_urls()
    pg_handle = redis_proc = None
    if not db_url:
        pg_handle, db_url = start_postgres(ROOT / ".rethink" / "bench-backbone-pg")
    if not redis_url:
        redis_proc = start_redis(None)
        redis_url = redis_proc.url
    admin = plain_url(asyncpg_url(db_url))
    name = f"rethink_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(asyncpg_url(admin)).set(database=name).render_as_string(hide_password=False)
        migrate_all(url)
        pid_file = ROOT / ".rethink" / "bench-backbone-pg" / "postmaster.pid"
        pid = int(pid_file.read_text().split()[0]) if pg_handle and pid_file.exists() else None
        prefix = f"rethink-bench-{os.getpid()}"
        yield Backing(plain_url(url), redis_url, prefix, pg_handle is not None, pid)
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if redis_proc is not None:
            redis_proc.stop()
        if pg_handle is not None:
            pg_handle.cleanup()


def rethink_env(backing: Backing, **extra: str) -> dict[str, str]:
    """The environment a `rethink` subprocess gets: this run's servers and the bench secret."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETHINK_")}
    env.update(
        DATABASE_URL=backing.database_url,
        REDIS_URL=backing.redis_url,
        RETHINK_JWT_SECRET=BENCH_SECRET,
        RETHINK_QUEUE_PREFIX=backing.queue_prefix,
        RETHINK_DATA_DIR=str(ROOT / ".rethink" / "bench-data"),
        RETHINK_HOST="127.0.0.1",
    )
    env.update(extra)
    return env


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid


@contextlib.contextmanager
def running(
    name: str, argv: Sequence[str], env: dict[str, str], health_url: str | None = None, timeout: float = 60
) -> Iterator[Process]:
    """Run a subprocess in its own process group (logs to bench/out/NAME.log); stop it on exit."""
    OUT.mkdir(parents=True, exist_ok=True)
    log_path = OUT / f"{name}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            list(argv), env=env, cwd=ROOT, stdout=log, stderr=log, start_new_session=True
        )
    proc = Process(name, popen, log_path)
    try:
        if health_url is not None:
            wait_healthy(proc, health_url, timeout)
        yield proc
    finally:
        stop(proc)


def wait_healthy(proc: Process, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}; see {proc.log_path}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as resp:
            if resp.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{proc.name} did not answer {url} within {timeout:.0f}s")


def stop(proc: Process) -> None:
    if proc.popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.popen.pid, signal.SIGTERM)
        try:
            proc.popen.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGKILL)
            proc.popen.wait(5)


def serve_formulation(backing: Backing, *, log_level: str = "INFO") -> tuple[str, list[str], dict[str, str]]:
    """(base URL, argv, env) for the real formulation API: `rethink serve formulation`, 1 worker."""
    port = free_port()
    argv = [RETHINK, "serve", "formulation", "--port", str(port), "--workers", "1"]
    env = rethink_env(backing, RETHINK_LOG_LEVEL=log_level)
    return f"http://127.0.0.1:{port}", argv, env


def cpu_seconds(pid: int | None, *, children: bool = False) -> float:
    """User + system CPU of a process (threads included), and of its children if asked."""
    import psutil

    if pid is None:
        return 0.0
    proc = psutil.Process(pid)
    procs = [proc, *(proc.children(recursive=True) if children else [])]
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(q / 100 * len(sorted_values))))
    return float(sorted_values[rank - 1])
