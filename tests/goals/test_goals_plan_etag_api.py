"""The plan's ETag covers everything GET /v1/plans/{id} returns, goals included: a close with an
If-Match read before a goal changed is refused, so it cannot settle a goal the worker never saw."""

import uuid

from tests.goals.helpers import (
    SUSTAINABILITY_PLAN,
    add_goal,
    complete_formulations,
    days_ago,
    open_plan,
    score,
)

TEAM = uuid.uuid4()
CLOSE = {"reason": "all_goals_achieved", "sustainability_plan": SUSTAINABILITY_PLAN}


async def test_every_change_to_the_plans_goals_changes_its_etag(goals_client, auth, backbone, deliver_events):
    (f,) = await complete_formulations(backbone, 1, team_id=TEAM)
    await deliver_events()
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    plan = await open_plan(goals_client, worker, f, opened_on=days_ago(30).isoformat())
    url = f"/v1/plans/{plan['id']}"

    async def etag() -> str:
        r = await goals_client.get(url, headers=worker)
        assert r.status_code == 200, r.text
        return str(r.headers["etag"])

    seen = [await etag()]
    goal = await add_goal(goals_client, worker, plan["id"], f, baseline_on=days_ago(20).isoformat())
    seen.append(await etag())
    await score(goals_client, worker, goal["id"], 6, days_ago(10))
    seen.append(await etag())
    second = await add_goal(goals_client, worker, plan["id"], f, baseline_on=days_ago(20).isoformat())
    seen.append(await etag())
    r = await goals_client.post(
        f"/v1/goals/{second['id']}/status",
        json={"status": "discontinued", "changed_on": days_ago(5).isoformat()},
        headers=worker,
    )
    assert r.status_code == 200, r.text
    seen.append(await etag())
    r = await goals_client.post(
        f"/v1/goals/{goal['id']}/evaluations",
        json={
            "reviewed_on": days_ago(2).isoformat(),
            "score": 7,
            "rationale": "Mornings are calmer most days",
            "decision": "continue",
        },
        headers=worker,
    )
    assert r.status_code == 201, r.text
    seen.append(await etag())
    assert len(set(seen)) == len(seen), seen

    # A close with any earlier ETag is stale; the current one closes, and its ETag is the plan's.
    for stale in seen[:-1]:
        r = await goals_client.post(f"{url}/close", json=CLOSE, headers=worker | {"If-Match": stale})
        assert (r.status_code, r.json()["rule"]) == (412, "stale_etag"), stale
    assert (await goals_client.get(url, headers=worker)).json()["status"] == "open"
    r = await goals_client.post(f"{url}/close", json=CLOSE, headers=worker | {"If-Match": seen[-1]})
    assert r.status_code == 200, r.text
    assert [g["status"] for g in r.json()["goals"]] == ["achieved", "discontinued"]
    assert r.headers["etag"] not in seen
    assert r.headers["etag"] == await etag()


async def test_stale_if_match_cannot_mark_an_unseen_goal_achieved(
    goals_client, auth, backbone, deliver_events
):
    (f,) = await complete_formulations(backbone, 1, team_id=TEAM)
    await deliver_events()
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    plan = await open_plan(goals_client, worker, f)
    url = f"/v1/plans/{plan['id']}"
    before = (await goals_client.get(url, headers=worker)).headers["etag"]
    await add_goal(goals_client, worker, plan["id"], f)  # a colleague adds a goal meanwhile
    r = await goals_client.post(f"{url}/close", json=CLOSE, headers=worker | {"If-Match": before})
    assert (r.status_code, r.json()["rule"]) == (412, "stale_etag")
    got = (await goals_client.get(url, headers=worker)).json()
    assert got["status"] == "open" and [g["status"] for g in got["goals"]] == ["active"]
