"""Prometheus metrics and the ASGI middleware that gives every response a request id."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.context import request_id_var
from shared.errors import PROBLEM_JSON, Problem

log = logging.getLogger("rethink.http")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class ServiceMetrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rethink_http_requests_total",
            "HTTP requests by route template and status",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rethink_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["service", "method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "rethink_outbox_pending_events",
            "Committed events not yet relayed",
            ["service"],
            registry=self.registry,
        )
        self.outbox_lag = Gauge(
            "rethink_outbox_lag_seconds",
            "Age of the oldest unrelayed event",
            ["service"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "rethink_consumer_queue_depth",
            "Events waiting in this service's consumer queue",
            ["service"],
            registry=self.registry,
        )
        self.dead_events = Gauge(
            "rethink_dead_events",
            "Events parked after their last failed attempt (replay with rethink replay-dead)",
            ["service"],
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "rethink_consumer_lag_seconds",
            "Age of the oldest event waiting for this consumer",
            ["service"],
            registry=self.registry,
        )
        self.service = service
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count a request and its latency (label children cached: labels() is not free)."""
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = (
                self.requests.labels(self.service, method, route, str(status)),
                self.latency.labels(self.service, method, route),
            )
            self._series[key] = series
        series[0].inc()
        series[1].observe(seconds)


# On every response: children's data must not sit in browser or proxy caches (a route that can be
# cached says so with its own Cache-Control), and no response is sniffed into another type.
_ALWAYS = ((b"x-content-type-options", b"nosniff"),)
_NO_STORE = (*_ALWAYS, (b"cache-control", b"no-store"))


class RequestContextMiddleware:
    """Request id, access log line, metrics, and the body-size limit, for every HTTP request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: ServiceMetrics,
        max_body_bytes: int,
        upload_limits: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.upload_limits = upload_limits or {}

    def _limit(self, path: str) -> int:
        for prefix, limit in self.upload_limits.items():
            if path.startswith(prefix):
                return limit
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = length = None
        for key, value in scope["headers"]:  # one pass: this runs on every request
            if key == b"x-request-id":
                incoming = value.decode("latin-1")
            elif key == b"content-length":
                length = value
        request_id = incoming if incoming and _REQUEST_ID_RE.match(incoming) else os.urandom(16).hex()
        request_id_header = (b"x-request-id", request_id.encode())
        token = request_id_var.set(request_id)
        start = time.perf_counter()
        status_holder = {"status": 500}
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                status_holder["status"] = message["status"]
                headers = message.get("headers", ())
                extra = _NO_STORE if not any(k == b"cache-control" for k, _ in headers) else _ALWAYS
                message["headers"] = [*headers, request_id_header, *extra]
            await send(message)

        limit = self._limit(scope["path"]) if self.upload_limits else self.max_body_bytes
        try:
            if length is not None and length.isdigit() and int(length) > limit:
                await _send_problem(send_with_id, too_large(limit), scope)
                return
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise BodyTooLarge(limit)
                return message

            try:
                await self.app(scope, limited_receive, send_with_id)
            except BodyTooLarge as exc:  # read outside a route (the routes' handler renders it)
                if started:
                    raise
                await _send_problem(send_with_id, exc.problem, scope)
            except Exception as exc:
                # Rendered here, not by Starlette's outermost error handler, so that the 500, its
                # log line and its metrics carry the request id like every other response.
                log.error("unhandled error", exc_info=exc)
                if started:  # too late for a problem document; the server closes the stream
                    raise
                await _send_problem(send_with_id, internal_error(), scope)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - start
            method = scope.get("method", "")
            status = status_holder["status"]
            self.metrics.observe(method, template, status, elapsed)
            log.info(
                "request",
                extra={
                    "service": self.metrics.service,
                    "method": method,
                    "route": template,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            request_id_var.reset(token)


class BodyTooLarge(HTTPException):
    """The body outgrew the limit while being read.

    An HTTPException so that FastAPI's body parsing lets it through (it turns any other error into
    a 400); the app factory renders `.problem`.
    """

    def __init__(self, limit: int) -> None:
        self.problem = too_large(limit)
        super().__init__(413, detail=self.problem.detail)


def too_large(limit: int) -> Problem:
    return Problem(413, detail=f"request body exceeds {limit} bytes", rule="body_too_large")


def internal_error() -> Problem:
    return Problem(500, detail="an unexpected error occurred; quote the request id", rule="internal")


def problem_body(problem: Problem, scope: Scope | None = None) -> dict[str, Any]:
    """The problem document, with the request path and the request id."""
    body = problem.body(instance=scope.get("path") if scope else None)
    request_id = request_id_var.get()
    if request_id:
        body["request_id"] = request_id
    return body


async def _send_problem(send: Send, problem: Problem, scope: Scope) -> None:
    body = json.dumps(problem_body(problem, scope)).encode()
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    for name, value in (problem.headers or {}).items():
        headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
