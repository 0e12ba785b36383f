"""Dates against work already recorded: a plan cannot close before its recorded work, a goal's
actions not before its baseline, and the three-goal rule holds on every day back to a back-dated
baseline. Also: closing "all goals achieved" needs goals; a newer acceptance reopens a marked case."""

import uuid
from datetime import UTC, date, datetime, timedelta

from tests.goals.helpers import (
    SUSTAINABILITY_PLAN,
    accepted_payload,
    add_goal,
    complete_formulations,
    days_ago,
    emit_family_closed,
    goal_body,
    open_plan,
    score,
)

TEAM = uuid.uuid4()


async def _one_plan(goals_client, auth, backbone, deliver_events, opened_ago: int = 100):  # type: ignore[no-untyped-def]
    (f,) = await complete_formulations(backbone, 1, team_id=TEAM)
    await deliver_events()
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    plan = await open_plan(goals_client, worker, f, opened_on=days_ago(opened_ago).isoformat())
    return f, worker, plan


async def _action(goals_client, worker, goal_id: str, on: date):  # type: ignore[no-untyped-def]
    return await goals_client.post(
        f"/v1/goals/{goal_id}/actions",
        json={"activity": "parenting_work", "description": "Bedtime routine", "done_on": on.isoformat()},
        headers=worker,
    )


async def test_a_plan_cannot_close_before_its_recorded_work(goals_client, auth, backbone, deliver_events):
    f, worker, plan = await _one_plan(goals_client, auth, backbone, deliver_events)
    first = await add_goal(
        goals_client, worker, plan["id"], f, baseline=2, baseline_on=days_ago(90).isoformat()
    )
    second = await add_goal(
        goals_client, worker, plan["id"], f, baseline=2, baseline_on=days_ago(90).isoformat()
    )
    url = f"/v1/plans/{plan['id']}/close"

    async def close(ago: int):  # type: ignore[no-untyped-def]
        return await goals_client.post(
            url,
            json={
                "reason": "all_goals_achieved",
                "closed_on": days_ago(ago).isoformat(),
                "sustainability_plan": SUSTAINABILITY_PLAN,
            },
            headers=worker,
        )

    r = await goals_client.post(
        f"/v1/goals/{first['id']}/status",
        json={"status": "achieved", "changed_on": days_ago(5).isoformat()},
        headers=worker,
    )
    assert r.status_code == 200, r.text
    await score(goals_client, worker, second["id"], 8, days_ago(3))
    assert (await _action(goals_client, worker, second["id"], days_ago(2))).status_code == 201
    # A status change on day -5, a score on -3, an action on -2: each is work the closure would predate.
    for ago in (80, 6, 4, 3):
        r = await close(ago)
        assert (r.status_code, r.json()["rule"], r.json()["field"]) == (
            422,
            "before_recorded_work",
            "body.closed_on",
        ), ago
    r = await close(2)
    assert r.status_code == 200, r.text
    assert r.json()["closed_on"] == days_ago(2).isoformat()


async def test_family_closed_before_recorded_work_closes_the_plan_on_its_last_work(
    goals_client, auth, backbone, deliver_events
):
    f, worker, plan = await _one_plan(goals_client, auth, backbone, deliver_events)
    goal = await add_goal(goals_client, worker, plan["id"], f, baseline_on=days_ago(90).isoformat())
    await score(goals_client, worker, goal["id"], 6, days_ago(3))
    await emit_family_closed(backbone, f.family_id, "family_no_longer_wanted_support", days_ago(10))
    await deliver_events()
    got = (await goals_client.get(f"/v1/plans/{plan['id']}", headers=worker)).json()
    assert (got["status"], got["closed_on"], got["family_closed_on"]) == (
        "closed",
        days_ago(3).isoformat(),
        days_ago(10).isoformat(),
    )
    assert (got["goals"][0]["status"], got["goals"][0]["status_changed_on"]) == (
        "discontinued",
        days_ago(3).isoformat(),
    )


async def test_a_back_dated_baseline_cannot_make_four_goals_active_at_once(
    goals_client, auth, backbone, deliver_events
):
    f, worker, plan = await _one_plan(goals_client, auth, backbone, deliver_events, opened_ago=60)
    goals = [
        await add_goal(goals_client, worker, plan["id"], f, baseline_on=days_ago(50).isoformat())
        for _ in range(3)
    ]
    r = await goals_client.post(
        f"/v1/goals/{goals[0]['id']}/status",
        json={"status": "achieved", "changed_on": days_ago(5).isoformat()},
        headers=worker,
    )
    assert r.status_code == 200, r.text
    url = f"/v1/plans/{plan['id']}/goals"
    for ago in (30, 6):  # three goals were active then
        r = await goals_client.post(
            url, json=goal_body(f, baseline_on=days_ago(ago).isoformat()), headers=worker
        )
        assert (r.status_code, r.json()["rule"]) == (409, "max_active_goals"), ago
        assert set(r.json()["active_goal_ids"]) == {g["id"] for g in goals}
    # The achieved goal stopped on day -5: a new goal can start that day (a replacement).
    r = await goals_client.post(url, json=goal_body(f, baseline_on=days_ago(5).isoformat()), headers=worker)
    assert r.status_code == 201, r.text
    full = await goals_client.post(url, json=goal_body(f), headers=worker)
    assert (full.status_code, full.json()["rule"]) == (409, "max_active_goals")


