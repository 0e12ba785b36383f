"""The app factory every service uses: health, readiness, metrics, docs, errors, auth, CORS."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import fastapi
import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic.json_schema import models_json_schema
from sqlalchemy import func, select, text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import get_route_path

from shared import clock
from shared.auth import Authenticator
from shared.db import ConnectionGate, DatabaseBusy, create_engine, create_sessionmaker, infra_for
from shared.errors import PROBLEM_JSON, Problem, unprocessable
from shared.http import UnitOfWorkRoute
from shared.logs import configure_logging
from shared.observability import (
    BodyTooLarge,
    RequestContextMiddleware,
    ServiceMetrics,
    internal_error,
    problem_body,
)
from shared.queues import queue_name
from shared.schemas import ProblemDocument
from shared.settings import ServiceSettings

log = logging.getLogger("rethink.app")
PUBLIC_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/docs", "/openapi.json", "/redoc", "/docs/oauth2-redirect"}
)


@dataclass
class ServiceSpec:
    name: str  # formulation | goals | metrics
    schema: str
    title: str
    description: str
    routers: Sequence[fastapi.APIRouter]
    tags: list[dict[str, Any]] = field(default_factory=list)
    version: str = "0.1.0"
    # Routes under these prefixes take file uploads, limited by max_upload_bytes instead.
    upload_path_prefixes: tuple[str, ...] = ()


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    body = problem_body(problem, request.scope if request else None)
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        field, message = ".".join(loc), err.get("msg", "")
        if err.get("type") == "json_invalid" and len(loc) == 2:
            # FastAPI puts the character position where a member name goes ("body.13"): the whole
            # body is at fault, so name "body" and give the position in the message.
            reason = (err.get("ctx") or {}).get("error")
            field, message = "body", f"{message} at character {loc[1]}" + (f": {reason}" if reason else "")
        errors.append({"field": field, "rule": err.get("type", "invalid"), "message": message})
    return errors


# FastAPI's 400 when reading a body fails with anything but a JSON syntax error (fastapi.routing).
_BODY_PARSE_ERROR = "There was an error parsing the body"
# Rules for the HTTP errors the framework raises itself (unknown path, unknown method).
_HTTP_RULES = {404: "not_found", 405: "method_not_allowed"}


def _undecodable_body(request: Request, exc: StarletteHTTPException) -> Problem | None:
    """A JSON body that is not UTF-8, or nested deeper than the parser goes, is malformed JSON:
    the same 422 json_invalid as a syntax error, not FastAPI's bare 400. A form or multipart body
    the parser cannot read (no boundary, a broken part) is a 422 form_invalid."""
    if exc.status_code != 400:
        return None
    content_type = request.headers.get("content-type", "json")
    if content_type.startswith(("multipart/", "application/x-www-form-urlencoded")):
        return unprocessable("body", "form_invalid", str(exc.detail) or "the form body cannot be read")
    if exc.detail != _BODY_PARSE_ERROR or "json" not in content_type:
        return None
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        message = "the body is not valid UTF-8"
    elif isinstance(cause, RecursionError):
        message = "the JSON is nested too deeply"
    elif isinstance(cause, ValueError):
        message = "the body is not valid JSON"
    else:
        return None
    return unprocessable("body", "json_invalid", message)


def _allowed_methods(request: Request) -> str | None:
    """Every method the path answers to (Starlette's Allow names only the first route it tried)."""
    path = get_route_path(request.scope)
    methods: set[str] = set()
    for context in fastapi.routing.iter_route_contexts(request.app.routes):
        regex = getattr(context, "path_regex", None)
        if context.methods and regex is not None and regex.match(path):
            methods |= context.methods
    return ", ".join(sorted(methods)) or None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        first = errors[0] if errors else {"field": None, "rule": "invalid", "message": ""}
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:10])
        return problem_response(
            Problem(422, detail=detail, rule=first["rule"], field=first["field"], errors=errors),
            request,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        undecodable = _undecodable_body(request, exc)
        if undecodable is not None:
            return problem_response(undecodable, request)
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and (allow := _allowed_methods(request)):
            headers["Allow"] = allow
        return problem_response(
            Problem(
                exc.status_code,
                detail=str(exc.detail) if exc.detail else None,
                rule=_HTTP_RULES.get(exc.status_code),
                headers=headers,
            ),
            request,
        )

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> JSONResponse:
        return problem_response(exc.problem, request)

    @app.exception_handler(DatabaseBusy)
    async def _busy(request: Request, exc: DatabaseBusy) -> JSONResponse:
        log.warning("database busy", extra={"error": "DatabaseBusy"})
        problem = Problem(
            503,
            detail=str(exc) + "; retry shortly",
            rule="database_busy",
            headers={"Retry-After": "1"},
        )
        return problem_response(problem, request)

    # Errors raised by a route are rendered as the 500 problem inside RequestContextMiddleware,
    # with the request id; this last resort only sees a failure of the middleware itself.
    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=exc)
        return problem_response(internal_error(), request)


