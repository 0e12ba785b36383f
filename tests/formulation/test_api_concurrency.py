"""A double submit (or two managers at once) gets one answer each, never a 500 from a unique key."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from tests.formulation.conftest import Org, audit_rows


async def _count(db_engine, sql: str, **params: object) -> int:  # type: ignore[no-untyped-def]
    async with db_engine.connect() as conn:
        return int(await conn.scalar(text(sql), params) or 0)


async def test_the_same_member_added_at_once_is_one_201_and_the_rest_409(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    url = f"/v1/teams/{org.team_id}/members"
    for n in range(4):  # a few rounds: the race is not lost every time
        body = {"sub": f"dup{n}", "name": "Dee Worker", "role": "social_worker", "fte": "1.0"}
        rs = await asyncio.gather(*(org.client.post(url, json=body, headers=org.tm) for _ in range(6)))
        assert sorted(r.status_code for r in rs) == [201] + [409] * 5, [r.text for r in rs]
        assert {(r.json()["rule"], r.json()["field"]) for r in rs if r.status_code == 409} == {
            ("member_exists", "body.sub")
        }
        sql = "select count(*) from formulation.team_members where team_id = :t and sub = :s"
        assert await _count(db_engine, sql, t=org.team_id, s=f"dup{n}") == 1
        winner = next(r for r in rs if r.status_code == 201).json()["id"]
        audited = [row.resource_id for row in await audit_rows(db_engine, "create", "team_member")]
        assert audited.count(winner) == 1


async def test_a_retried_member_add_with_one_idempotency_key_replays_the_201(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    body = {"sub": "dup2", "name": "Dee Worker", "role": "social_worker", "fte": "1.0"}
    url = f"/v1/teams/{org.team_id}/members"
    headers = {**org.tm, "Idempotency-Key": "add-dup2"}
    rs = await asyncio.gather(*(org.client.post(url, json=body, headers=headers) for _ in range(4)))
    assert [r.status_code for r in rs] == [201] * 4, [r.text for r in rs]
    assert len({r.json()["id"] for r in rs}) == 1
    assert sorted(r.headers.get("idempotent-replayed", "") for r in rs) == ["", "true", "true", "true"]
    sql = "select count(*) from formulation.team_members where team_id = :t and sub = 'dup2'"
    assert await _count(db_engine, sql, t=org.team_id) == 1
    # Another key is another request: the member is already there.
    again = await org.client.post(url, json=body, headers={**org.tm, "Idempotency-Key": "add-dup2-b"})
    assert again.status_code == 409 and again.json()["rule"] == "member_exists"


async def test_the_same_alignment_put_at_once_all_succeed(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    rf = org.auth("rethink_facilitator", "rf1")
    r = await org.client.post(
        "/v1/forums", json={"type": "practice_and_progress", "held_on": "2026-01-10"}, headers=rf
    )
    assert r.status_code == 201, r.text
    forum = r.json()["id"]
    scores = {"scores": [{"participant": "p1", "start": 3, "end": 6}, {"participant": "p2", "start": 5}]}
    url = f"/v1/forums/{forum}/alignment"
    rs = await asyncio.gather(*(org.client.put(url, json=scores, headers=rf) for _ in range(6)))
    assert [r.status_code for r in rs] == [200] * 6, [r.text for r in rs]
    assert len({r.text for r in rs}) == 1
    sql = "select count(*) from formulation.alignment_scores where session_id = :f"
    assert await _count(db_engine, sql, f=forum) == 2
