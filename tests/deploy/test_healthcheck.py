"""deploy/healthcheck.py: what it checks for each container command, and its exit codes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis

from shared.cli import DEFAULT_PORTS
from shared.embedded import free_port
from shared.registry import load
from tests.deploy.manifests import load_healthcheck
from tests.support import Servers

hc = load_healthcheck()
PREFIX = ["/app/.venv/bin/python", "/app/.venv/bin/rethink"]


def test_default_ports_match_the_cli_and_each_service_setting() -> None:
    assert hc.DEFAULT_PORTS == DEFAULT_PORTS
    for name, port in hc.DEFAULT_PORTS.items():
        assert load(name).settings_cls.model_fields["port"].default == port


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        ([*PREFIX, "serve", "goals"], {}, ("http", "http://127.0.0.1:8002/healthz")),
        (
            [*PREFIX, "serve", "metrics"],
            {"RETHINK_METRICS_PORT": "9100"},
            ("http", "http://127.0.0.1:9100/healthz"),
        ),
        (
            [*PREFIX, "serve", "--port", "9001", "formulation"],
            {},
            ("http", "http://127.0.0.1:9001/healthz"),
        ),
        ([*PREFIX, "worker"], {}, ("worker", "formulation,goals,metrics")),
        ([*PREFIX, "worker", "--service", "goals"], {}, ("worker", "goals")),
        (
            [*PREFIX, "worker", "--service", "metrics", "--service=goals"],
            {},
            ("worker", "goals,metrics"),
        ),
        ([*PREFIX, "migrate"], {}, ("none", "")),
    ],
)
def test_target_from_the_container_command(
    argv: list[str], env: dict[str, str], expected: tuple[str, str]
) -> None:
    assert hc.target_from_command(argv, env) == expected


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_url_mode_is_healthy_only_on_200(http_port: int) -> None:
    assert hc.main([f"http://127.0.0.1:{http_port}/healthz"]) == 0
    assert hc.main([f"http://127.0.0.1:{http_port}/readyz"]) == 1
    assert hc.main([f"http://127.0.0.1:{free_port()}/healthz"]) == 1


def test_worker_mode_is_unhealthy_without_reachable_servers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var in ("DATABASE_URL", "REDIS_URL", "RETHINK_DATABASE_URL", "RETHINK_REDIS_URL"):
        monkeypatch.delenv(var, raising=False)
    assert hc.main(["worker"]) == 1
    closed = free_port()
    monkeypatch.setenv("DATABASE_URL", f"postgresql://nobody@127.0.0.1:{closed}/none")
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{closed}/0")
    assert hc.main(["worker"]) == 1


def _worker_env(monkeypatch: pytest.MonkeyPatch, servers: Servers, prefix: str) -> None:
    for var in ("RETHINK_DATABASE_URL", "RETHINK_REDIS_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DATABASE_URL", servers.database_url)
    monkeypatch.setenv("REDIS_URL", servers.redis_url)
    monkeypatch.setenv("RETHINK_QUEUE_PREFIX", prefix)


def test_worker_mode_needs_every_consumer_loop_of_the_container_alive(
    monkeypatch: pytest.MonkeyPatch, servers: Servers
) -> None:
    prefix = f"{servers.queue_prefix}:hc"
    _worker_env(monkeypatch, servers, prefix)
    # the container's own command (PID 1): a worker for every service
    monkeypatch.setattr(hc, "pid1_command", lambda: [*PREFIX, "worker"])
    client = redis.Redis.from_url(servers.redis_url)
    keys = {svc: f"{prefix}:events:{svc}:health-check" for svc in hc.DEFAULT_PORTS}
    try:
        client.set(keys["goals"], b"alive", ex=60)
        assert hc.main(["worker"]) == 1  # formulation's and metrics' loops are dead
        assert hc.main([]) == 1
        assert hc.main(["worker", "goals"]) == 0  # a worker for goals alone
        monkeypatch.setattr(hc, "pid1_command", lambda: [*PREFIX, "worker", "--service", "goals"])
        assert hc.main(["worker"]) == 0
        assert hc.main([]) == 0
        monkeypatch.setattr(hc, "pid1_command", lambda: [*PREFIX, "worker"])
        client.set(keys["formulation"], b"alive", ex=60)
        assert hc.main(["worker"]) == 1
        client.set(keys["metrics"], b"alive", ex=60)
        assert hc.main(["worker"]) == 0
        assert hc.main([]) == 0
    finally:
        client.delete(*keys.values())
        client.close()
