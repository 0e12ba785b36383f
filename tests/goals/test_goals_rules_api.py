"""Rules of Appendix 5 enforced by the API: each breach is a 4xx problem naming field and rule."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from tests.goals.helpers import (
    SUSTAINABILITY_PLAN,
    add_goal,
    complete_formulations,
    days_ago,
    goal_body,
    open_plan,
    score,
    today,
)

TEAM = uuid.uuid4()
PROBLEM = "application/problem+json"


@pytest.fixture
def worker(auth):
    return auth("practitioner", sub="worker-1", teams=[TEAM])


@pytest.fixture
async def ready(backbone, deliver_events):
    """Two completed formulations delivered to the goals service."""
    made = await complete_formulations(backbone, 2, team_id=TEAM)
    await deliver_events()
    return made


async def _outbox(backbone, event_type):
    async with backbone.engines["goals"].connect() as conn:
        rows = await conn.execute(
            text("select payload from goals.outbox where type = :t order by id"), {"t": event_type}
        )
        return [r.payload for r in rows]


async def test_fourth_active_goal_is_a_409(goals_client, worker, ready, backbone):
    f = ready[0]
    plan = await open_plan(goals_client, worker, f)
    goals = [await add_goal(goals_client, worker, plan["id"], f) for _ in range(3)]
    r = await goals_client.post(f"/v1/plans/{plan['id']}/goals", json=goal_body(f), headers=worker)
    assert r.status_code == 409
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["rule"] == "max_active_goals"
    assert sorted(r.json()["active_goal_ids"]) == sorted(g["id"] for g in goals)
    done = await goals_client.post(
        f"/v1/goals/{goals[0]['id']}/status", json={"status": "achieved"}, headers=worker
    )
    assert done.status_code == 200 and done.json()["status"] == "achieved"
    again = await goals_client.post(f"/v1/plans/{plan['id']}/goals", json=goal_body(f), headers=worker)
    assert again.status_code == 201, again.text
    statuses = [p["status"] for p in await _outbox(backbone, "goal.status_changed")]
    assert statuses == ["active", "active", "active", "achieved", "active"]


@pytest.mark.parametrize(("value", "rule"), [(11, "less_than_equal"), (-1, "greater_than_equal")])
async def test_score_out_of_range_is_a_422(goals_client, worker, ready, value, rule):
    f = ready[0]
    plan = await open_plan(goals_client, worker, f)
    goal = await add_goal(goals_client, worker, plan["id"], f)
    r = await goals_client.post(
        f"/v1/goals/{goal['id']}/scores",
        json={"score": value, "recorded_on": today().isoformat()},
        headers=worker,
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["field"] == "body.score"
    assert r.json()["rule"] == rule


async def test_score_dates_and_zero(goals_client, worker, ready):
    f = ready[0]
    plan = await open_plan(goals_client, worker, f, opened_on=days_ago(30).isoformat())
    goal = await add_goal(
        goals_client, worker, plan["id"], f, baseline=0, baseline_on=days_ago(20).isoformat()
    )
    assert goal["baseline"] == 0 and goal["progress"]["progress"] == "no_score"
    future = await goals_client.post(
        f"/v1/goals/{goal['id']}/scores",
        json={"score": 4, "recorded_on": (today() + timedelta(days=1)).isoformat()},
        headers=worker,
    )
    assert (future.status_code, future.json()["rule"]) == (422, "date_in_future")
    early = await goals_client.post(
        f"/v1/goals/{goal['id']}/scores",
        json={"score": 4, "recorded_on": days_ago(21).isoformat()},
        headers=worker,
    )
    assert (early.status_code, early.json()["rule"]) == (422, "before_baseline")
    ok = await goals_client.post(
        f"/v1/goals/{goal['id']}/scores",
        json={"score": 0, "recorded_on": days_ago(1).isoformat()},
        headers=worker,
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["progress"] == {"progress": "unchanged", "change": 0, "reliable": False}


@pytest.mark.parametrize(
    ("field", "pick", "rule"),
    [
        ("addresses_factor_ids", "non_priority", "not_priority_perpetuating_factor"),
        ("addresses_factor_ids", "protective", "not_priority_perpetuating_factor"),
        ("addresses_factor_ids", "unknown", "factor_not_in_formulation"),
        ("builds_on_factor_ids", "priority", "not_protective_factor"),
    ],
)
async def test_goal_factors_are_checked(goals_client, worker, ready, field, pick, rule):
    f = ready[0]
    plan = await open_plan(goals_client, worker, f)
    factor = uuid.uuid4() if pick == "unknown" else getattr(f, pick)[0]
    body = goal_body(f, **{field: [str(factor)]})
    r = await goals_client.post(f"/v1/plans/{plan['id']}/goals", json=body, headers=worker)
    assert r.status_code == 422
    assert r.json()["rule"] == rule
    assert r.json()["field"] == f"body.{field}[0]"


async def test_goal_on_another_formulations_factor_and_bad_code(goals_client, worker, ready):
    f, other = ready
    plan = await open_plan(goals_client, worker, f)
    body = goal_body(f, addresses_factor_ids=[str(other.priority[0])])
    r = await goals_client.post(f"/v1/plans/{plan['id']}/goals", json=body, headers=worker)
    assert (r.status_code, r.json()["rule"]) == (422, "factor_not_in_formulation")
    r = await goals_client.post(f"/v1/plans/{plan['id']}/goals", json=goal_body(f, code="Z9"), headers=worker)
    assert (r.status_code, r.json()["rule"], r.json()["field"]) == (422, "unknown_code", "body.code")
    r = await goals_client.post(
        f"/v1/plans/{plan['id']}/goals", json=goal_body(f, category="sports"), headers=worker
    )
    assert r.status_code == 422 and r.json()["field"] == "body.category"


async def test_plan_on_draft_or_unknown_formulation_is_refused(goals_client, worker, ready):
    f = ready[0]
    # Version 2 of this formulation is still a draft: no formulation.completed for it.
    draft = f.plan_body(formulation_version=2)
    r = await goals_client.post("/v1/plans", json=draft, headers=worker)
    assert r.status_code == 422
    assert r.json()["rule"] == "formulation_not_completed"
    assert r.json()["field"] == "body.formulation_id"
    assert "draft" in r.json()["detail"]
    unknown = f.plan_body(formulation_id=str(uuid.uuid4()))
    assert (await goals_client.post("/v1/plans", json=unknown, headers=worker)).status_code == 422
    wrong_family = f.plan_body(family_id=str(ready[1].family_id))
    r = await goals_client.post("/v1/plans", json=wrong_family, headers=worker)
    assert (r.status_code, r.json()["rule"]) == (422, "formulation_family_mismatch")


async def test_one_open_plan_per_family(goals_client, worker, ready):
    f = ready[0]
    first = await open_plan(goals_client, worker, f)
    r = await goals_client.post("/v1/plans", json=f.plan_body(), headers=worker)
    assert r.status_code == 409
    assert r.json()["rule"] == "one_open_plan_per_family"
    assert r.json()["open_plan_id"] == first["id"]


async def test_closure_needs_sustainability_plan_when_goals_achieved(goals_client, worker, ready, backbone):
    f = ready[0]
    plan = await open_plan(goals_client, worker, f)
    goal = await add_goal(goals_client, worker, plan["id"], f, baseline=2)
    await score(goals_client, worker, goal["id"], 8, today())
    url = f"/v1/plans/{plan['id']}/close"
    r = await goals_client.post(url, json={"reason": "all_goals_achieved"}, headers=worker)
    assert r.status_code == 422
    assert r.json()["rule"] == "sustainability_plan_required"
    assert r.json()["field"] == "body.sustainability_plan"
    partial = {k: v for k, v in SUSTAINABILITY_PLAN.items() if k != "supports"}
    r = await goals_client.post(
        url, json={"reason": "all_goals_achieved", "sustainability_plan": partial}, headers=worker
    )
    assert r.status_code == 422 and r.json()["field"] == "body.sustainability_plan.supports"
    r = await goals_client.post(
        url,
        json={"reason": "all_goals_achieved", "sustainability_plan": SUSTAINABILITY_PLAN},
        headers=worker,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed"
    assert r.json()["closure_reason"] == "all_goals_achieved"
    printable = await goals_client.get(f"/v1/plans/{plan['id']}/sustainability-plan", headers=worker)
    assert printable.status_code == 200
    assert printable.headers["content-type"].startswith("text/plain")
    assert "0113 000 0000" in printable.text
    assert "started at 2 out of 10, now 8 out of 10" in printable.text
    closed = await _outbox(backbone, "plan.closed")
    assert closed[-1]["reason_code"] == "all_goals_achieved"
    assert (closed[-1]["goals_total"], closed[-1]["goals_improved"]) == (1, 1)
    again = await goals_client.post(url, json={"reason": "support_from_another_service"}, headers=worker)
    assert (again.status_code, again.json()["rule"]) == (409, "plan_closed")
    more = await goals_client.post(f"/v1/plans/{plan['id']}/goals", json=goal_body(f), headers=worker)
    assert (more.status_code, more.json()["rule"]) == (409, "plan_closed")


async def test_family_withdrawal_closes_without_sustainability_plan(goals_client, worker, ready):
    plan = await open_plan(goals_client, worker, ready[0])
    r = await goals_client.post(
        f"/v1/plans/{plan['id']}/close",
        json={"reason": "family_no_longer_wanted_support"},
        headers=worker,
    )
    assert r.status_code == 200, r.text
    nothing = await goals_client.get(f"/v1/plans/{plan['id']}/sustainability-plan", headers=worker)
    assert nothing.status_code == 404


async def test_overdue_reviews_per_worker(goals_client, auth, worker, ready):
    f, g = ready
    plan = await open_plan(goals_client, worker, f, opened_on=days_ago(30).isoformat())
    stale = await add_goal(goals_client, worker, plan["id"], f, baseline_on=days_ago(20).isoformat())
    fresh = await add_goal(goals_client, worker, plan["id"], f, baseline_on=days_ago(20).isoformat())
    await score(goals_client, worker, fresh["id"], 5, days_ago(3))
    scored_late = await add_goal(goals_client, worker, plan["id"], f, baseline_on=days_ago(20).isoformat())
    await score(goals_client, worker, scored_late["id"], 5, days_ago(8))
    # A fortnightly plan of another worker: 10 days without a score is not overdue.
    other = auth("practitioner", sub="worker-2", teams=[TEAM])
    plan2 = await open_plan(
        goals_client,
        other,
        g,
        lead_worker_sub="worker-2",
        review_every_days=14,
        opened_on=days_ago(30).isoformat(),
    )
    await add_goal(goals_client, other, plan2["id"], g, baseline_on=days_ago(10).isoformat())
    r = await goals_client.get("/v1/reviews/overdue", headers=worker)
    assert r.status_code == 200, r.text
    overdue = {o["goal_id"]: o for o in r.json()["items"]}
    assert set(overdue) == {stale["id"], scored_late["id"]}
    assert overdue[stale["id"]]["days_overdue"] == 13
    assert overdue[scored_late["id"]]["due_on"] == days_ago(1).isoformat()
    assert (await goals_client.get("/v1/reviews/overdue", headers=other)).json()["items"] == []
    manager = auth("team_manager", teams=[TEAM])
    team = await goals_client.get("/v1/reviews/overdue", headers=manager)
    assert {o["lead_worker_sub"] for o in team.json()["items"]} == {"worker-1"}
    later = await goals_client.get(
        "/v1/reviews/overdue", params={"as_of": (today() + timedelta(days=5)).isoformat()}, headers=manager
    )
    assert {o["lead_worker_sub"] for o in later.json()["items"]} == {"worker-1", "worker-2"}


async def test_no_progress_over_reviews_flags_reformulation(goals_client, worker, ready, backbone):
    f = ready[0]
    plan = await open_plan(goals_client, worker, f, opened_on=days_ago(40).isoformat())
    a = await add_goal(goals_client, worker, plan["id"], f, baseline=4, baseline_on=days_ago(35).isoformat())
    b = await add_goal(goals_client, worker, plan["id"], f, baseline=5, baseline_on=days_ago(35).isoformat())

    async def review(goal, value, ago, decision="continue"):
        r = await goals_client.post(
            f"/v1/goals/{goal['id']}/evaluations",
            json={
                "reviewed_on": days_ago(ago).isoformat(),
                "score": value,
                "rationale": "Talked through the week with mum",
                "decision": decision,
            },
            headers=worker,
        )
        assert r.status_code == 201, r.text
        return r.json()

    assert (await review(a, 6, 28))["reviews_without_progress"] == 0  # progress
    assert (await review(b, 5, 21))["reviews_without_progress"] == 1
    second = await review(a, 5, 14, "change_actions")
    assert (second["reviews_without_progress"], second["reformulation_flagged"]) == (2, False)
    assert await _outbox(backbone, "plan.reformulation_needed") == []
    third = await review(b, 5, 7)
    assert (third["reviews_without_progress"], third["reformulation_flagged"]) == (3, True)
    flagged = await _outbox(backbone, "plan.reformulation_needed")
    assert len(flagged) == 1
    assert flagged[0]["formulation_id"] == str(f.id)
    assert flagged[0]["reviews_without_progress"] == 3
    plan_now = (await goals_client.get(f"/v1/plans/{plan['id']}", headers=worker)).json()
    assert plan_now["reformulation_flagged_on"] == days_ago(7).isoformat()
    # A later review with progress resets the run but the flag (and its event) stays once.
    fourth = await review(b, 7, 0, "achieved")
    assert fourth["reviews_without_progress"] == 0 and fourth["goal_status"] == "achieved"
    assert len(await _outbox(backbone, "plan.reformulation_needed")) == 1
    history = await goals_client.get(f"/v1/goals/{b['id']}/evaluations", headers=worker)
    assert [(e["score"], e["decision"]) for e in history.json()] == [
        (5, "continue"),
        (5, "continue"),
        (7, "achieved"),
    ]


async def test_other_team_cannot_see_or_change_a_plan(goals_client, auth, worker, ready):
    f = ready[0]
    plan = await open_plan(goals_client, worker, f)
    stranger = auth("practitioner", sub="worker-9", teams=[uuid.uuid4()])
    r = await goals_client.get(f"/v1/plans/{plan['id']}", headers=stranger)
    assert (r.status_code, r.json()["rule"]) == (403, "team_scope")
    r = await goals_client.post(f"/v1/plans/{plan['id']}/goals", json=goal_body(f), headers=stranger)
    assert r.status_code == 403
    analyst = auth("analyst")
    assert (await goals_client.get(f"/v1/plans/{plan['id']}", headers=analyst)).status_code == 403
    assert (await goals_client.get("/v1/reports/closures", headers=worker)).status_code == 403
