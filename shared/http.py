"""Request boundary: one session per request, committed only on success, with Idempotency-Key replay."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Coroutine
from typing import Any

import fastapi
from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared import audit
from shared.auth import RoleGuard, authenticate
from shared.db import ConnectionGate, session_infra
from shared.errors import PROBLEM_JSON, Problem

IDEMPOTENCY_HEADER = "Idempotency-Key"
_KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
# Response headers an Idempotency-Key replay gives back along with the status and body.
REPLAYED_HEADERS = ("Location", "ETag")
PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"  # added to OpenAPI by shared.app


def problem_responses(descriptions: dict[str, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries whose body is a problem document, for a route's `responses=`,
    e.g. `problem_responses({"409": "the plan is already closed"})`."""
    return {
        code: {"description": text, "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}}}
        for code, text in descriptions.items()
    }


def _documented_problems(
    path: str, declared: dict[int | str, dict[str, Any]] | None
) -> dict[int | str, dict[str, Any]]:
    """The problems every route can answer with, merged under what the route declares itself."""
    problems = {
        "401": "No valid bearer token",
        "403": "The caller's role, team or cluster does not allow this",
        "404": "No such resource" if "{" in path else None,  # routes that look a resource up
        "422": "Invalid input or a broken business rule; `field`, `rule` and `errors` say which",
        "4XX": "Any other client error, e.g. 409 conflict with the resource's state, "
        "412 stale If-Match, 413 body too large, 428 If-Match required",
        "5XX": "500 unexpected error (quote `request_id`), 503 database busy",
    }
    merged = problem_responses({code: text for code, text in problems.items() if text})
    for code, response in (declared or {}).items():
        ours = merged.pop(str(code), None)
        merged[code] = {**ours, **response} if ours and "content" not in response else response
    return dict(sorted(merged.items(), key=lambda item: str(item[0])))


class UnitOfWork:
    """The request's database work: a session opened on first use, committed only on success.

    A route that never touches the session (or writes with one atomic statement, shared.atomic)
    pays nothing for it.
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], gate: ConnectionGate) -> None:
        self.sessionmaker = sessionmaker
        self.gate = gate
        self._session: AsyncSession | None = None

    async def open(self) -> AsyncSession:
        """The request's session (the first call waits for a free connection slot)."""
        if self._session is None:
            await self.gate.acquire()
            self._session = self.sessionmaker()
        return self._session

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work has no session yet: await uow.open()")
        return self._session

    @property
    def engine(self) -> AsyncEngine:
        return self.sessionmaker.kw["bind"]

    @property
    def info(self) -> dict[str, Any]:
        """What create_sessionmaker recorded: service, schema's infra tables, outbox_notify."""
        return self.sessionmaker.kw["info"]

    @property
    def has_session(self) -> bool:
        return self._session is not None

    async def commit(self) -> None:
        if self._session is not None:
            await self._session.commit()

    async def rollback(self) -> None:
        if self._session is not None:
            await self._session.rollback()

    async def close(self) -> None:
        if self._session is not None:
            try:
                await self._session.close()
            finally:
                self._session = None
                self.gate.release()


# The HTML documents the services render (exports, printable plans) are self-contained: no script,
# no fetched resource, not framed; a value that slipped past escaping could run nothing.
STATIC_HTML_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
}


class UnitOfWorkRoute(APIRoute):
    """Gives the request a unit of work, and commits it only when the route answered 2xx/3xx.

    Its OpenAPI entry lists the problem documents (401, 403, 422, …) every route can answer with.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        kwargs["responses"] = _documented_problems(path, kwargs.get("responses"))
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()
        # The route's allow(...) guards, for an Idempotency-Key claim to apply before a replay.
        guards = _role_guards(self.dependant)

        async def handler(request: Request) -> Response:
            uow = UnitOfWork(request.app.state.sessionmaker, request.app.state.gate)
            request.state.uow = uow
            try:
                claim = await _claim_idempotency_key(request, uow, guards)
                if isinstance(claim, Response):
                    return claim
                try:
                    with audit.collecting() as audited:
                        response = await original(request)
                except BaseException:
                    await uow.rollback()
                    raise
                if response.status_code >= 400:
                    await uow.rollback()
                    return response
                if claim is not None:
                    await _store_idempotent_response(uow.session, claim, response, audited)
                await uow.commit()
                return response
            finally:
                await uow.close()

        return handler


class APIRouter(fastapi.APIRouter):
    """The project's router: every route runs inside a unit of work."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("route_class", UnitOfWorkRoute)
        super().__init__(**kwargs)


