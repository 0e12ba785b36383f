"""`family.closed` from the formulation service closes (or marks) the family's open plan."""

import uuid
from datetime import date

from sqlalchemy import text

from tests.goals.helpers import (
    SUSTAINABILITY_PLAN,
    accepted_payload,
    add_goal,
    complete_formulations,
    days_ago,
    emit_family_closed,
    open_plan,
    score,
)

TEAM = uuid.uuid4()


async def test_family_closed_closes_the_open_plan_with_its_reason(
    goals_client, auth, backbone, deliver_events
):
    f, other = await complete_formulations(backbone, 2, team_id=TEAM)
    await deliver_events()
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    plan = await open_plan(goals_client, worker, f, opened_on=days_ago(40).isoformat())
    goal = await add_goal(
        goals_client, worker, plan["id"], f, baseline=2, baseline_on=days_ago(30).isoformat()
    )
    await score(goals_client, worker, goal["id"], 7, days_ago(5))
    untouched = await open_plan(goals_client, worker, other)

    await emit_family_closed(backbone, f.family_id, "escalated_to_area_social_work", days_ago(2))
    await deliver_events()

    got = (await goals_client.get(f"/v1/plans/{plan['id']}", headers=worker)).json()
    assert got["status"] == "closed"
    assert got["closure_reason"] == "escalated_to_area_social_work"
    assert got["closed_on"] == days_ago(2).isoformat()
    assert got["family_closed_on"] == days_ago(2).isoformat()
    assert got["closed_by"] == "event:family.closed"
    assert got["sustainability_plan_agreed"] is False
    # Its active goal is discontinued on the closing date, by the event, as a worker would have.
    (ended,) = got["goals"]
    assert (ended["status"], ended["status_changed_on"]) == ("discontinued", days_ago(2).isoformat())
    # Another family's plan is not touched.
    still = (await goals_client.get(f"/v1/plans/{untouched['id']}", headers=worker)).json()
    assert (still["status"], still["family_closed_on"]) == ("open", None)

    # The metrics worker hears of the closure like any other: reason, dates, counts, no text.
    async with backbone.engines["goals"].connect() as conn:
        closed = (
            await conn.execute(text("select payload from goals.outbox where type = 'plan.closed'"))
        ).one()
        actor = await conn.scalar(
            text("select actor from goals.audit_log where action = 'update' and resource_id = :id"),
            {"id": plan["id"]},
        )
    assert closed.payload["reason_code"] == "escalated_to_area_social_work"
    assert (closed.payload["goals_total"], closed.payload["goals_improved"]) == (1, 1)
    assert closed.payload["goals_achieved"] == 0
    assert actor == "event:family.closed"
    async with backbone.engines["goals"].connect() as conn:
        goal_actor = await conn.scalar(
            text("select actor from goals.audit_log where action = 'update' and resource_id = :id"),
            {"id": goal["id"]},
        )
        status = await conn.scalar(
            text(
                "select payload->>'status' from goals.outbox where type = 'goal.status_changed'"
                " and payload->>'goal_id' = :id order by id desc limit 1"
            ),
            {"id": goal["id"]},
        )
    assert (goal_actor, status) == ("event:family.closed", "discontinued")

    report = (await goals_client.get("/v1/reports/closures", headers=auth("analyst"))).json()
    counts = {row["reason"]: row["count"] for row in report["rows"]}
    assert counts["escalated_to_area_social_work"] == 1 and report["closed_plans"] == 1

    # No more work can be recorded on it.
    r = await goals_client.post(
        f"/v1/goals/{goal['id']}/scores",
        json={"score": 8, "recorded_on": days_ago(1).isoformat()},
        headers=worker,
    )
    assert (r.status_code, r.json()["rule"]) == (409, "plan_closed")


