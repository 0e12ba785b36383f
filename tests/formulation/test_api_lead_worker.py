"""Changing a family's lead worker: who may, the allocation rules, If-Match, and the goals copy."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import text

from shared.consumer import apply_event
from tests.formulation.conftest import Org, audit_rows, outbox
from tests.formulation.test_api_formulations import clean


def _url(family_id: str) -> str:
    return f"/v1/families/{family_id}/lead-worker"


async def _put(org: Org, family_id: str, sub: str, headers: dict[str, str]) -> httpx.Response:
    return await org.client.put(_url(family_id), json={"lead_worker_sub": sub}, headers=headers)


async def test_team_manager_hands_the_family_to_another_worker(org: Org, db_engine: Any) -> None:
    family = await org.family(lead="sw1")
    before = await org.client.get(f"/v1/families/{family}", headers=org.tm)
    r = await org.client.put(
        _url(family), json={"lead_worker_sub": "sw2"}, headers={**org.tm, "If-Match": before.headers["etag"]}
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"family_id": family, "team_id": org.team_id, "lead_worker_sub": "sw2"}
    assert r.headers["etag"] != before.headers["etag"]
    after = await org.client.get(f"/v1/families/{family}", headers=org.tm)
    assert after.json()["lead_worker_sub"] == "sw2" and after.headers["etag"] == r.headers["etag"]
    # the new lead sees it as theirs; an audit row for the change, one event with ids only
    assert (
        await org.client.get(f"/v1/families/{family}", headers=org.practitioner("sw2"))
    ).status_code == 200
    assert [tuple(a) for a in await audit_rows(db_engine, "update", "family")] == [("tm1", family)]
    events = await outbox(db_engine, "family.lead_worker_changed")
    assert [e["payload"] for e in events] == [
        {
            "family_id": family,
            "cluster_code": org.cluster,
            "team_id": org.team_id,
            "lead_worker_sub": "sw2",
            "previous_lead_worker_sub": "sw1",
            "changed_on": events[0]["payload"]["changed_on"],
        }
    ]
    # the same worker again changes nothing: no revision, no audit row, no event
    again = await _put(org, family, "sw2", org.tm)
    assert again.status_code == 200 and again.headers["etag"] == r.headers["etag"]
    assert len(await outbox(db_engine, "family.lead_worker_changed")) == 1
    assert len(await audit_rows(db_engine, "update", "family")) == 1


async def test_who_may_change_the_lead_worker(org: Org) -> None:
    family = await org.family(lead="sw1")
    for role in ("practitioner", "analyst", "partner_system", "scheduler", "rethink_facilitator"):
        r = await _put(org, family, "sw2", org.auth(role, f"{role}-1", teams=[org.team_id]))
        assert r.status_code == 403 and r.json()["rule"] == "role_not_allowed", role
    # a manager of another team (same cluster) may not, nor a manager with no team
    r = await org.client.post(
        "/v1/teams", json={"cluster_code": org.cluster, "name": "Other RES"}, headers=org.admin
    )
    other_tm = org.auth("team_manager", "tm2", teams=[r.json()["id"]])
    for headers in (other_tm, org.auth("team_manager", "tm3")):
        r = await _put(org, family, "sw2", headers)
        assert r.status_code == 403 and r.json()["rule"] == "team_scope"
    got = await org.client.get(f"/v1/families/{family}", headers=org.tm)
    assert got.json()["lead_worker_sub"] == "sw1"
    # an admin may, for any team's family (and is shown no personal data)
    r = await _put(org, family, "fsw1", org.admin)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"family_id", "team_id", "lead_worker_sub"}
    missing = await _put(org, str(uuid.uuid4()), "sw2", org.admin)
    assert missing.status_code == 404


async def test_stale_if_match_is_412_and_changes_nothing(org: Org, db_engine: Any) -> None:
    family = await org.family(lead="sw1")
    stale = (await org.client.get(f"/v1/families/{family}", headers=org.tm)).headers["etag"]
    assert (await _put(org, family, "sw2", org.tm)).status_code == 200
    r = await org.client.put(
        _url(family), json={"lead_worker_sub": "fsw1"}, headers={**org.tm, "If-Match": stale}
    )
    assert r.status_code == 412 and r.json()["rule"] == "stale_etag"
    got = await org.client.get(f"/v1/families/{family}", headers=org.tm)
    assert got.json()["lead_worker_sub"] == "sw2" and r.json()["current_etag"] == got.headers["etag"]
    assert len(await outbox(db_engine, "family.lead_worker_changed")) == 1


async def test_the_allocation_rules_apply(org: Org) -> None:
    family = await org.family(lead="sw1")
    r = await org.client.put(
        f"/v1/teams/{org.team_id}/caseload-limits",
        json={"caseload_limits": {"social_worker": 1, "family_support_worker": 8}},
        headers=org.tm,
    )
    assert r.status_code == 200, r.text
    await org.family(lead="sw2")  # sw2 is now full
    r = await _put(org, family, "sw2", org.tm)
    assert r.status_code == 409 and r.json()["rule"] == "caseload_full"
    assert r.json()["available_workers"] == ["fsw1"]
    for sub in ("tm1", "nobody"):  # a manager, or no member of the team, cannot lead
        r = await _put(org, family, sub, org.tm)
        assert r.status_code == 422 and r.json()["rule"] == "not_a_lead_worker_in_team", sub
    r = await org.client.put(_url(family), json={"lead_worker_sub": "sw 2"}, headers=org.tm)
    assert r.status_code == 422 and r.json()["field"] == "body.lead_worker_sub"
    r = await org.client.put(_url(family), json={"lead_worker_sub": "fsw1", "x": 1}, headers=org.tm)
    assert r.status_code == 422
    r = await org.client.post(
        f"/v1/families/{family}/close", json={"reason_code": "all_goals_achieved"}, headers=org.tm
    )
    assert r.status_code == 200
    r = await _put(org, family, "fsw1", org.tm)
    assert r.status_code == 409 and r.json()["rule"] == "family_closed"


async def test_goals_moves_the_open_plan_to_the_new_lead_once(
    org: Org, goals_client: httpx.AsyncClient, backbone: Any, deliver_events: Any
) -> None:
    draft = await clean(org)
    assert (await draft.complete()).status_code == 200
    formulation = (await org.client.get(f"/v1/formulations/{draft.id}", headers=org.sw1)).json()
    family = formulation["family_id"]
    await deliver_events()
    sw1 = org.auth("practitioner", "sw1", teams=[org.team_id])
    r = await goals_client.post(
        "/v1/plans",
        json={
            "family_id": family,
            "formulation_id": draft.id,
            "formulation_version": formulation["version"],
            "overall_goal": "The children go to school calm and on time",
        },
        headers=sw1,
    )
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["lead_worker_sub"] == "sw1"
    etag = (await goals_client.get(f"/v1/plans/{plan['id']}", headers=sw1)).headers["etag"]

    assert (await _put(org, family, "fsw1", org.tm)).status_code == 200
    await deliver_events()

    got = await goals_client.get(f"/v1/plans/{plan['id']}", headers=sw1)
    assert got.json()["lead_worker_sub"] == "fsw1"
    assert got.headers["etag"] != etag  # the plan changed: a stale If-Match on it is refused
    async with backbone.engines["goals"].connect() as conn:
        known = await conn.scalar(
            text("select lead_worker_sub from goals.families where id = :id"), {"id": uuid.UUID(family)}
        )
        audits = (
            await conn.execute(
                text("select actor from goals.audit_log where action = 'update' and resource_id = :id"),
                {"id": plan["id"]},
            )
        ).all()
    assert known == "fsw1"
    assert [a for (a,) in audits] == ["event:family.lead_worker_changed"]

    # Delivered again (an arq redelivery), or re-published with a new id: applied once.
    (envelope,) = await backbone.outbox_envelopes("formulation", "family.lead_worker_changed")
    from services.goals_api.consumers import HANDLERS

    assert await apply_event(backbone.sessionmakers["goals"], "goals", HANDLERS, envelope) is False
    again = envelope.model_copy(update={"event_id": uuid.uuid4()})
    assert await apply_event(backbone.sessionmakers["goals"], "goals", HANDLERS, again) is True
    after = await goals_client.get(f"/v1/plans/{plan['id']}", headers=sw1)
    assert after.headers["etag"] == got.headers["etag"]
    async with backbone.engines["goals"].connect() as conn:
        count = await conn.scalar(
            text("select count(*) from goals.audit_log where action = 'update' and resource_id = :id"),
            {"id": plan["id"]},
        )
    assert count == 1

    # An older event applied late (a retried referral.accepted naming the first worker) must not
    # hand the family, or its plan, back.
    (accepted,) = await backbone.outbox_envelopes("formulation", "referral.accepted")
    late = accepted.model_copy(update={"event_id": uuid.uuid4()})
    assert await apply_event(backbone.sessionmakers["goals"], "goals", HANDLERS, late) is True
    async with backbone.engines["goals"].connect() as conn:
        known = await conn.scalar(
            text("select lead_worker_sub from goals.families where id = :id"), {"id": uuid.UUID(family)}
        )
    assert known == "fsw1"
    # ...and the lead-change event re-applied after it still leaves the plan with fsw1.
    third = envelope.model_copy(update={"event_id": uuid.uuid4()})
    assert await apply_event(backbone.sessionmakers["goals"], "goals", HANDLERS, third) is True
    final = await goals_client.get(f"/v1/plans/{plan['id']}", headers=sw1)
    assert final.json()["lead_worker_sub"] == "fsw1"
