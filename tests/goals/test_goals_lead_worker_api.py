"""One family, one lead worker: a plan's lead worker is the family's (set by a team manager in the
formulation service), not whoever the request body names; overdue reviews stay within the caller's
teams."""

import uuid
from typing import Any

from shared import outbox
from tests.goals.helpers import accepted_payload, add_goal, complete_formulations, days_ago, open_plan

TEAM_A = uuid.uuid4()
TEAM_B = uuid.uuid4()


async def _accept(backbone, family_id: uuid.UUID, lead: str) -> None:  # type: ignore[no-untyped-def]
    """The family accepted by team A with this lead worker, as the formulation service emits it."""
    payload: dict[str, Any] = accepted_payload(family_id, TEAM_A, days_ago(400), lead=lead)
    async with backbone.sessionmakers["formulation"]() as session, session.begin():
        await outbox.emit(session, "referral.accepted", subject_id=family_id, payload=payload)


async def test_a_known_lead_worker_cannot_be_replaced_in_the_body(
    goals_client, auth, backbone, deliver_events
):
    f1, f2, f3 = await complete_formulations(backbone, 3, team_id=TEAM_A, lead="worker-a")
    for f in (f1, f2, f3):
        await _accept(backbone, f.family_id, "worker-a")
    await deliver_events()
    colleague = auth("practitioner", sub="worker-c", teams=[TEAM_A])
    for named in ("worker-of-team-b", "worker-c"):  # another team's worker, or the caller themself
        r = await goals_client.post("/v1/plans", json=f1.plan_body(lead_worker_sub=named), headers=colleague)
        assert r.status_code == 422, r.text
        assert (r.json()["rule"], r.json()["errors"][0]["field"]) == (
            "lead_worker_mismatch",
            "body.lead_worker_sub",
        )
    # Naming the family's lead worker, or no one, opens the plan with the family's lead worker.
    named = await open_plan(goals_client, colleague, f2, lead_worker_sub="worker-a")
    omitted = await open_plan(goals_client, colleague, f3)
    assert named["lead_worker_sub"] == omitted["lead_worker_sub"] == "worker-a"


async def test_before_the_family_is_known_only_the_caller_can_be_named(
    goals_client, auth, backbone, deliver_events
):
    f1, f2, f3 = await complete_formulations(backbone, 3, team_id=TEAM_A, lead="worker-a")
    await deliver_events()  # the formulations only: no referral.accepted has arrived yet
    worker_a = auth("practitioner", sub="worker-a", teams=[TEAM_A])
    manager = auth("team_manager", sub="manager-a", teams=[TEAM_A])
    for headers in (worker_a, manager):
        r = await goals_client.post(
            "/v1/plans", json=f1.plan_body(lead_worker_sub="worker-of-team-b"), headers=headers
        )
        assert r.status_code == 422, r.text
        assert (r.json()["rule"], r.json()["errors"][0]["field"]) == (
            "lead_worker_not_caller",
            "body.lead_worker_sub",
        )
    # Omitted: the formulation's lead worker (from the formulation service).
    assert (await open_plan(goals_client, manager, f1))["lead_worker_sub"] == "worker-a"
    # The caller may name themself (the plan follows the family's lead worker when it arrives).
    mine = await open_plan(goals_client, manager, f2, lead_worker_sub="manager-a")
    assert mine["lead_worker_sub"] == "manager-a"
    assert (await open_plan(goals_client, worker_a, f3, lead_worker_sub="worker-a"))["lead_worker_sub"] == (
        "worker-a"
    )


async def test_overdue_reviews_stay_within_the_callers_teams(goals_client, auth, backbone, deliver_events):
    (f,) = await complete_formulations(backbone, 1, team_id=TEAM_A, lead="worker-1")
    await deliver_events()
    in_team_a = auth("practitioner", sub="worker-1", teams=[TEAM_A])
    plan = await open_plan(goals_client, in_team_a, f, opened_on=days_ago(40).isoformat())
    await add_goal(goals_client, in_team_a, plan["id"], f, baseline_on=days_ago(30).isoformat())
    mine = await goals_client.get("/v1/reviews/overdue", headers=in_team_a)
    assert [o["plan_id"] for o in mine.json()["items"]] == [plan["id"]]
    # The same worker signed in for another team only (moved team, or a stale lead worker on the
    # plan): team A's family, plan and goal ids are not theirs to see.
    in_team_b = auth("practitioner", sub="worker-1", teams=[TEAM_B])
    r = await goals_client.get("/v1/reviews/overdue", headers=in_team_b)
    assert r.status_code == 200, r.text
    assert r.json()["items"] == []
    counts = await goals_client.get("/v1/reviews/overdue/by-worker", headers=in_team_b)
    assert counts.json() == []