async def test_sustainability_plan_can_follow_an_upstream_all_goals_achieved(
    goals_client, auth, backbone, deliver_events
):
    (f,) = await complete_formulations(backbone, 1, team_id=TEAM)
    await deliver_events()
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    plan = await open_plan(goals_client, worker, f, opened_on=days_ago(10).isoformat())
    goal = await add_goal(goals_client, worker, plan["id"], f, baseline_on=days_ago(8).isoformat())
    url = f"/v1/plans/{plan['id']}/sustainability-plan"
    early = await goals_client.post(url, json=SUSTAINABILITY_PLAN, headers=worker)
    assert (early.status_code, early.json()["rule"]) == (409, "plan_open")

    # Back-dated before the plan opened: the plan closes no earlier than a worker could close it,
    # on the latest active goal's baseline (here after its first day).
    await emit_family_closed(backbone, f.family_id, "all_goals_achieved", days_ago(30))
    await deliver_events()
    got = (await goals_client.get(f"/v1/plans/{plan['id']}", headers=worker)).json()
    assert (got["status"], got["closure_reason"]) == ("closed", "all_goals_achieved")
    assert got["closed_on"] == days_ago(8).isoformat()
    assert got["family_closed_on"] == days_ago(30).isoformat()
    # The goals were achieved, on the plan's closing day.
    assert [(g["id"], g["status"], g["status_changed_on"]) for g in got["goals"]] == [
        (goal["id"], "achieved", days_ago(8).isoformat())
    ]
    assert (await goals_client.get(url, headers=worker)).status_code == 404

    stranger = auth("practitioner", sub="worker-9", teams=[uuid.uuid4()])
    assert (await goals_client.post(url, json=SUSTAINABILITY_PLAN, headers=stranger)).status_code == 403
    bad = await goals_client.post(url, json={**SUSTAINABILITY_PLAN, "supports": []}, headers=worker)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "body.supports")
    agreed = {**SUSTAINABILITY_PLAN, "look_out_for": "Late nights & <b>shouting</b>"}
    r = await goals_client.post(url, json=agreed, headers=worker)
    assert r.status_code == 200, r.text
    assert r.json()["sustainability_plan_agreed"] is True
    printable = await goals_client.get(url, headers=worker)
    assert printable.status_code == 200 and "0113 000 0000" in printable.text
    headings = [line for line in printable.text.splitlines() if line[:2] in ("a)", "b)", "c)", "d)", "e)")]
    assert [h[0] for h in headings] == ["a", "b", "c", "d", "e"]
    page = await goals_client.get(url, params={"format": "html"}, headers=worker)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["cache-control"] == "no-store"
    assert "<li>School family support worker: 0113 000 0000</li>" in page.text
    assert "Late nights &amp; &lt;b&gt;shouting&lt;/b&gt;" in page.text and "<b>shouting" not in page.text
    bad = await goals_client.get(url, params={"format": "pdf"}, headers=worker)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "query.format")
    again = await goals_client.post(url, json=SUSTAINABILITY_PLAN, headers=worker)
    assert (again.status_code, again.json()["rule"]) == (409, "sustainability_plan_exists")


async def test_unknown_closure_reason_marks_the_plan_and_stops_overdue_alerts(
    goals_client, auth, backbone, deliver_events
):
    (f,) = await complete_formulations(backbone, 1, team_id=TEAM)
    await deliver_events()
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    plan = await open_plan(goals_client, worker, f, opened_on=days_ago(40).isoformat())
    goal = await add_goal(goals_client, worker, plan["id"], f, baseline_on=days_ago(30).isoformat())
    overdue = (await goals_client.get("/v1/reviews/overdue", headers=worker)).json()["items"]
    assert [o["goal_id"] for o in overdue] == [goal["id"]]

    await emit_family_closed(backbone, f.family_id, "moved_out_of_area", days_ago(1))
    await deliver_events()
    got = (await goals_client.get(f"/v1/plans/{plan['id']}", headers=worker)).json()
    # Not a plan closure reason: the plan stays open for the worker to close, but shows the case closed.
    assert (got["status"], got["family_closed_on"]) == ("open", days_ago(1).isoformat())
    listed = (await goals_client.get("/v1/plans", headers=worker)).json()["items"]
    assert listed[0]["family_closed_on"] == days_ago(1).isoformat()
    assert (await goals_client.get("/v1/reviews/overdue", headers=worker)).json()["items"] == []
    r = await goals_client.post(
        f"/v1/plans/{plan['id']}/close", json={"reason": "support_from_another_service"}, headers=worker
    )
    assert r.status_code == 200, r.text
    assert r.json()["closed_by"] == "worker-1"


def test_family_and_plan_closure_reasons_are_the_same_codes():
    """`family.closed` closes the plan with the family's reason: the two vocabularies must agree."""
    from services.formulation_api.referrals.rules import ClosureReason as FamilyReason
    from services.goals_api.vocab import ClosureReason as PlanReason

    assert {r.value for r in FamilyReason} == {r.value for r in PlanReason}


async def test_a_late_older_event_does_not_undo_a_later_one(goals_client, auth, backbone, deliver_events):
    """arq retries can apply an older event after a newer one: acceptance and closure are ordered by
    when they happened, not by when they arrived."""
    from datetime import UTC, datetime, timedelta

    from services.goals_api.consumers import HANDLERS
    from shared.consumer import apply_event
    from shared.events import EventEnvelope

    (f,) = await complete_formulations(backbone, 1, team_id=TEAM)
    await deliver_events()
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

    def accepted(on: date) -> dict:  # type: ignore[type-arg]
        return accepted_payload(f.family_id, TEAM, on)

    closed = {
        "family_id": f.family_id,
        "cluster_code": "RES-1",
        "reason_code": "escalated_to_area_social_work",
        "closed_on": days_ago(20),
    }

    async def closed_on() -> date | None:
        async with backbone.engines["goals"].connect() as conn:
            return await conn.scalar(  # type: ignore[no-any-return]
                text("select closed_on from goals.families where id = :id"), {"id": f.family_id}
            )

    first = accepted(days_ago(60))
    await apply("referral.accepted", first, hours_ago=3)
    await apply("family.closed", closed, hours_ago=2)
    await apply("referral.accepted", first, hours_ago=3)  # the acceptance again, late
    assert await closed_on() == days_ago(20)  # still closed

    await apply("referral.accepted", accepted(days_ago(5)), hours_ago=1)  # a new case
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    plan = await open_plan(goals_client, worker, f)
    await apply("family.closed", closed, hours_ago=2)  # the old closure again, late
    assert await closed_on() is None
    got = (await goals_client.get(f"/v1/plans/{plan['id']}", headers=worker)).json()
    assert (got["status"], got["family_closed_on"]) == ("open", None)
