import asyncio
import uuid

from sqlalchemy import text

from tests.goals.helpers import SUSTAINABILITY_PLAN, add_goal, complete_formulations, open_plan

TEAM = uuid.uuid4()


async def test_formulation_event_feeds_projection_and_plan_opens(
    goals_client, auth, backbone, deliver_events
):
    (f,) = await complete_formulations(backbone, 1, team_id=TEAM)
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    before = await goals_client.post("/v1/plans", json=f.plan_body(), headers=worker)
    assert before.status_code == 422  # the event has not arrived yet
    assert before.json()["rule"] == "formulation_not_completed"
    await deliver_events()
    plan = await open_plan(goals_client, worker, f)
    assert plan["status"] == "open"
    assert plan["cluster_code"] == "RES-1"
    assert plan["team_id"] == str(TEAM)
    assert plan["lead_worker_sub"] == "worker-1"
    async with backbone.engines["goals"].connect() as conn:
        row = (
            await conn.execute(text("select type, payload from goals.outbox where type = 'plan.opened'"))
        ).one()
        audits = await conn.scalar(
            text("select count(*) from goals.audit_log where action='create' and resource_type='plan'")
        )
    assert row.payload["plan_id"] == plan["id"]
    assert "overall_goal" not in row.payload  # no free text in events
    assert audits == 1


async def test_list_plans_is_paginated_scoped_and_audited(goals_client, auth, backbone, deliver_events):
    formulations = await complete_formulations(backbone, 3, team_id=TEAM)
    await deliver_events()
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    ids = {(await open_plan(goals_client, worker, f))["id"] for f in formulations}
    first = await goals_client.get("/v1/plans", params={"limit": 2}, headers=worker)
    assert first.status_code == 200, first.text
    assert len(first.json()["items"]) == 2 and first.json()["next_cursor"]
    rest = await goals_client.get(
        "/v1/plans", params={"limit": 2, "cursor": first.json()["next_cursor"]}, headers=worker
    )
    seen = {p["id"] for p in first.json()["items"] + rest.json()["items"]}
    assert seen == ids and rest.json()["next_cursor"] is None
    other = auth("practitioner", sub="worker-2", teams=[uuid.uuid4()])
    assert (await goals_client.get("/v1/plans", headers=other)).json()["items"] == []
    async with backbone.engines["goals"].connect() as conn:
        reads = await conn.scalar(text("select count(*) from goals.audit_log where action = 'read'"))
    assert reads == 3


async def test_close_with_stale_etag_and_idempotent_open(goals_client, auth, backbone, deliver_events):
    (f,) = await complete_formulations(backbone, 1, team_id=TEAM)
    await deliver_events()
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    key = {"Idempotency-Key": "open-plan-1"}
    r1 = await goals_client.post("/v1/plans", json=f.plan_body(), headers=worker | key)
    r2 = await goals_client.post("/v1/plans", json=f.plan_body(), headers=worker | key)
    assert r1.status_code == r2.status_code == 201
    assert r1.json()["id"] == r2.json()["id"]
    assert r2.headers["idempotent-replayed"] == "true"
    plan_id = r1.json()["id"]
    await add_goal(goals_client, worker, plan_id, f)  # "all goals achieved" needs a goal
    etag = (await goals_client.get(f"/v1/plans/{plan_id}", headers=worker)).headers["etag"]
    body = {"reason": "all_goals_achieved", "sustainability_plan": SUSTAINABILITY_PLAN}
    stale = await goals_client.post(
        f"/v1/plans/{plan_id}/close", json=body, headers=worker | {"If-Match": '"0"'}
    )
    assert (stale.status_code, stale.json()["rule"]) == (412, "stale_etag")
    ok = await goals_client.post(f"/v1/plans/{plan_id}/close", json=body, headers=worker | {"If-Match": etag})
    assert ok.status_code == 200, ok.text
    assert ok.headers["etag"] != etag


async def test_concurrent_plans_for_one_family_give_one_201_and_one_409(
    goals_client, auth, backbone, deliver_events
):
    (f,) = await complete_formulations(backbone, 1, team_id=TEAM)
    await deliver_events()
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    results = await asyncio.gather(
        *(goals_client.post("/v1/plans", json=f.plan_body(), headers=worker) for _ in range(2))
    )
    assert sorted(r.status_code for r in results) == [201, 409]
    conflict = next(r for r in results if r.status_code == 409)
    assert conflict.json()["rule"] == "one_open_plan_per_family"
