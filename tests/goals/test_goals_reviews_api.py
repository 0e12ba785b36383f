"""Overdue reviews per worker: the list, and the per-worker counts a team manager sees."""

import uuid
from datetime import timedelta

from sqlalchemy import text

from tests.goals.helpers import TODAY, add_goal, complete_formulations, days_ago, open_plan, score

TEAM = uuid.uuid4()


async def test_overdue_counts_per_worker(goals_client, auth, backbone, deliver_events):
    f1, f2, f3 = await complete_formulations(backbone, 3, team_id=TEAM)
    await deliver_events()
    one = auth("practitioner", sub="worker-1", teams=[TEAM])
    two = auth("practitioner", sub="worker-2", teams=[TEAM])
    p1 = await open_plan(goals_client, one, f1, opened_on=days_ago(40).isoformat())
    p2 = await open_plan(goals_client, one, f2, opened_on=days_ago(40).isoformat())
    p3 = await open_plan(
        goals_client, two, f3, lead_worker_sub="worker-2", opened_on=days_ago(40).isoformat()
    )
    for plan, f in ((p1, f1), (p1, f1), (p2, f2)):
        await add_goal(goals_client, one, plan["id"], f, baseline_on=days_ago(30).isoformat())
    fresh = await add_goal(goals_client, two, p3["id"], f3, baseline_on=days_ago(30).isoformat())
    await score(goals_client, two, fresh["id"], 5, days_ago(2))

    manager = auth("team_manager", teams=[TEAM])
    r = await goals_client.get("/v1/reviews/overdue/by-worker", headers=manager)
    assert r.status_code == 200, r.text
    assert r.json() == [
        {"lead_worker_sub": "worker-1", "overdue_goals": 3, "plans": 2, "most_days_overdue": 23}
    ]
    ahead = await goals_client.get(
        "/v1/reviews/overdue/by-worker",
        params={"as_of": (TODAY + timedelta(days=6)).isoformat()},
        headers=manager,
    )
    assert [(w["lead_worker_sub"], w["overdue_goals"]) for w in ahead.json()] == [
        ("worker-1", 3),
        ("worker-2", 1),
    ]
    # A practitioner sees only their own line; another team's manager sees nothing.
    mine = await goals_client.get("/v1/reviews/overdue/by-worker", headers=two)
    assert mine.json() == []
    other = await goals_client.get(
        "/v1/reviews/overdue/by-worker", headers=auth("team_manager", teams=[uuid.uuid4()])
    )
    assert other.json() == []
    # Counts only, so no plan is read: nothing is audited as read by the manager.
    async with backbone.engines["goals"].connect() as conn:
        reads = await conn.scalar(text("select count(*) from goals.audit_log where action = 'read'"))
    assert reads == 0
    # The detailed list is filterable by worker and audited.
    listed = await goals_client.get("/v1/reviews/overdue", params={"worker_sub": "worker-1"}, headers=manager)
    assert len(listed.json()) == 3
    async with backbone.engines["goals"].connect() as conn:
        reads = await conn.scalar(text("select count(*) from goals.audit_log where action = 'read'"))
    assert reads == 2
    bad = await goals_client.get("/v1/reviews/overdue", params={"worker_sub": "x" * 65}, headers=manager)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "query.worker_sub")
    assert (
        await goals_client.get("/v1/reviews/overdue/by-worker", headers=auth("analyst"))
    ).status_code == 403