async def _outbox_and_queue_stats(app: FastAPI) -> None:
    spec: ServiceSpec = app.state.spec
    metrics: ServiceMetrics = app.state.metrics
    infra = infra_for(spec.schema)
    outbox = infra.outbox
    parked_count = select(func.count()).select_from(infra.dead_events).scalar_subquery()
    async with app.state.engine.connect() as conn:  # one round trip per scrape
        pending, oldest, parked = (
            await conn.execute(
                select(func.count(), func.min(outbox.c.occurred_at), parked_count).where(
                    outbox.c.published_at.is_(None)
                )
            )
        ).one()
    metrics.dead_events.labels(spec.name).set(parked or 0)
    metrics.outbox_pending.labels(spec.name).set(pending)
    metrics.outbox_lag.labels(spec.name).set(
        0 if oldest is None else max(0.0, time.time() - oldest.timestamp())
    )
    queue = queue_name(app.state.settings.queue_prefix, spec.name)
    redis: aioredis.Redis = app.state.redis
    depth = await redis.zcard(queue)
    metrics.queue_depth.labels(spec.name).set(depth)
    first = await redis.zrange(queue, 0, 0, withscores=True)
    lag = max(0.0, time.time() - first[0][1] / 1000) if first else 0.0
    metrics.consumer_lag.labels(spec.name).set(lag)


def create_app(spec: ServiceSpec, settings: ServiceSettings) -> FastAPI:
    configure_logging(settings.log_level)
    clock.configure(settings.timezone)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(
            settings.require_database_url(),
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pre_ping=settings.db_pool_pre_ping,
        )
        app.state.engine = engine
        app.state.gate = ConnectionGate(settings.db_pool_size + settings.db_max_overflow)
        app.state.sessionmaker = create_sessionmaker(
            engine, service=spec.name, schema=spec.schema, outbox_notify=settings.outbox_notify
        )
        app.state.redis = aioredis.from_url(
            settings.require_redis_url(), socket_timeout=2, socket_connect_timeout=2
        )
        # Everything built so far (routes, schemas, metadata) lives as long as the process: keep it
        # out of the collector's reach, so full collections stay short under load (tail latency).
        gc.collect()
        gc.freeze()
        log.info("started", extra={"service": spec.name})
        try:
            yield
        finally:
            await app.state.redis.aclose()
            await engine.dispose()

    app = FastAPI(
        title=spec.title,
        description=spec.description,
        version=spec.version,
        openapi_tags=[
            *spec.tags,
            {"name": "operations", "description": "Health, readiness and Prometheus metrics."},
        ],
        lifespan=lifespan,
    )
    app.state.spec = spec
    app.state.settings = settings
    app.state.authenticator = Authenticator(settings)
    app.state.metrics = ServiceMetrics(spec.name)
    install_error_handlers(app)

    @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": spec.name}

    @app.get("/readyz", tags=["operations"], summary="Readiness: database and Redis reachable")
    async def readyz() -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(3):
                async with app.state.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable: {type(exc).__name__}"
        try:
            async with asyncio.timeout(3):
                await app.state.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"unavailable: {type(exc).__name__}"
        ok = all(v == "ok" for v in checks.values())
        if ok:
            return JSONResponse({"status": "ready", "checks": checks})
        problem = Problem(503, detail="a dependency is unavailable", rule="not_ready", checks=checks)
        return problem_response(problem)

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
    )
    async def metrics_endpoint() -> PlainTextResponse:
        try:
            async with asyncio.timeout(3):
                await _outbox_and_queue_stats(app)
        except Exception as exc:  # metrics must answer even when a dependency is down
            log.warning("backbone stats unavailable", extra={"error": type(exc).__name__})
        return PlainTextResponse(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    for router in spec.routers:
        app.include_router(router)
    _check_routes(app)
    _document_problems(app)

    if settings.cors_origins:  # without origins the middleware would only add "Vary: Origin"
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "If-Match",
                "X-Request-ID",
            ],
            expose_headers=["ETag", "X-Request-ID", "Idempotent-Replayed", "Location"],
        )
    app.add_middleware(
        RequestContextMiddleware,
        metrics=app.state.metrics,
        max_body_bytes=settings.max_body_bytes,
        upload_limits={prefix: settings.max_upload_bytes for prefix in spec.upload_path_prefixes},
    )
    return app


def _check_routes(app: FastAPI) -> None:
    """Fail at start-up, not in production, if a route skips the unit of work.

    app.routes holds included routers as single entries, so the walk goes through FastAPI's
    iter_route_contexts, which descends into them (and their own included routers).
    """
    for context in fastapi.routing.iter_route_contexts(app.routes):
        route, path = context.original_route, context.path
        if path in PUBLIC_PATHS:
            continue
        if not isinstance(route, UnitOfWorkRoute):
            kind = f"{type(route).__module__}.{type(route).__qualname__}"
            raise RuntimeError(
                f"{path or route} must be declared on shared.http.APIRouter (unit of work); it is a {kind}"
            )


def _document_problems(app: FastAPI) -> None:
    """Publish the `Problem` schema the routes' error responses refer to (shared.http), in place
    of FastAPI's HTTPValidationError, which this API never sends."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = generate()
        _, top = models_json_schema(
            [(ProblemDocument, "serialization")], ref_template="#/components/schemas/{model}"
        )
        defs = top["$defs"]
        defs["Problem"] = defs.pop(ProblemDocument.__name__)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(defs)
        text = json.dumps(document["paths"])
        for name in ("HTTPValidationError", "ValidationError"):
            if f'"#/components/schemas/{name}"' not in text:
                schemas.pop(name, None)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


__all__ = ["PUBLIC_PATHS", "HTTPStatus", "ServiceSpec", "create_app", "problem_response"]