def _role_guards(dependant: Any) -> list[RoleGuard]:
    found = []
    for dep in dependant.dependencies:
        if isinstance(dep.call, RoleGuard):
            found.append(dep.call)
        found += _role_guards(dep)
    return found


class _Claim:
    def __init__(self, actor: str, key: str) -> None:
        self.actor = actor
        self.key = key


async def _claim_idempotency_key(
    request: Request, uow: UnitOfWork, guards: list[RoleGuard]
) -> _Claim | Response | None:
    """Reserve the key in this transaction, or replay the response stored for it.

    The row is inserted before the work, so a concurrent retry with the same key waits on the row
    lock and then sees the committed response instead of doing the work twice.

    This runs before the route's dependencies, so it applies the route's role guard itself, and a
    stored response is given back only to a token with the same role, teams and clusters as the one
    it was made for: the route's own scope checks are not run again for a replay.
    """
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if request.method != "POST" or key is None:
        return None
    if not _KEY_RE.match(key):
        raise Problem(
            422,
            detail="Idempotency-Key must be 1-200 characters of letters, digits, '_', '.', ':' or '-'",
            rule="idempotency_key_format",
            field="header.Idempotency-Key",
        )
    principal = await authenticate(request)
    for guard in guards:
        await guard(request)
    session = await uow.open()
    body = await request.body()
    # The request target (path and query, if any) and the body: the same key with a different
    # request is refused rather than answered with another request's response.
    query: bytes = request.scope.get("query_string", b"")
    target = request.url.path.encode() + (b"?" + query if query else b"")
    digest = hashlib.sha256(target + b"\n" + body).hexdigest()
    table = session_infra(session).idempotency_keys
    inserted = await session.execute(
        insert(table)
        .values(
            actor=principal.sub,
            key=key,
            request_hash=digest,
            principal_fingerprint=principal.scope_fingerprint,
            status_code=0,
            content_type="",
            response_body=b"",
        )
        .on_conflict_do_nothing()
        .returning(table.c.key)
    )
    if inserted.first() is not None:
        request.state.idempotency_hash = digest
        return _Claim(principal.sub, key)
    row = (
        await session.execute(select(table).where(table.c.actor == principal.sub, table.c.key == key))
    ).one()
    await session.rollback()
    if row.request_hash != digest:
        raise Problem(
            422,
            detail="this Idempotency-Key was already used with a different request body, path or query",
            rule="idempotency_key_reused",
            field="header.Idempotency-Key",
        )
    if row.principal_fingerprint != principal.scope_fingerprint:
        # The same person with another role, teams or clusters (moved team, or another token):
        # the response was made for an access this token may not have.
        raise Problem(
            409,
            detail="this Idempotency-Key was used with a token of another role, teams or clusters; "
            "its response is given back only to that token. Send the request with a new key",
            rule="idempotency_key_in_use",
            field="header.Idempotency-Key",
        )
    # A replay discloses the response again: audited against what the original request audited.
    resources = [(str(t), str(i)) for t, i in row.audited] or [("request", request.url.path[:100])]
    await audit.record_pairs(session, principal, "replay", resources)
    await session.commit()
    return Response(
        content=row.response_body,
        status_code=row.status_code,
        media_type=row.content_type,
        headers={**(row.response_headers or {}), "Idempotent-Replayed": "true"},
    )


async def _store_idempotent_response(
    session: AsyncSession, claim: _Claim, response: Response, audited: list[tuple[str, str]]
) -> None:
    table = session_infra(session).idempotency_keys
    body = getattr(response, "body", b"")
    await session.execute(
        table.update()
        .where(table.c.actor == claim.actor, table.c.key == claim.key)
        .values(
            status_code=response.status_code,
            content_type=response.headers.get("content-type", "application/json"),
            response_body=bytes(body),
            response_headers={
                name: value for name in REPLAYED_HEADERS if (value := response.headers.get(name)) is not None
            },
            audited=[list(pair) for pair in dict.fromkeys(audited)],
        )
    )


def etag_for(version: object) -> str:
    return f'"{version}"'


def check_if_match(request: Request, current: object, *, required: bool = True) -> None:
    """Optimistic concurrency: a stale If-Match is 412, a missing one (when required) is 428."""
    header = request.headers.get("if-match")
    if header is None:
        if required:
            raise Problem(
                428,
                detail="send If-Match with the ETag you last read",
                rule="if_match_required",
                field="header.If-Match",
            )
        return
    wanted = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    if "*" in wanted or etag_for(current) in wanted:
        return
    raise Problem(
        412,
        detail="the resource changed since you read it; fetch it again and reapply your change",
        rule="stale_etag",
        field="header.If-Match",
        current_etag=etag_for(current),
    )
