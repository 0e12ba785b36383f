"""`rethink dev` stopped (SIGTERM) while it is still starting: nothing it started keeps running.

Real processes: the embedded PostgreSQL (pgserver) in a fresh data folder, stopped while it starts
or while the migrations run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from shared.embedded import free_port
from tests.support import ROOT

pytestmark = pytest.mark.backbone


def _processes_of(folder: Path) -> list[psutil.Process]:
    """Processes started for this data folder: named on their command line (postgres -D ...) or
    working in it (redis-server chdirs to its --dir, then rewrites its command line)."""
    found = []
    for p in psutil.process_iter(["cmdline", "cwd"]):
        try:
            cwd = (p.info["cwd"] or "").removesuffix(" (deleted)")
            mine = str(folder) in " ".join(p.info["cmdline"] or []) or cwd.startswith(str(folder))
            if mine and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except psutil.Error:
            continue
    return found


def _started(folder: Path, name: str) -> bool:
    for p in _processes_of(folder):
        try:
            if p.name() == name:
                return True
        except psutil.Error:
            continue
    return False


def _env(data: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "RETHINK_DATABASE_URL", "RETHINK_REDIS_URL"}
    }
    env["RETHINK_DATA_DIR"] = str(data)
    return env


@pytest.mark.parametrize("when", ["postgres-starting", "redis-started", "migrations-running"])
def test_sigterm_while_starting_stops_what_was_started(tmp_path: Path, when: str) -> None:
    data = tmp_path / "data"
    ports = [str(free_port()) for _ in range(3)]
    cmd = [sys.executable, "-m", "shared.cli", "dev", "--formulation-port", ports[0]]
    cmd += ["--goals-port", ports[1], "--metrics-port", ports[2]]
    out_path, err_path = tmp_path / "dev.stdout", tmp_path / "dev.stderr"
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(data), stdout=out, stderr=err, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, err_path.read_text()[-3000:]
            assert time.monotonic() < deadline, f"never reached {when}: {out_path.read_text()}"
            if when == "postgres-starting" and (data / "pg" / "log").exists():
                break  # initdb is done and pg_ctl is starting the server (its log opened)
            if when == "redis-started" and _started(data, "redis-server"):
                break
            if when == "migrations-running" and "Applying migrations" in out_path.read_text():
                break
            time.sleep(0.02)
        assert "Rethink is running" not in out_path.read_text()
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    deadline = time.monotonic() + 10
    while _processes_of(data) and time.monotonic() < deadline:
        time.sleep(0.2)
    leftovers = [p.info["cmdline"] for p in _processes_of(data)]
    try:
        assert leftovers == [], (leftovers, out_path.read_text(), err_path.read_text()[-3000:])
        assert (data / "pg" / "PG_VERSION").exists()  # it was started, and then stopped
        if when != "postgres-starting":
            assert (data / "redis").is_dir()
    finally:
        for p in _processes_of(data):  # don't leave a failed run's servers behind either
            p.kill()
