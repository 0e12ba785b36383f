"""The request boundary: commit on success only, Idempotency-Key replay, If-Match, 500 problems.

Exercised on a small app built with the same factory, so the mechanism is tested apart from any
domain (the services' own tests cover their routes).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

import fastapi
import pytest
import pytest_asyncio
from fastapi import Depends, Request, Response
from sqlalchemy import text

from services.formulation_api.clusters import repository
from services.formulation_api.clusters import service as clusters
from services.formulation_api.clusters.schemas import ClusterOut, ClusterPut
from services.formulation_api.settings import Settings
from shared.app import ServiceSpec, create_app
from shared.auth import Principal, Role, allow
from shared.deps import DbSession, Uow
from shared.errors import Problem
from shared.http import APIRouter, check_if_match, etag_for
from tests.support import client_for, settings_for

router = APIRouter(prefix="/t")
Admin = Annotated[Principal, Depends(allow(Role.ADMIN))]


class Make(ClusterPut):
    code: str
    fail: str | None = None


@router.post("/clusters", status_code=201, response_model=ClusterOut)
async def make(user: Admin, body: Make, uow: Uow, session: DbSession, response: Response):  # type: ignore[no-untyped-def]
    # The route holds a session, so the atomic upsert joins its transaction: a failure after the
    # writes must undo them.
    cluster, _ = await clusters.upsert(
        uow, user, body.code, ClusterPut(**body.model_dump(exclude={"code", "fail"}))
    )
    if body.fail == "crash":
        raise RuntimeError("boom after the writes")
    if body.fail == "conflict":
        raise Problem(409, detail="refused after the writes", rule="test_rule")
    response.headers["Location"] = f"/t/clusters/{body.code}"
    response.headers["ETag"] = etag_for(cluster["revision"])
    return cluster


@router.post("/solo-clusters", status_code=201, response_model=ClusterOut)
async def make_alone(user: Admin, body: Make, uow: Uow):  # type: ignore[no-untyped-def]
    # No session: the upsert runs as one autocommitted statement.
    cluster, _ = await clusters.upsert(
        uow, user, body.code, ClusterPut(**body.model_dump(exclude={"code", "fail"}))
    )
    if body.fail == "crash":
        raise RuntimeError("boom after the write")
    return cluster


@router.put("/clusters/{code}/name")
async def rename(
    user: Admin, code: str, body: Make, request: Request, response: Response, session: DbSession
) -> dict[str, str]:
    cluster = await repository.get(session, code, for_update=True)
    assert cluster is not None
    check_if_match(request, cluster.revision)
    cluster.name = body.name
    cluster.revision += 1
    response.headers["ETag"] = etag_for(cluster.revision)
    return {"name": cluster.name}


@pytest_asyncio.fixture(scope="module")
async def uow_app(servers, services) -> AsyncIterator:  # type: ignore[no-untyped-def]
    svc = next(s for s in services if s.name == "formulation")
    settings = settings_for(svc, servers)
    assert isinstance(settings, Settings)
    app = create_app(
        ServiceSpec(
            name="formulation",
            schema="formulation",
            title="Rethink test",
            description="unit of work test app",
            routers=[router],
        ),
        settings,
    )
    async with app.router.lifespan_context(app):
        yield app


@pytest_asyncio.fixture
async def client(uow_app, backbone):  # type: ignore[no-untyped-def]
    async with client_for(uow_app, "uow") as c:
        yield c


async def _counts(backbone) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    async with backbone.engines["formulation"].connect() as conn:
        return tuple(  # type: ignore[return-value]
            [
                int(await conn.scalar(text(f"select count(*) from formulation.{t}")) or 0)
                for t in ("clusters", "outbox", "audit_log")
            ]
        )


BODY = {"code": "RES-9", "name": "BCM", "res_start": "2018-02-01", "co_located": True}


async def _audit(backbone) -> list[tuple[str, str, str, str, str]]:  # type: ignore[no-untyped-def]
    async with backbone.engines["formulation"].connect() as conn:
        rows = await conn.execute(
            text(
                "select actor, role, action, resource_type, resource_id "
                "from formulation.audit_log order by id"
            )
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_same_idempotency_key_creates_once_and_replays(client, auth, backbone):
    headers = {**auth("admin", sub="a1"), "Idempotency-Key": "create-res-9"}
    first = await client.post("/t/clusters", json=BODY, headers=headers)
    second = await client.post("/t/clusters", json=BODY, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert (await _counts(backbone))[:2] == (1, 1)
    # The replay discloses the response again, so it is audited like a read of what it returned.
    assert await _audit(backbone) == [
        ("a1", "admin", "create", "cluster", "RES-9"),
        ("a1", "admin", "replay", "cluster", "RES-9"),
    ]


async def test_a_replay_is_refused_to_a_role_the_route_does_not_allow(client, auth, backbone):
    key = {"Idempotency-Key": "create-res-9-role"}
    first = await client.post("/t/clusters", json=BODY, headers={**auth("admin", sub="a1"), **key})
    assert first.status_code == 201
    # The same person, now with a role the route does not allow (or a token of another role).
    other = await client.post("/t/clusters", json=BODY, headers={**auth("team_manager", sub="a1"), **key})
    assert other.status_code == 403 and other.json()["rule"] == "role_not_allowed"
    assert "idempotent-replayed" not in other.headers and "RES-9" not in other.text
    assert [row[2] for row in await _audit(backbone)] == ["create"]


async def test_a_replay_is_only_for_the_same_role_teams_and_clusters(client, auth, backbone):
    key = {"Idempotency-Key": "create-res-9-scope"}
    team = uuid.uuid4()
    first = await client.post(
        "/t/clusters", json=BODY, headers={**auth("admin", sub="a1", teams=[team]), **key}
    )
    assert first.status_code == 201
    for changed in (
        auth("admin", sub="a1"),  # moved out of the team
        auth("admin", sub="a1", teams=[team, uuid.uuid4()]),
        auth("admin", sub="a1", teams=[team], clusters=["RES-9"]),
    ):
        r = await client.post("/t/clusters", json=BODY, headers={**changed, **key})
        assert r.status_code == 409, r.text
        assert (r.json()["rule"], r.json()["field"]) == ("idempotency_key_in_use", "header.Idempotency-Key")
        assert "idempotent-replayed" not in r.headers and "BCM" not in r.text
    # The same scope, however the token spells the team id, still gets its replay.
    same = auth("admin", sub="a1", teams=[str(team).upper()])
    again = await client.post("/t/clusters", json=BODY, headers={**same, **key})
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert [row[2] for row in await _audit(backbone)] == ["create", "replay"]


async def test_replay_gives_back_location_and_etag(client, auth):
    headers = {**auth("admin", sub="a1"), "Idempotency-Key": "create-res-9-headers"}
    first = await client.post("/t/clusters", json=BODY, headers=headers)
    second = await client.post("/t/clusters", json=BODY, headers=headers)
    assert second.headers["idempotent-replayed"] == "true"
    assert first.headers["location"] == second.headers["location"] == "/t/clusters/RES-9"
    assert first.headers["etag"] == second.headers["etag"] == '"1"'


async def test_same_key_different_query_is_422(client, auth, backbone):
    headers = {**auth("admin", sub="a1"), "Idempotency-Key": "create-res-9-query"}
    first = await client.post("/t/clusters?dry_run=false", json=BODY, headers=headers)
    assert first.status_code == 201
    r = await client.post("/t/clusters?dry_run=true", json=BODY, headers=headers)
    assert r.status_code == 422 and r.json()["rule"] == "idempotency_key_reused"
    again = await client.post("/t/clusters?dry_run=false", json=BODY, headers=headers)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert (await _counts(backbone))[:2] == (1, 1)


async def test_same_key_different_body_is_422(client, auth, backbone):
    headers = {**auth("admin", sub="a1"), "Idempotency-Key": "create-res-9"}
    await client.post("/t/clusters", json=BODY, headers=headers)
    r = await client.post("/t/clusters", json={**BODY, "name": "Other"}, headers=headers)
    assert r.status_code == 422 and r.json()["rule"] == "idempotency_key_reused"
    assert await _counts(backbone) == (1, 1, 1)


async def test_keys_are_per_caller(client, auth, backbone):
    await client.post("/t/clusters", json=BODY, headers={**auth("admin", sub="a1"), "Idempotency-Key": "k"})
    r = await client.post(
        "/t/clusters",
        json={**BODY, "code": "RES-8"},
        headers={**auth("admin", sub="a2"), "Idempotency-Key": "k"},
    )
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    assert (await _counts(backbone))[0] == 2


async def test_failed_request_leaves_nothing_and_frees_the_key(client, auth, backbone):
    headers = {**auth("admin"), "Idempotency-Key": "retry-me"}
    r = await client.post("/t/clusters", json={**BODY, "fail": "conflict"}, headers=headers)
    assert r.status_code == 409 and r.json()["rule"] == "test_rule"
    assert await _counts(backbone) == (0, 0, 0)
    crash = await client.post(
        "/t/clusters",
        json={**BODY, "fail": "crash"},
        headers={**auth("admin"), "Idempotency-Key": "crash"},
    )
    assert crash.status_code == 500
    assert crash.headers["content-type"] == "application/problem+json"
    assert "boom" not in crash.text  # internals stay in the log, not the answer
    assert await _counts(backbone) == (0, 0, 0)
    ok = await client.post("/t/clusters", json=BODY, headers=headers)
    assert ok.status_code == 201


async def test_unexpected_error_is_a_500_problem_with_the_request_id(client, auth, backbone, caplog):
    caplog.set_level(logging.INFO)
    crash = await client.post(
        "/t/clusters",
        json={**BODY, "fail": "crash"},
        headers={**auth("admin"), "X-Request-ID": "crash-req-0001"},
    )
    assert crash.status_code == 500
    assert crash.headers["content-type"] == "application/problem+json"
    assert crash.headers["x-request-id"] == "crash-req-0001"
    body = crash.json()
    assert (body["rule"], body["request_id"]) == ("internal", "crash-req-0001")
    assert "boom" not in crash.text
    logged = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert [r.request_id for r in logged] == ["crash-req-0001"]  # type: ignore[attr-defined]
    assert logged[0].exc_info and logged[0].exc_info[0] is RuntimeError
    access = [r for r in caplog.records if r.getMessage() == "request"]
    assert [(r.status, r.request_id) for r in access] == [(500, "crash-req-0001")]  # type: ignore[attr-defined]
    metrics = (await client.get("/metrics")).text  # the 500 is counted
    assert 'route="/t/clusters",service="formulation",status="500"}' in metrics
    assert await _counts(backbone) == (0, 0, 0)


async def test_a_route_outside_the_unit_of_work_fails_at_start_up(servers, services):
    svc = next(s for s in services if s.name == "formulation")
    settings = settings_for(svc, servers)
    plain = fastapi.APIRouter(prefix="/plain")

    @plain.get("/things")
    async def things(user: Admin) -> dict[str, str]:
        return {}

    nested = APIRouter(prefix="/outer")  # the project's router, holding a plain one
    nested.include_router(plain)
    for routers in ([plain], [router, nested]):
        spec = ServiceSpec(
            name="formulation", schema="formulation", title="t", description="t", routers=routers
        )
        with pytest.raises(RuntimeError, match=r"/plain/things must be declared on shared.http.APIRouter"):
            create_app(spec, settings)
    create_app(  # the project's routers pass
        ServiceSpec(name="formulation", schema="formulation", title="t", description="t", routers=[router]),
        settings,
    )


async def test_if_match_guards_concurrent_edits(client, auth):
    await client.post("/t/clusters", json=BODY, headers=auth("admin"))
    body = {**BODY, "name": "New"}
    missing = await client.put("/t/clusters/RES-9/name", json=body, headers=auth("admin"))
    assert missing.status_code == 428
    ok = await client.put("/t/clusters/RES-9/name", json=body, headers={**auth("admin"), "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    stale = await client.put(
        "/t/clusters/RES-9/name", json=body, headers={**auth("admin"), "If-Match": '"1"'}
    )
    assert stale.status_code == 412 and stale.json()["current_etag"] == '"2"'


async def test_cors_preflight_for_configured_origin(servers, services):
    svc = next(s for s in services if s.name == "formulation")
    app = svc.create_app(settings_for(svc, servers, cors_origins=["https://app.example"]))
    async with client_for(app, "cors") as c:
        r = await c.options(
            "/v1/clusters",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
        )
        assert r.headers["access-control-allow-origin"] == "https://app.example"
        r = await c.options(
            "/v1/clusters",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in r.headers


async def test_atomic_write_alone_stores_row_audit_and_event_together(client, auth, backbone):
    r = await client.post("/t/solo-clusters", json=BODY, headers=auth("admin", sub="solo"))
    assert r.status_code == 201 and r.json()["revision"] == 1
    again = await client.post("/t/solo-clusters", json={**BODY, "name": "BCM 2"}, headers=auth("admin"))
    assert again.json()["revision"] == 2
    assert await _counts(backbone) == (1, 2, 2)
    async with backbone.engines["formulation"].connect() as conn:
        audit = (
            await conn.execute(
                text("select actor, action, resource_id, request_id from formulation.audit_log order by id")
            )
        ).all()
        events = (
            await conn.execute(text("select type, subject_id, payload from formulation.outbox order by id"))
        ).all()
    assert [(a.actor, a.action, a.resource_id) for a in audit] == [
        ("solo", "create", "RES-9"),
        ("admin-dev", "update", "RES-9"),
    ]
    assert audit[0].request_id == r.headers["x-request-id"]
    assert [e.type for e in events] == ["cluster.upserted"] * 2
    assert events[0].payload == {"cluster_code": "RES-9", "res_start": "2018-02-01", "co_located": True}


async def test_atomic_write_alone_is_kept_when_the_route_fails_afterwards(client, auth, backbone):
    # Documented behaviour (shared.atomic): without a session the statement commits as it runs,
    # which is why such a write must be a route's last step.
    r = await client.post("/t/solo-clusters", json={**BODY, "fail": "crash"}, headers=auth("admin"))
    assert r.status_code == 500
    assert await _counts(backbone) == (1, 1, 1)


async def test_requests_beyond_the_pool_wait_for_a_slot_then_get_503(uow_app, auth, backbone):
    from shared.db import ConnectionGate

    gate = uow_app.state.gate
    uow_app.state.gate = ConnectionGate(1, timeout=0.2)
    try:
        await uow_app.state.gate.acquire()  # another request holds the only connection
        async with client_for(uow_app, "gate") as c:
            r = await c.post("/t/solo-clusters", json=BODY, headers=auth("admin"))
            assert r.status_code == 503 and r.json()["rule"] == "database_busy"
            assert r.headers["retry-after"] == "1"
            uow_app.state.gate.release()
            r = await c.post("/t/solo-clusters", json=BODY, headers=auth("admin"))
            assert r.status_code == 201
    finally:
        uow_app.state.gate = gate
    assert (await _counts(backbone))[0] == 1