async def test_an_action_cannot_predate_its_goals_baseline(goals_client, auth, backbone, deliver_events):
    f, worker, plan = await _one_plan(goals_client, auth, backbone, deliver_events)
    goal = await add_goal(goals_client, worker, plan["id"], f, baseline_on=days_ago(10).isoformat())
    r = await _action(goals_client, worker, goal["id"], days_ago(11))
    assert (r.status_code, r.json()["rule"], r.json()["field"]) == (422, "before_baseline", "body.done_on")
    assert (await _action(goals_client, worker, goal["id"], days_ago(10))).status_code == 201


async def test_all_goals_achieved_needs_goals(goals_client, auth, backbone, deliver_events):
    f, worker, plan = await _one_plan(goals_client, auth, backbone, deliver_events)
    url = f"/v1/plans/{plan['id']}/close"
    body = {"reason": "all_goals_achieved", "sustainability_plan": SUSTAINABILITY_PLAN}
    r = await goals_client.post(url, json=body, headers=worker)
    assert (r.status_code, r.json()["rule"], r.json()["field"]) == (422, "no_goals", "body.reason")
    await add_goal(goals_client, worker, plan["id"], f, baseline_on=days_ago(10).isoformat())
    r = await goals_client.post(url, json=body, headers=worker)
    assert r.status_code == 200, r.text


async def test_a_newer_acceptance_clears_an_unknown_reason_closure(
    goals_client, auth, backbone, deliver_events
):
    from services.goals_api.consumers import HANDLERS
    from shared.consumer import apply_event
    from shared.events import EventEnvelope

    f, worker, plan = await _one_plan(goals_client, auth, backbone, deliver_events, opened_ago=40)
    now = datetime.now(UTC)

    async def apply(event_type: str, payload: dict, hours_ago: int) -> None:  # type: ignore[type-arg]
        envelope = EventEnvelope(
            type=event_type,
            producer="formulation",
            subject_id=str(f.family_id),
            payload=payload,
            occurred_at=now - timedelta(hours=hours_ago),
        )
        assert await apply_event(backbone.sessionmakers["goals"], "goals", HANDLERS, envelope) is True

    async def marked() -> tuple[str, str | None, list[str]]:
        got = (await goals_client.get(f"/v1/plans/{plan['id']}", headers=worker)).json()
        overdue = (await goals_client.get("/v1/reviews/overdue", headers=worker)).json()["items"]
        return got["status"], got["family_closed_on"], [o["goal_id"] for o in overdue]

    goal = await add_goal(goals_client, worker, plan["id"], f, baseline_on=days_ago(30).isoformat())
    await apply("referral.accepted", accepted_payload(f.family_id, TEAM, days_ago(60)), hours_ago=5)
    closed = {"family_id": f.family_id, "cluster_code": "RES-1", "reason_code": "moved_out_of_area"}
    await apply("family.closed", {**closed, "closed_on": days_ago(3)}, hours_ago=3)
    assert await marked() == ("open", days_ago(3).isoformat(), [])
    # An older acceptance applied late does not undo the closure.
    await apply("referral.accepted", accepted_payload(f.family_id, TEAM, days_ago(50)), hours_ago=4)
    assert await marked() == ("open", days_ago(3).isoformat(), [])
    # The family is accepted again (a new case): the open plan's reviews are chased again.
    await apply("referral.accepted", accepted_payload(f.family_id, TEAM, days_ago(1)), hours_ago=1)
    assert await marked() == ("open", None, [goal["id"]])


async def test_family_closed_before_an_active_baseline_closes_on_that_baseline(
    goals_client, auth, backbone, deliver_events
):
    f, worker, plan = await _one_plan(goals_client, auth, backbone, deliver_events)
    await add_goal(goals_client, worker, plan["id"], f, baseline_on=days_ago(10).isoformat())
    await emit_family_closed(backbone, f.family_id, "family_no_longer_wanted_support", days_ago(30))
    await deliver_events()
    got = (await goals_client.get(f"/v1/plans/{plan['id']}", headers=worker)).json()
    assert (got["status"], got["closed_on"]) == ("closed", days_ago(10).isoformat())
    assert got["goals"][0]["status_changed_on"] == days_ago(10).isoformat()


async def test_family_closed_as_all_goals_achieved_leaves_a_plan_without_goals_open(
    goals_client, auth, backbone, deliver_events
):
    f, worker, plan = await _one_plan(goals_client, auth, backbone, deliver_events)
    await emit_family_closed(backbone, f.family_id, "all_goals_achieved", days_ago(1))
    await deliver_events()
    got = (await goals_client.get(f"/v1/plans/{plan['id']}", headers=worker)).json()
    assert (got["status"], got["closure_reason"], got["family_closed_on"]) == (
        "open",
        None,
        days_ago(1).isoformat(),
    )
