"""Overdue reviews per worker: the list, and the per-worker counts a team manager sees."""

import uuid
from datetime import timedelta

from sqlalchemy import text

from tests.goals.helpers import add_goal, complete_formulations, days_ago, open_plan, score, today

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
        params={"as_of": (today() + timedelta(days=6)).isoformat()},
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
    assert len(listed.json()["items"]) == 3 and listed.json()["next_cursor"] is None
    async with backbone.engines["goals"].connect() as conn:
        reads = await conn.scalar(text("select count(*) from goals.audit_log where action = 'read'"))
    assert reads == 2
    bad = await goals_client.get("/v1/reviews/overdue", params={"worker_sub": "x" * 65}, headers=manager)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "query.worker_sub")
    assert (
        await goals_client.get("/v1/reviews/overdue/by-worker", headers=auth("analyst"))
    ).status_code == 403


async def test_overdue_list_pages_through_every_goal_once(goals_client, auth, backbone, deliver_events):
    formulations = await complete_formulations(backbone, 4, team_id=TEAM)
    other_team = uuid.uuid4()
    (elsewhere,) = await complete_formulations(backbone, 1, team_id=other_team)
    await deliver_events()
    one = auth("practitioner", sub="worker-1", teams=[TEAM])
    two = auth("practitioner", sub="worker-2", teams=[TEAM])
    expected: dict[str, str] = {}  # overdue goal id -> due date
    for k, f in enumerate(formulations):
        headers, sub = (one, "worker-1") if k < 3 else (two, "worker-2")
        opened = days_ago(60).isoformat()
        plan = await open_plan(goals_client, headers, f, lead_worker_sub=sub, opened_on=opened)
        # Two goals share a baseline, so their due dates tie and the goal id orders them.
        for ago in (20 + k, 20 + k, 30 - k):
            goal = await add_goal(goals_client, headers, plan["id"], f, baseline_on=days_ago(ago).isoformat())
            expected[goal["id"]] = days_ago(ago - 7).isoformat()
    # Scored two days ago: not overdue any more. Another team's overdue goal: not the manager's.
    await score(goals_client, two, goal["id"], 6, days_ago(2))
    del expected[goal["id"]]
    stranger = auth("practitioner", sub="worker-9", teams=[other_team])
    far = await open_plan(goals_client, stranger, elsewhere, opened_on=days_ago(60).isoformat())
    await add_goal(goals_client, stranger, far["id"], elsewhere, baseline_on=days_ago(50).isoformat())
    manager = auth("team_manager", teams=[TEAM])

    async def walk(limit: int, **params: str) -> list[list[dict]]:
        pages, cursor = [], None
        while True:
            query = {**params, "limit": limit} | ({"cursor": cursor} if cursor else {})
            r = await goals_client.get("/v1/reviews/overdue", params=query, headers=manager)
            assert r.status_code == 200, r.text
            assert len(r.json()["items"]) <= limit
            pages.append(r.json()["items"])
            cursor = r.json()["next_cursor"]
            if cursor is None:
                return pages

    async def plan_reads() -> int:
        async with backbone.engines["goals"].connect() as conn:
            return await conn.scalar(
                text("select count(*) from goals.audit_log where action = 'read' and resource_type = 'plan'")
            )

    pages = await walk(5)
    seen = [o for page in pages for o in page]
    assert [len(page) for page in pages] == [5, 5, 1]  # 11 overdue goals, 5 a page
    assert sorted(o["goal_id"] for o in seen) == sorted(expected)  # every one, exactly once
    assert [(o["due_on"], o["goal_id"]) for o in seen] == sorted((d, g) for g, d in expected.items())
    assert all(o["due_on"] == expected[o["goal_id"]] for o in seen)
    # Each page audits the plans it shows.
    assert await plan_reads() == sum(len({o["plan_id"] for o in page}) for page in pages)
    # The filters hold across pages.
    mine = [o for page in await walk(2, worker_sub="worker-2") for o in page]
    assert len(mine) == 2 and {o["lead_worker_sub"] for o in mine} == {"worker-2"}
    earlier = [o for page in await walk(4, as_of=days_ago(15).isoformat()) for o in page]
    assert sorted(o["goal_id"] for o in earlier) == sorted(
        g for g, d in expected.items() if d < days_ago(15).isoformat()
    )
    assert 0 < len(earlier) < len(expected)
    bad = await goals_client.get("/v1/reviews/overdue", params={"cursor": "nope"}, headers=manager)
    assert (bad.status_code, bad.json()["rule"]) == (422, "cursor_invalid")
    too_many = await goals_client.get("/v1/reviews/overdue", params={"limit": 501}, headers=manager)
    assert too_many.status_code == 422
