"""Closing a plan ends its still-active sub-goals: achieved at a closing review, else discontinued."""

import uuid

from sqlalchemy import text

from tests.goals.helpers import (
    SUSTAINABILITY_PLAN,
    add_goal,
    complete_formulations,
    days_ago,
    goal_body,
    open_plan,
    score,
)

TEAM = uuid.uuid4()


async def _rows(backbone, sql: str, **params):
    async with backbone.engines["goals"].connect() as conn:
        return (await conn.execute(text(sql), params)).all()


async def _status_events(backbone, goal_id: str) -> list[tuple[str, str]]:
    rows = await _rows(
        backbone,
        "select payload from goals.outbox where type = 'goal.status_changed'"
        " and payload->>'goal_id' = :g order by id",
        g=goal_id,
    )
    return [(r.payload["status"], r.payload["changed_on"]) for r in rows]


async def _goal_updates(backbone, goal_id: str) -> list[str]:
    rows = await _rows(
        backbone,
        "select actor from goals.audit_log where action = 'update' and resource_type = 'goal'"
        " and resource_id = :g order by id",
        g=goal_id,
    )
    return [r.actor for r in rows]


async def _set_status(client, headers, goal_id: str, status: str, ago: int) -> None:
    r = await client.post(
        f"/v1/goals/{goal_id}/status",
        json={"status": status, "changed_on": days_ago(ago).isoformat()},
        headers=headers,
    )
    assert r.status_code == 200, r.text


async def _plan_with_three_goals(goals_client, auth, backbone, deliver_events, baseline: int):
    """A plan opened 200 days ago with three active goals whose baselines are 150 days old."""
    (f,) = await complete_formulations(backbone, 1, team_id=TEAM)
    await deliver_events()
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    plan = await open_plan(goals_client, worker, f, opened_on=days_ago(200).isoformat())
    goals = [
        await add_goal(
            goals_client, worker, plan["id"], f, baseline=baseline, baseline_on=days_ago(150).isoformat()
        )
        for _ in range(3)
    ]
    return f, worker, plan, goals


async def _plan_closed(backbone) -> tuple[str, int, int, int]:
    """The one `plan.closed` event: reason, goals total, achieved and improved."""
    (closed,) = await _rows(backbone, "select payload from goals.outbox where type = 'plan.closed'")
    p = closed.payload
    return p["reason_code"], p["goals_total"], p["goals_achieved"], p["goals_improved"]


