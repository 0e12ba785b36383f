"""deploy/healthcheck.py: what it checks for each container command, and its exit codes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared.cli import DEFAULT_PORTS
from shared.embedded import free_port
from shared.registry import load
from tests.deploy.manifests import load_healthcheck

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
        ([*PREFIX, "worker"], {}, ("worker", "")),
        ([*PREFIX, "worker", "--service", "goals"], {}, ("worker", "")),
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
