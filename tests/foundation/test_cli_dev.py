"""`rethink dev` from the outside: real processes, real ports, a clean stop on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from shared.embedded import free_port
from tests.support import ROOT

pytestmark = pytest.mark.backbone


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except OSError:
        return 0, b""


def test_rethink_dev_starts_everything_and_stops_cleanly(tmp_path):
    ports = [free_port() for _ in range(3)]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "RETHINK_DATABASE_URL", "RETHINK_REDIS_URL"}
    }
    env["RETHINK_DATA_DIR"] = str(tmp_path / "data")
    cmd = [
        sys.executable,
        "-m",
        "shared.cli",
        "dev",
        "--formulation-port",
        str(ports[0]),
        "--goals-port",
        str(ports[1]),
        "--metrics-port",
        str(ports[2]),
    ]
    err_path = tmp_path / "dev.stderr"
    with err_path.open("w") as err_file:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err_file, text=True)
    started = time.monotonic()
    try:
        out_lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            out_lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        output = "".join(out_lines)
        assert "Ctrl-C stops everything" in output, output + err_path.read_text()[-3000:]
        # The brief's 30 s is for a quiet machine; CI's shared runner gets headroom, not a flaky test.
        assert time.monotonic() - started < 90, "took too long to start"
        # the embedded servers' URLs, for pointing other tools at them
        assert "\nDATABASE_URL=postgresql://" in output
        assert "\nREDIS_URL=redis://127.0.0.1:" in output
        for port in ports:
            assert f"http://127.0.0.1:{port}/docs" in output
            for path in ("/healthz", "/readyz", "/metrics"):
                status, _ = _get(f"http://127.0.0.1:{port}{path}")
                assert status == 200, (port, path)
            status, body = _get(f"http://127.0.0.1:{port}/openapi.json")
            assert status == 200 and json.loads(body)["openapi"].startswith("3.")
        token = output.split("Admin token (12 h):\n", 1)[1].splitlines()[0]
        req = urllib.request.Request(
            f"http://127.0.0.1:{ports[0]}/v1/clusters", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 200
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 4
    finally:
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)  # an impatient second Ctrl-C must not skip the clean-up
        proc.wait(60)
    time.sleep(0.5)
    alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], [c.cmdline() for c in alive]
    for port in ports:
        assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 0
    leftovers = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if str(tmp_path) in " ".join(p.info["cmdline"] or []):
                leftovers.append(p.info["cmdline"])
        except psutil.Error:
            continue
    assert leftovers == []  # the embedded PostgreSQL and Redis stopped too
    # a second run reuses the data folder (the JWT secret and the database stay)
    assert (tmp_path / "data" / "jwt_secret").exists()
    assert (tmp_path / "data" / "pg" / "PG_VERSION").exists()
