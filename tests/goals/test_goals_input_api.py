"""Bad input is a 4xx problem naming field and rule; the reliable-change threshold is a setting."""

import uuid

import pytest
from sqlalchemy import text

from shared import clock
from tests.goals.helpers import add_goal, complete_formulations, days_ago, open_plan, score

TEAM = uuid.uuid4()


@pytest.fixture
def worker(auth):
    return auth("practitioner", sub="worker-1", teams=[TEAM])


@pytest.fixture
async def plan_and_goal(goals_client, worker, backbone, deliver_events):
    (f,) = await complete_formulations(backbone, 1, team_id=TEAM)
    await deliver_events()
    plan = await open_plan(goals_client, worker, f, opened_on=days_ago(30).isoformat())
    goal = await add_goal(
        goals_client, worker, plan["id"], f, baseline=2, baseline_on=days_ago(20).isoformat()
    )
    return f, plan, goal


@pytest.mark.parametrize("value", [True, "7", 7.0])
async def test_a_score_must_be_a_json_integer(goals_client, worker, plan_and_goal, value):
    _, _, goal = plan_and_goal
    r = await goals_client.post(
        f"/v1/goals/{goal['id']}/scores",
        json={"score": value, "recorded_on": clock.today().isoformat()},
        headers=worker,
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "body.score"
    assert r.json()["errors"][0]["rule"].startswith("int_")


async def test_feedback_and_ratings_reject_impossible_values(
    goals_client, auth, backbone, worker, plan_and_goal
):
    _, plan, _ = plan_and_goal
    body = {
        "given_on": clock.today().isoformat(),
        "treated_with_respect": True,
        "would_recommend": True,
        "service_rating": 9,
        "communication_rating": 9,
        "understanding_rating": 8,
    }
    url = f"/v1/plans/{plan['id']}/feedback"
    r = await goals_client.post(url, json={**body, "service_rating": True}, headers=worker)
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "body.service_rating")
    r = await goals_client.post(url, json={**body, "given_on": "2001-01-01"}, headers=worker)
    assert (r.status_code, r.json()["rule"], r.json()["field"]) == (
        422,
        "before_plan_opened",
        "body.given_on",
    )
    assert (await goals_client.get(url, headers=worker)).status_code == 404
    assert (await goals_client.post(url, json=body, headers=worker)).status_code == 201
    got = await goals_client.get(url, headers=worker)
    assert got.status_code == 200 and got.json()["understanding_rating"] == 8
    stranger = auth("practitioner", sub="worker-9", teams=[uuid.uuid4()])
    assert (await goals_client.get(url, headers=stranger)).status_code == 403
    async with backbone.engines["goals"].connect() as conn:
        reads = await conn.scalar(
            text("select count(*) from goals.audit_log where action = 'read' and resource_type = 'feedback'")
        )
    assert reads == 1


async def test_plan_numbers_must_be_integers_and_reviews_default_to_weekly(
    goals_client, worker, plan_and_goal, backbone, deliver_events
):
    f, _, _ = plan_and_goal
    r = await goals_client.post("/v1/plans", json=f.plan_body(review_every_days=True), headers=worker)
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "body.review_every_days")
    (g,) = await complete_formulations(backbone, 1, team_id=TEAM)
    await deliver_events()
    body = g.plan_body()
    del body["review_every_days"]
    r = await goals_client.post("/v1/plans", json=body, headers=worker)
    assert r.status_code == 201, r.text
    assert r.json()["review_every_days"] == 7


async def test_reliable_change_threshold_is_read_from_settings(
    goals_client, auth, worker, plan_and_goal, apps
):
    _, _, goal = plan_and_goal
    await score(goals_client, worker, goal["id"], 6, days_ago(1))  # 2 -> 6: a change of 4
    got = (await goals_client.get(f"/v1/goals/{goal['id']}", headers=worker)).json()
    assert got["progress"] == {"progress": "improved", "change": 4, "reliable": True}
    report = (await goals_client.get("/v1/reports/goal-progress", headers=auth("analyst"))).json()
    assert (report["reliable_change_points"], report["improved_reliably"]) == (3, 1)

    app = apps["goals"]
    default = app.state.settings
    # (pytest's monkeypatch cannot restore an attribute of starlette's State: set and restore here.)
    app.state.settings = default.model_copy(update={"reliable_change_points": 5})
    try:
        got = (await goals_client.get(f"/v1/goals/{goal['id']}", headers=worker)).json()
        report = (await goals_client.get("/v1/reports/goal-progress", headers=auth("analyst"))).json()
    finally:
        app.state.settings = default
    assert got["progress"] == {"progress": "improved", "change": 4, "reliable": False}
    assert (report["reliable_change_points"], report["improved_reliably"], report["improved"]) == (5, 0, 1)


def test_openapi_examples_are_valid_request_bodies():
    from services.goals_api.app import SPEC
    from services.goals_api.goals.schemas import ActionCreate, EvaluationCreate, GoalCreate, ScoreCreate
    from services.goals_api.plans.schemas import PlanClose, PlanCreate

    assert SPEC.name == "goals"
    for model in (PlanCreate, PlanClose, GoalCreate, ScoreCreate, ActionCreate, EvaluationCreate):
        examples = model.model_json_schema()["examples"]
        assert examples, model.__name__
        for example in examples:
            model.model_validate(example)  # raises if an example would be refused