async def test_closing_review_marks_the_active_goals_achieved(goals_client, auth, backbone, deliver_events):
    f, worker, plan, (a, b, c) = await _plan_with_three_goals(goals_client, auth, backbone, deliver_events, 2)
    full = await goals_client.post(f"/v1/plans/{plan['id']}/goals", json=goal_body(f), headers=worker)
    assert (full.status_code, full.json()["rule"]) == (409, "max_active_goals")
    await _set_status(goals_client, worker, a["id"], "achieved", 120)
    d = await add_goal(goals_client, worker, plan["id"], f, baseline=2, baseline_on=days_ago(110).isoformat())
    await score(goals_client, worker, b["id"], 7, days_ago(105))
    url = f"/v1/plans/{plan['id']}/close"
    review = {"reason": "all_goals_achieved", "sustainability_plan": SUSTAINABILITY_PLAN}

    # The active goals end on the closing date, so it cannot come before one of their baselines.
    early = await goals_client.post(
        url, json={**review, "closed_on": days_ago(115).isoformat()}, headers=worker
    )
    assert (early.status_code, early.json()["rule"], early.json()["field"]) == (
        422,
        "before_baseline",
        "body.closed_on",
    )
    assert (await _goal_updates(backbone, b["id"])) == []  # the refused closure changed nothing

    r = await goals_client.post(url, json={**review, "closed_on": days_ago(100).isoformat()}, headers=worker)
    assert r.status_code == 200, r.text
    got = (await goals_client.get(f"/v1/plans/{plan['id']}", headers=worker)).json()
    assert got == r.json()
    ended = {g["id"]: (g["status"], g["status_changed_on"]) for g in got["goals"]}
    assert ended == {
        a["id"]: ("achieved", days_ago(120).isoformat()),  # its own achievement is kept
        b["id"]: ("achieved", days_ago(100).isoformat()),
        c["id"]: ("achieved", days_ago(100).isoformat()),
        d["id"]: ("achieved", days_ago(100).isoformat()),
    }
    # Each closed goal changed status as a worker's own change would: an audit row and an event.
    for goal in (b, c, d):
        assert await _goal_updates(backbone, goal["id"]) == ["worker-1"]
        assert await _status_events(backbone, goal["id"]) == [
            ("active", days_ago(150 if goal is not d else 110).isoformat()),
            ("achieved", days_ago(100).isoformat()),
        ]
    assert await _status_events(backbone, a["id"]) == [
        ("active", days_ago(150).isoformat()),
        ("achieved", days_ago(120).isoformat()),
    ]
    # The closure's counts agree with the goals' statuses.
    assert await _plan_closed(backbone) == ("all_goals_achieved", 4, 4, 1)
    analyst = auth("analyst")
    progress = (await goals_client.get("/v1/reports/goal-progress", headers=analyst)).json()
    assert (progress["goals"], progress["improved"], progress["no_score"]) == (4, 1, 3)
    # Worked on from 150 days ago until the closure 100 days ago: under three months.
    assert progress["goals_worked_on_over_three_months"] == 0
    closures = (await goals_client.get("/v1/reports/closures", headers=analyst)).json()
    assert closures["closed_plans"] == 1
    assert {row["reason"]: row["count"] for row in closures["rows"]}["all_goals_achieved"] == 1

    # Nothing more can change on the closed plan's goals ...
    late = await goals_client.post(f"/v1/goals/{c['id']}/status", json={"status": "replaced"}, headers=worker)
    assert (late.status_code, late.json()["rule"]) == (409, "plan_closed")
    # ... and the family's next plan starts with room for three active goals, and no more.
    nxt = await open_plan(goals_client, worker, f)
    fresh = [(await add_goal(goals_client, worker, nxt["id"], f))["id"] for _ in range(3)]
    full = await goals_client.post(f"/v1/plans/{nxt['id']}/goals", json=goal_body(f), headers=worker)
    assert (full.status_code, full.json()["rule"]) == (409, "max_active_goals")
    assert sorted(full.json()["active_goal_ids"]) == sorted(fresh)


async def test_other_closures_discontinue_the_active_goals(goals_client, auth, backbone, deliver_events):
    _, worker, plan, (kept, replaced, left) = await _plan_with_three_goals(
        goals_client, auth, backbone, deliver_events, 5
    )
    await _set_status(goals_client, worker, kept["id"], "achieved", 130)
    await _set_status(goals_client, worker, replaced["id"], "replaced", 125)
    await score(goals_client, worker, left["id"], 3, days_ago(110))
    r = await goals_client.post(
        f"/v1/plans/{plan['id']}/close",
        json={"reason": "family_no_longer_wanted_support", "closed_on": days_ago(100).isoformat()},
        headers=worker,
    )
    assert r.status_code == 200, r.text
    ended = {g["id"]: (g["status"], g["status_changed_on"]) for g in r.json()["goals"]}
    assert ended == {
        kept["id"]: ("achieved", days_ago(130).isoformat()),
        replaced["id"]: ("replaced", days_ago(125).isoformat()),
        left["id"]: ("discontinued", days_ago(100).isoformat()),
    }
    assert await _goal_updates(backbone, left["id"]) == ["worker-1"]
    assert (await _status_events(backbone, left["id"]))[-1] == ("discontinued", days_ago(100).isoformat())
    assert len(await _status_events(backbone, kept["id"])) == 2  # active, then its own achievement
    assert await _plan_closed(backbone) == ("family_no_longer_wanted_support", 3, 1, 0)
    progress = (await goals_client.get("/v1/reports/goal-progress", headers=auth("analyst"))).json()
    assert (progress["goals"], progress["deteriorated"], progress["goals_worked_on_over_three_months"]) == (
        3,
        1,
        0,
    )
