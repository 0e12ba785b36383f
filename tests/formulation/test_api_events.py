"""Events leave through the outbox and are applied by the goals and metrics services; the
formulation service applies the goals service's plan events once each."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text

from services.formulation_api.consumers import HANDLERS
from shared import clock
from shared.consumer import apply_event
from shared.events import build_envelope
from tests.formulation.conftest import Org
from tests.formulation.test_api_formulations import Draft, clean


async def _scalar(backbone: Any, sql: str, **params: Any) -> Any:
    async with backbone.engines["formulation"].connect() as conn:
        return await conn.scalar(text(sql), params)


async def test_lifecycle_events_reach_goals_and_metrics(org: Org, backbone: Any, deliver_events: Any) -> None:
    d = await clean(org)
    assert (await d.complete()).status_code == 200
    got = (await org.client.get(f"/v1/formulations/{d.id}", headers=org.sw1)).json()
    family_id = got["family_id"]
    await org.client.post(
        f"/v1/families/{family_id}/close",
        json={"reason_code": "all_goals_achieved"},
        headers=org.sw1,
    )
    await deliver_events()
    pending = await _scalar(backbone, "select count(*) from formulation.outbox where published_at is null")
    assert pending == 0
    known = await _scalar(
        backbone, "select factors from goals.formulations where id = :id", id=uuid.UUID(d.id)
    )
    assert {f["factor_id"]: f["priority"] for f in known}[d.f["keeps"]] is True
    closed_on = await _scalar(
        backbone, "select closed_on from goals.families where id = :id", id=uuid.UUID(family_id)
    )
    assert closed_on is not None
    metrics_seen = await _scalar(
        backbone,
        "select count(*) from metrics.processed_events where event_type like 'referral.%'",
    )
    assert metrics_seen == 2  # referral.received and referral.accepted


def _plan_closed(family_id: str, reason: str, on: str | date = "2026-04-01") -> Any:
    return build_envelope(
        "goals",
        "plan.closed",
        uuid.uuid4(),
        {
            "plan_id": str(uuid.uuid4()),
            "family_id": family_id,
            "cluster_code": "RES-1",
            "reason_code": reason,
            "opened_on": "2026-01-01",
            "closed_on": str(on),
            "goals_total": 3,
            "goals_improved": 1,
            "goals_achieved": 0,
        },
    )


async def test_plan_closed_is_recorded_and_may_ask_for_a_new_formulation(org: Org, backbone: Any) -> None:
    d = await clean(org)
    assert (await d.complete()).status_code == 200
    family_id = (await org.client.get(f"/v1/formulations/{d.id}", headers=org.sw1)).json()["family_id"]
    sm = backbone.sessionmakers["formulation"]
    achieved = _plan_closed(family_id, "all_goals_achieved")
    # closed today, after the formulation it worked on: no newer formulation answers the request
    again = _plan_closed(family_id, "continued_intervention_new_formulation", on=clock.today())
    assert await apply_event(sm, "formulation", HANDLERS, achieved)
    assert await apply_event(sm, "formulation", HANDLERS, again)
    assert not await apply_event(sm, "formulation", HANDLERS, again)
    plans = await _scalar(backbone, "select count(*) from formulation.family_plans")
    requests = await _scalar(backbone, "select count(*) from formulation.reformulation_requests")
    assert (plans, requests) == (2, 1)
    got = (await org.client.get(f"/v1/formulations/{d.id}", headers=org.sw1)).json()
    assert got["reformulation_requested_on"] == clock.today().isoformat()


async def test_events_for_unknown_families_are_ignored(org: Org, backbone: Any) -> None:
    sm = backbone.sessionmakers["formulation"]
    env = _plan_closed(str(uuid.uuid4()), "continued_intervention_new_formulation")
    assert await apply_event(sm, "formulation", HANDLERS, env)
    assert await _scalar(backbone, "select count(*) from formulation.family_plans") == 0


async def test_event_driven_writes_are_audited_with_the_event_as_actor(org: Org, backbone: Any) -> None:
    d = await clean(org)
    assert (await d.complete()).status_code == 200
    family_id = (await org.client.get(f"/v1/formulations/{d.id}", headers=org.sw1)).json()["family_id"]
    sm = backbone.sessionmakers["formulation"]
    again = _plan_closed(family_id, "continued_intervention_new_formulation")
    needed = build_envelope(
        "goals",
        "plan.reformulation_needed",
        uuid.uuid4(),
        {
            "plan_id": str(uuid.uuid4()),
            "family_id": family_id,
            "formulation_id": d.id,
            "flagged_on": "2026-03-01",
            "reviews_without_progress": 3,
        },
    )
    assert await apply_event(sm, "formulation", HANDLERS, again)
    assert await apply_event(sm, "formulation", HANDLERS, needed)
    assert not await apply_event(sm, "formulation", HANDLERS, again)  # a replay writes nothing
    # the same plan closed again (a later correction) updates its row
    later = build_envelope(
        "goals", "plan.closed", again.subject_id, {**again.payload, "reason_code": "other"}
    )
    assert await apply_event(sm, "formulation", HANDLERS, later)
    async with backbone.engines["formulation"].connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "select actor, role, action, resource_type, resource_id from formulation.audit_log "
                    "where actor like 'event:%' order by id"
                )
            )
        ).all()
    plan_id = str(again.payload["plan_id"])
    requests = await _scalar(
        backbone,
        "select array_agg(id::text order by flagged_on desc) from formulation.reformulation_requests",
    )
    assert [tuple(r) for r in rows] == [
        ("event:plan.closed", "scheduler", "create", "family_plan", plan_id),
        ("event:plan.closed", "scheduler", "create", "reformulation_request", requests[0]),
        ("event:plan.reformulation_needed", "scheduler", "create", "reformulation_request", requests[1]),
        ("event:plan.closed", "scheduler", "update", "family_plan", plan_id),
    ]


async def _formulate_again(org: Org, formulation_id: str) -> str:
    """The worker formulates again and completes the new version (today)."""
    v2 = (await org.client.post(f"/v1/formulations/{formulation_id}/reformulate", headers=org.sw1)).json()
    etag = (await org.client.get(f"/v1/formulations/{v2['id']}", headers=org.sw1)).headers["etag"]
    assert (await Draft(org, org.sw1, v2["id"], etag).complete()).status_code == 200
    return str(v2["id"])


async def test_a_late_request_flagged_before_a_newer_formulation_is_already_resolved(
    org: Org, backbone: Any
) -> None:
    d = await clean(org)
    assert (await d.complete()).status_code == 200
    family_id = (await org.client.get(f"/v1/formulations/{d.id}", headers=org.sw1)).json()["family_id"]
    earlier = (clock.today() - timedelta(days=3)).isoformat()
    # goals flagged v1 and closed a plan for a new formulation three days ago, but the events arrive
    # late (retried, or parked and replayed): the worker has formulated again in the meantime
    needed = build_envelope(
        "goals",
        "plan.reformulation_needed",
        uuid.uuid4(),
        {
            "plan_id": str(uuid.uuid4()),
            "family_id": family_id,
            "formulation_id": d.id,
            "flagged_on": earlier,
            "reviews_without_progress": 3,
        },
    )
    closed = _plan_closed(family_id, "continued_intervention_new_formulation", on=earlier)
    v2 = await _formulate_again(org, d.id)
    sm = backbone.sessionmakers["formulation"]
    assert await apply_event(sm, "formulation", HANDLERS, needed)
    assert await apply_event(sm, "formulation", HANDLERS, closed)
    got = (await org.client.get(f"/v1/formulations/{v2}", headers=org.sw1)).json()
    assert got["reformulation_requested_on"] is None
    async with backbone.engines["formulation"].connect() as conn:
        rows = await conn.execute(
            text("select reason, resolved_by_formulation_id::text from formulation.reformulation_requests")
        )
        resolved = dict(rows.all())
    # kept, and answered: the flagged v1 by the newer v2; the closure by a formulation completed
    # after it (both were, in this test)
    assert resolved["no_progress"] == v2
    assert resolved["plan_closed_for_new_formulation"] in (d.id, v2)


async def test_a_request_about_the_latest_formulation_stays_open(org: Org, backbone: Any) -> None:
    d = await clean(org)
    assert (await d.complete()).status_code == 200
    family_id = (await org.client.get(f"/v1/formulations/{d.id}", headers=org.sw1)).json()["family_id"]
    v2 = await _formulate_again(org, d.id)
    today = clock.today().isoformat()
    needed = build_envelope(
        "goals",
        "plan.reformulation_needed",
        uuid.uuid4(),
        {
            "plan_id": str(uuid.uuid4()),
            "family_id": family_id,
            "formulation_id": v2,
            "flagged_on": today,
            "reviews_without_progress": 3,
        },
    )
    assert await apply_event(backbone.sessionmakers["formulation"], "formulation", HANDLERS, needed)
    got = (await org.client.get(f"/v1/formulations/{v2}", headers=org.sw1)).json()
    assert got["reformulation_requested_on"] == today  # v2 is the one flagged: nothing answers it yet
