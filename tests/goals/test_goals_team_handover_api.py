"""A family handed to another team (closed, then re-referred and accepted by team B): its plan
is worked by the family's current team, not by the team that completed the formulation."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text

from services.goals_api.consumers import HANDLERS
from shared import outbox
from shared.consumer import apply_event
from shared.events import EventEnvelope
from tests.goals.helpers import accepted_payload, complete_formulations, days_ago, open_plan

TEAM_A = uuid.uuid4()
TEAM_B = uuid.uuid4()


async def _emit(backbone, event_type: str, subject_id: uuid.UUID, payload: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    """As the formulation service's outbox emits it (deliver_events then carries it to goals)."""
    async with backbone.sessionmakers["formulation"]() as session, session.begin():
        await outbox.emit(session, event_type, subject_id=subject_id, payload=payload)


def _closed(family_id: uuid.UUID, reason: str, on: date) -> dict[str, Any]:
    return {"family_id": family_id, "cluster_code": "RES-1", "reason_code": reason, "closed_on": on}


async def _team_a_plan(goals_client, auth, backbone, deliver_events):  # type: ignore[no-untyped-def]
    """A family accepted by team A (lead swA) with a plan team A opened; tokens for swA and swB."""
    (f,) = await complete_formulations(backbone, 1, team_id=TEAM_A, lead="swA")
    await _emit(
        backbone,
        "referral.accepted",
        f.family_id,
        accepted_payload(f.family_id, TEAM_A, days_ago(400), lead="swA"),
    )
    await deliver_events()
    sw_a = auth("practitioner", sub="swA", teams=[TEAM_A])
    sw_b = auth("practitioner", sub="swB", teams=[TEAM_B])
    plan = await open_plan(goals_client, sw_a, f, opened_on=days_ago(300).isoformat())
    return f, sw_a, sw_b, plan


async def _plan_audits(backbone, plan_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    async with backbone.engines["goals"].connect() as conn:
        rows = await conn.scalars(
            text(
                "select actor from goals.audit_log where action = 'update' and resource_type = 'plan'"
                " and resource_id = :id order by id"
            ),
            {"id": plan_id},
        )
        return list(rows)


async def test_a_re_referred_family_is_planned_by_its_new_team(goals_client, auth, backbone, deliver_events):
    f, sw_a, sw_b, first = await _team_a_plan(goals_client, auth, backbone, deliver_events)

    # Team A closes the case; a manager re-refers the family and team B accepts it, lead swB.
    await _emit(
        backbone,
        "family.closed",
        f.family_id,
        _closed(f.family_id, "support_from_another_service", days_ago(20)),
    )
    await _emit(
        backbone,
        "referral.accepted",
        f.family_id,
        accepted_payload(f.family_id, TEAM_B, days_ago(10), lead="swB"),
    )
    await deliver_events()

    r = await goals_client.post("/v1/plans", json=f.plan_body(), headers=sw_a)
    assert (r.status_code, r.json()["rule"]) == (403, "team_scope")
    plan = await open_plan(goals_client, sw_b, f)
    assert (plan["team_id"], plan["lead_worker_sub"]) == (str(TEAM_B), "swB")

    got = await goals_client.get(f"/v1/plans/{plan['id']}", headers=sw_b)
    assert got.status_code == 200, got.text
    r = await goals_client.get(f"/v1/plans/{plan['id']}", headers=sw_a)
    assert (r.status_code, r.json()["rule"]) == (403, "team_scope")
    listed_b = (await goals_client.get("/v1/plans", headers=sw_b)).json()["items"]
    assert [p["id"] for p in listed_b] == [plan["id"]]
    # Team A's closed plan stays with team A: its record of its own work (and its reports).
    listed_a = (await goals_client.get("/v1/plans", headers=sw_a)).json()["items"]
    assert [(p["id"], p["status"]) for p in listed_a] == [(first["id"], "closed")]


async def test_an_open_plan_follows_the_family_to_its_new_team(goals_client, auth, backbone, deliver_events):
    f, sw_a, sw_b, plan = await _team_a_plan(goals_client, auth, backbone, deliver_events)
    etag = (await goals_client.get(f"/v1/plans/{plan['id']}", headers=sw_a)).headers["etag"]

    # A closure reason this service does not know leaves the plan open; the family is then
    # re-referred to team B. The open plan goes with it (one family, one lead worker, one plan).
    await _emit(
        backbone, "family.closed", f.family_id, _closed(f.family_id, "moved_out_of_area", days_ago(20))
    )
    await _emit(
        backbone,
        "referral.accepted",
        f.family_id,
        accepted_payload(f.family_id, TEAM_B, days_ago(10), lead="swB"),
    )
    await deliver_events()

    r = await goals_client.get(f"/v1/plans/{plan['id']}", headers=sw_a)
    assert (r.status_code, r.json()["rule"]) == (403, "team_scope")
    got = await goals_client.get(f"/v1/plans/{plan['id']}", headers=sw_b)
    assert got.status_code == 200, got.text
    assert (got.json()["team_id"], got.json()["lead_worker_sub"]) == (str(TEAM_B), "swB")
    assert got.headers["etag"] != etag
    assert (await goals_client.get("/v1/plans", headers=sw_a)).json()["items"] == []
    closed = await goals_client.post(
        f"/v1/plans/{plan['id']}/close", json={"reason": "support_from_another_service"}, headers=sw_b
    )
    assert closed.status_code == 200, closed.text
    assert await _plan_audits(backbone, plan["id"]) == [
        "event:family.closed",
        "event:referral.accepted",
        "swB",
    ]


async def test_handover_is_idempotent_and_a_late_older_acceptance_does_not_move_it_back(
    goals_client, auth, backbone, deliver_events
):
    (f,) = await complete_formulations(backbone, 1, team_id=TEAM_A, lead="swA")
    await deliver_events()
    now = datetime.now(UTC)

    async def apply(event_type: str, payload: dict[str, Any], hours_ago: int) -> None:
        envelope = EventEnvelope(
            type=event_type,
            producer="formulation",
            subject_id=str(f.family_id),
            payload=payload,
            occurred_at=now - timedelta(hours=hours_ago),
        )
        assert await apply_event(backbone.sessionmakers["goals"], "goals", HANDLERS, envelope) is True

    to_a = accepted_payload(f.family_id, TEAM_A, days_ago(400), lead="swA")
    to_b = accepted_payload(f.family_id, TEAM_B, days_ago(10), lead="swB")
    await apply("referral.accepted", to_a, hours_ago=5)
    sw_a = auth("practitioner", sub="swA", teams=[TEAM_A])
    sw_b = auth("practitioner", sub="swB", teams=[TEAM_B])
    plan = await open_plan(goals_client, sw_a, f, opened_on=days_ago(300).isoformat())

    await apply("referral.accepted", to_b, hours_ago=1)
    etag = (await goals_client.get(f"/v1/plans/{plan['id']}", headers=sw_b)).headers["etag"]
    await apply("referral.accepted", to_b, hours_ago=1)  # the same acceptance again (a retry)
    await apply("referral.accepted", to_a, hours_ago=5)  # the older one, late
    got = await goals_client.get(f"/v1/plans/{plan['id']}", headers=sw_b)
    assert got.status_code == 200, got.text
    assert (got.json()["team_id"], got.json()["lead_worker_sub"]) == (str(TEAM_B), "swB")
    assert got.headers["etag"] == etag
    assert await _plan_audits(backbone, plan["id"]) == ["event:referral.accepted"]
