"""Referrals over HTTP: vocabulary, lifecycle, no waiting list, the academy rule, partner access."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text

from services.formulation_api.referrals.rules import reopen_rule
from tests.formulation.conftest import Org, audit_rows, outbox

PROBLEM = "application/problem+json"


async def test_unknown_source_code_is_422_naming_field_and_rule(org: Org) -> None:
    r = await org.client.post(
        "/v1/referrals",
        json={
            "cluster_code": org.cluster,
            "source_code": "2C",
            "referring_organisation": "X",
            "support_type": "early_help",
            "reason": "r",
            "family": {"reference_name": "F"},
        },
        headers=org.partner,
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["field"] == "body.source_code"
    assert r.json()["rule"] == "cin_referral_source"


async def test_route_gives_default_source_and_source_or_route_required(org: Org) -> None:
    ref = await org.referral(source_code=None, route="early_help_hub")
    assert ref["source_code"] == "5D"
    r = await org.client.post(
        "/v1/referrals",
        json={
            "cluster_code": org.cluster,
            "referring_organisation": "X",
            "support_type": "child_in_need",
            "reason": "r",
            "family": {"reference_name": "F"},
        },
        headers=org.partner,
    )
    assert r.status_code == 422
    assert (r.json()["field"], r.json()["rule"]) == ("body.source_code", "source_required")


async def test_unknown_cluster_refused(org: Org) -> None:
    r = await org.client.post(
        "/v1/referrals",
        json={
            "cluster_code": "NOPE",
            "source_code": "1A",
            "referring_organisation": "X",
            "support_type": "early_help",
            "reason": "r",
            "family": {"reference_name": "F"},
        },
        headers=org.partner,
    )
    assert r.status_code == 422 and r.json()["rule"] == "unknown_cluster"


async def test_lifecycle_and_events(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    ref = await org.referral()
    assert ref["status"] == "received"
    early = await org.client.post(
        f"/v1/referrals/{ref['id']}/accept", json={"lead_worker_sub": "sw1"}, headers=org.tm
    )
    assert early.status_code == 409 and early.json()["rule"] == "conversation_required"
    conv = await org.conversation(ref["id"])
    assert conv.status_code == 200 and conv.json()["status"] == "conversation_recorded"
    again = await org.conversation(ref["id"])
    assert again.status_code == 409
    r = await org.client.post(
        f"/v1/referrals/{ref['id']}/accept", json={"lead_worker_sub": "fsw1"}, headers=org.tm
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "accepted" and body["lead_worker_sub"] == "fsw1"
    fam = await org.client.get(f"/v1/families/{body['family_id']}", headers=org.practitioner("fsw1"))
    assert fam.status_code == 200
    assert {m["name"] for m in fam.json()["members"]} == {"Alex Example", "Charlie Example"}
    decided = await org.client.post(
        f"/v1/referrals/{ref['id']}/decline", json={"reason_code": "other"}, headers=org.tm
    )
    assert decided.status_code == 409 and decided.json()["rule"] == "referral_already_decided"
    events = await outbox(db_engine)
    assert [e["type"] for e in events] == [
        "cluster.upserted",
        "referral.received",
        "referral.accepted",
    ]
    accepted = events[-1]["payload"]
    assert accepted["family_id"] == body["family_id"]
    assert accepted["lead_worker_sub"] == "fsw1" and accepted["team_id"] == org.team_id
    # pseudonymous ids only: no names in any payload
    assert "Example" not in str([e["payload"] for e in events])


async def test_decline_and_redirect_emit_events(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    a, b = await org.referral(), await org.referral()
    for ref in (a, b):
        await org.conversation(ref["id"])
    r = await org.client.post(
        f"/v1/referrals/{a['id']}/decline",
        json={"reason_code": "needs_statutory_response", "note": "CP concerns"},
        headers=org.tm,
    )
    assert r.status_code == 200 and r.json()["decline_reason"] == "needs_statutory_response"
    r = await org.client.post(
        f"/v1/referrals/{b['id']}/redirect",
        json={"to": "cluster_targeted_services", "note": "Park Lane targeted services team"},
        headers=org.tm,
    )
    assert r.status_code == 200 and r.json()["redirected_to"] == "cluster_targeted_services"
    assert r.json()["decline_note"] == "Park Lane targeted services team"
    declined = await outbox(db_engine, "referral.declined")
    assert [e["payload"]["reason_code"] for e in declined] == ["needs_statutory_response"]
    redirected = await outbox(db_engine, "referral.redirected")
    assert [e["payload"] for e in redirected] == [
        {
            "referral_id": b["id"],
            "cluster_code": org.cluster,
            "destination_code": "cluster_targeted_services",
            "redirected_on": r.json()["decided_on"],
        }
    ]
    assert "Park Lane" not in str(redirected)  # the note stays in this service
    status = await org.client.get(f"/v1/referrals/{b['id']}", headers=org.partner)
    assert status.json()["redirected_to"] == "cluster_targeted_services"


async def test_redirect_destination_is_a_code(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    ref = await org.referral()
    await org.conversation(ref["id"])
    r = await org.client.post(
        f"/v1/referrals/{ref['id']}/redirect", json={"to": "Cluster targeted services"}, headers=org.tm
    )
    assert r.status_code == 422
    assert (r.json()["field"], r.json()["rule"]) == ("body.to", "enum")
    assert await outbox(db_engine, "referral.redirected") == []
    status = await org.client.get(f"/v1/referrals/{ref['id']}", headers=org.partner)
    assert status.json()["status"] == "conversation_recorded"


async def test_fifth_family_for_a_social_worker_is_refused(org: Org) -> None:
    for _ in range(4):
        await org.family(lead="sw1")
    ref = await org.referral()
    await org.conversation(ref["id"])
    r = await org.client.post(
        f"/v1/referrals/{ref['id']}/accept", json={"lead_worker_sub": "sw1"}, headers=org.tm
    )
    assert r.status_code == 409
    problem = r.json()
    assert problem["rule"] == "caseload_full"
    assert problem["full_caseloads"] == [
        {"sub": "sw1", "role": "social_worker", "open_families": 4, "limit": 4}
    ]
    assert set(problem["available_workers"]) == {"sw2", "fsw1"}
    # nothing half-written: the referral is still waiting for a decision
    status = await org.client.get(f"/v1/referrals/{ref['id']}", headers=org.partner)
    assert status.json()["status"] == "conversation_recorded"
    # another worker with capacity can take it
    r = await org.client.post(
        f"/v1/referrals/{ref['id']}/accept", json={"lead_worker_sub": "sw2"}, headers=org.tm
    )
    assert r.status_code == 200


async def test_team_limits_are_configurable_and_full_team_named(org: Org) -> None:
    r = await org.client.put(
        f"/v1/teams/{org.team_id}/caseload-limits",
        json={"caseload_limits": {"social_worker": 1, "family_support_worker": 1}},
        headers=org.tm,
    )
    assert r.status_code == 200
    assert r.json()["caseload_limits"] == {"social_worker": 1, "family_support_worker": 1}
    for lead in ("sw1", "sw2", "fsw1"):
        await org.family(lead=lead)
    ref = await org.referral()
    await org.conversation(ref["id"])
    r = await org.client.post(
        f"/v1/referrals/{ref['id']}/accept", json={"lead_worker_sub": "fsw1"}, headers=org.tm
    )
    assert r.status_code == 409 and r.json()["rule"] == "no_capacity_in_team"
    assert {c["sub"] for c in r.json()["full_caseloads"]} == {"sw1", "sw2", "fsw1"}
    loads = await org.client.get(f"/v1/teams/{org.team_id}/caseloads", headers=org.tm)
    by_sub = {c["sub"]: c for c in loads.json()}
    assert by_sub["sw1"]["open_families"] == 1 and not by_sub["sw1"]["has_capacity"]
    assert by_sub["tm1"]["limit"] is None


async def test_team_manager_cannot_be_lead_worker(org: Org) -> None:
    ref = await org.referral()
    await org.conversation(ref["id"])
    r = await org.client.post(
        f"/v1/referrals/{ref['id']}/accept", json={"lead_worker_sub": "tm1"}, headers=org.tm
    )
    assert r.status_code == 422 and r.json()["rule"] == "not_a_lead_worker_in_team"


async def test_academy_without_early_help_offer_is_declined(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    ref = await org.referral(academy_outside_cluster=True, early_help_offer_in_place=False)
    assert ref["status"] == "declined"
    assert ref["decline_reason"] == "academy_requires_early_help_offer"
    declined = await outbox(db_engine, "referral.declined")
    assert declined[0]["payload"]["reason_code"] == "academy_requires_early_help_offer"
    ok = await org.referral(academy_outside_cluster=True, early_help_offer_in_place=True)
    assert ok["status"] == "received"


async def test_partner_reads_only_its_own_referral_status(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    ref = await org.referral()
    own = await org.client.get(f"/v1/referrals/{ref['id']}", headers=org.partner)
    assert own.status_code == 200
    assert set(own.json()) == {
        "id",
        "status",
        "received_on",
        "decided_on",
        "decline_reason",
        "redirected_to",
    }
    other = org.auth("partner_system", "gp-system")
    assert (await org.client.get(f"/v1/referrals/{ref['id']}", headers=other)).status_code == 404
    # partners may not decide or read families
    r = await org.client.post(
        f"/v1/referrals/{ref['id']}/conversation", json={"notes": "n"}, headers=org.partner
    )
    assert r.status_code == 403 and r.json()["rule"] == "role_not_allowed"
    full = await org.client.get(f"/v1/referrals/{ref['id']}", headers=org.tm)
    assert full.json()["reason"].startswith("Attendance")
    reads = await audit_rows(db_engine, "read", "referral")
    assert [row.actor for row in reads] == ["tm1"]


async def test_other_team_manager_cannot_decide(org: Org) -> None:
    ref = await org.referral()
    stranger = org.auth("team_manager", "tm9", teams=["00000000-0000-0000-0000-000000000000"])
    r = await org.conversation(ref["id"])
    assert r.status_code == 200
    r = await org.client.post(
        f"/v1/referrals/{ref['id']}/decline", json={"reason_code": "other"}, headers=stranger
    )
    assert r.status_code == 403 and r.json()["rule"] == "cluster_scope"


async def test_team_member_validation(org: Org) -> None:
    r = await org.client.post(
        f"/v1/teams/{org.team_id}/members",
        json={"sub": "x1", "name": "X", "role": "nurse", "fte": "1.0"},
        headers=org.tm,
    )
    assert r.status_code == 422 and r.json()["field"] == "body.role"
    r = await org.client.post(
        f"/v1/teams/{org.team_id}/members",
        json={"sub": "sw1", "name": "Dup", "role": "social_worker", "fte": "0.5"},
        headers=org.tm,
    )
    assert r.status_code == 409 and r.json()["rule"] == "member_exists"
    other_tm = org.auth("team_manager", "tm2", teams=["00000000-0000-0000-0000-000000000001"])
    r = await org.client.post(
        f"/v1/teams/{org.team_id}/members",
        json={"sub": "x2", "name": "X", "role": "social_worker", "fte": "1"},
        headers=other_tm,
    )
    assert r.status_code == 403 and r.json()["rule"] == "team_scope"


async def test_re_referral_reopens_a_closed_family(org: Org) -> None:
    family_id = await org.family(lead="sw1")
    # The family's own team links a re-referral to it (partner systems send details only).
    ref = await org.referral(org.sw1, existing_family_id=family_id, family=None)
    await org.conversation(ref["id"])
    r = await org.client.post(
        f"/v1/referrals/{ref['id']}/accept", json={"lead_worker_sub": "sw2"}, headers=org.tm
    )
    assert r.status_code == 409 and r.json()["rule"] == "family_already_open"
    closed = await org.client.post(
        f"/v1/families/{family_id}/close",
        json={"reason_code": "support_from_another_service"},
        headers=org.sw1,
    )
    assert closed.status_code == 200
    ref2 = await org.referral(org.tm, existing_family_id=family_id, family=None)
    await org.conversation(ref2["id"])
    r = await org.client.post(
        f"/v1/referrals/{ref2['id']}/accept", json={"lead_worker_sub": "sw2"}, headers=org.tm
    )
    assert r.status_code == 200, r.text
    assert r.json()["family_id"] == family_id
    fam = (await org.client.get(f"/v1/families/{family_id}", headers=org.tm)).json()
    assert (fam["status"], fam["lead_worker_sub"], fam["closed_on"]) == ("open", "sw2", None)
    both = await org.client.post(
        "/v1/referrals",
        json={
            "cluster_code": org.cluster,
            "source_code": "1C",
            "referring_organisation": "Self",
            "support_type": "early_help",
            "reason": "r",
            "family": {"reference_name": "F"},
            "existing_family_id": family_id,
        },
        headers=org.partner,
    )
    assert both.status_code == 422 and both.json()["rule"] == "family_required"


async def test_worker_in_two_teams_is_allocated_by_either_teams_manager(org: Org) -> None:
    # sw1 also joins a second team in the same cluster (a worker may move or work across teams)
    r = await org.client.post(
        "/v1/teams", json={"cluster_code": org.cluster, "name": "Second RES"}, headers=org.admin
    )
    second = r.json()["id"]
    tm2 = org.auth("team_manager", "tm2", teams=[second])
    r = await org.client.post(
        f"/v1/teams/{second}/members",
        json={"sub": "sw1", "name": "Sam Worker", "role": "social_worker", "fte": "0.5"},
        headers=tm2,
    )
    assert r.status_code == 201
    ref = await org.referral()
    r = await org.client.post(f"/v1/referrals/{ref['id']}/conversation", json={"notes": "n"}, headers=tm2)
    assert r.status_code == 200
    r = await org.client.post(
        f"/v1/referrals/{ref['id']}/accept", json={"lead_worker_sub": "sw1"}, headers=tm2
    )
    assert r.status_code == 200, r.text
    assert r.json()["team_id"] == second  # the allocating manager's team, not the first one
    # the second team's manager cannot allocate a worker who is only in the first team
    ref = await org.referral()
    await org.client.post(f"/v1/referrals/{ref['id']}/conversation", json={"notes": "n"}, headers=tm2)
    r = await org.client.post(
        f"/v1/referrals/{ref['id']}/accept", json={"lead_worker_sub": "sw2"}, headers=tm2
    )
    assert r.status_code == 403 and r.json()["rule"] == "team_scope"


async def _other_team(
    org: Org, cluster: str, name: str, manager: str, worker: str
) -> tuple[str, dict[str, str]]:
    """A RES team (in `cluster`, created if new) with its manager and one social worker."""
    if cluster != org.cluster:
        r = await org.client.put(
            f"/v1/clusters/{cluster}", json={"name": cluster, "res_start": None}, headers=org.admin
        )
        assert r.status_code in (200, 201), r.text
    r = await org.client.post("/v1/teams", json={"cluster_code": cluster, "name": name}, headers=org.admin)
    assert r.status_code == 201, r.text
    team = r.json()["id"]
    tm = org.auth("team_manager", manager, teams=[team])
    for sub, role in ((manager, "team_manager"), (worker, "social_worker")):
        r = await org.client.post(
            f"/v1/teams/{team}/members",
            json={"sub": sub, "name": "Other Worker", "role": role, "fte": "1.0"},
            headers=tm,
        )
        assert r.status_code == 201, r.text
    return team, tm


def _answer(r: httpx.Response) -> tuple[int, str, str, str]:
    body = r.json()
    return r.status_code, body["rule"], body["field"], body["detail"]


async def test_a_known_family_is_linked_only_by_those_who_see_it_and_ids_are_no_oracle(org: Org) -> None:
    family_id = await org.family(lead="sw1")
    closed = await org.client.post(
        f"/v1/families/{family_id}/close", json={"reason_code": "all_goals_achieved"}, headers=org.sw1
    )
    assert closed.status_code == 200
    team2, tm2 = await _other_team(org, "RES-2", "Far RES", "tm2", "sw9")
    sw9 = org.auth("practitioner", "sw9", teams=[team2])
    missing = str(uuid.uuid4())
    body = {
        "cluster_code": "RES-2",
        "source_code": "5A",
        "referring_organisation": "Duty and advice",
        "support_type": "early_help",
        "reason": "Moved into the area.",
    }
    for headers in (tm2, sw9):
        seen = await org.client.post(
            "/v1/referrals", json={**body, "existing_family_id": family_id}, headers=headers
        )
        unknown = await org.client.post(
            "/v1/referrals", json={**body, "existing_family_id": missing}, headers=headers
        )
        # The same answer for a family that exists but is out of scope and one that does not.
        assert _answer(seen) == _answer(unknown)
        assert _answer(seen)[:2] == (422, "unknown_family")
    for fid in (family_id, missing):
        r = await org.client.post(
            "/v1/referrals",
            json={**body, "cluster_code": org.cluster, "existing_family_id": fid},
            headers=org.partner,
        )
        assert _answer(r)[:2] == (422, "existing_family_staff_only")
    # the family's own team may (into another cluster too: the family moved)
    r = await org.client.post("/v1/referrals", json={**body, "existing_family_id": family_id}, headers=org.tm)
    assert r.status_code == 201, r.text


async def test_another_teams_manager_cannot_take_over_a_closed_family(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    family_id = await org.family(lead="sw1")
    formulation = await org.client.post(
        f"/v1/families/{family_id}/formulations", json={"context": "with_family"}, headers=org.sw1
    )
    assert formulation.status_code == 201
    closed = await org.client.post(
        f"/v1/families/{family_id}/close", json={"reason_code": "all_goals_achieved"}, headers=org.sw1
    )
    assert closed.status_code == 200
    team2, tm2 = await _other_team(org, "RES-2", "Far RES", "tm2", "sw9")
    # A legitimate re-referral into the other cluster (posted by the family's team), or one
    # posted by a partner before partners stopped linking families.
    ref = await org.referral(org.tm, cluster_code="RES-2", existing_family_id=family_id, family=None)
    r = await org.client.post(f"/v1/referrals/{ref['id']}/conversation", json={"notes": "n"}, headers=tm2)
    assert r.status_code == 403 and r.json()["rule"] == "family_scope"
    async with db_engine.begin() as conn:  # as if the conversation had been held
        await conn.execute(
            text("update formulation.referrals set status = 'conversation_recorded' where id = :id"),
            {"id": ref["id"]},
        )
    r = await org.client.post(
        f"/v1/referrals/{ref['id']}/accept", json={"lead_worker_sub": "sw9"}, headers=tm2
    )
    assert r.status_code == 403 and r.json()["rule"] == "family_scope"
    assert (await org.client.get(f"/v1/referrals/{ref['id']}", headers=tm2)).status_code == 403
    assert (await org.client.get(f"/v1/families/{family_id}", headers=tm2)).status_code == 403
    r = await org.client.get(f"/v1/formulations/{formulation.json()['id']}", headers=tm2)
    assert r.status_code == 403
    fam = (await org.client.get(f"/v1/families/{family_id}", headers=org.tm)).json()
    assert (fam["status"], fam["team_id"], fam["lead_worker_sub"]) == ("closed", org.team_id, "sw1")
    # A manager of both teams hands the family over.
    both = org.auth("team_manager", "tm3", teams=[org.team_id, team2])
    r = await org.client.post(
        f"/v1/referrals/{ref['id']}/accept", json={"lead_worker_sub": "sw9"}, headers=both
    )
    assert r.status_code == 200, r.text
    assert r.json()["team_id"] == team2


def test_only_the_previous_team_or_an_admin_reopens_a_family() -> None:
    previous = uuid.uuid4()
    assert reopen_rule(previous, [str(previous)], is_admin=False) is None
    assert reopen_rule(previous, [str(uuid.uuid4()), str(previous)], is_admin=False) is None
    assert reopen_rule(previous, [], is_admin=True) is None
    assert reopen_rule(previous, [str(uuid.uuid4())], is_admin=False) == "family_of_another_team"
    assert reopen_rule(previous, [], is_admin=False) == "family_of_another_team"


async def test_referrals_are_read_cluster_wide_only_until_a_family_is_allocated(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    team_b, tm_b = await _other_team(org, org.cluster, "Second RES", "tmb", "swb")
    sw_b = org.auth("practitioner", "swb", teams=[team_b])
    sw2 = org.practitioner("sw2")
    ref = await org.referral()

    async def listed(headers: dict[str, str]) -> set[str]:
        r = await org.client.get("/v1/referrals", headers=headers)
        assert r.status_code == 200, r.text
        return {i["id"] for i in r.json()["items"]}

    async def status(headers: dict[str, str]) -> int:
        return (await org.client.get(f"/v1/referrals/{ref['id']}", headers=headers)).status_code

    # Undecided: the cluster's team managers triage it; practitioners do not read it.
    for headers in (org.tm, tm_b):
        assert ref["id"] in await listed(headers) and await status(headers) == 200
    for headers in (org.sw1, sw_b):
        assert ref["id"] not in await listed(headers)
        r = await org.client.get(f"/v1/referrals/{ref['id']}", headers=headers)
        assert r.status_code == 403 and r.json()["rule"] == "cluster_scope"
    # A practitioner who posts a referral reads it.
    own = await org.referral(sw_b)
    assert await listed(sw_b) == {own["id"]}
    assert await status(org.partner) == 200
    # Accepted into the first team: only those who see the family read it.
    assert (await org.conversation(ref["id"])).status_code == 200
    r = await org.client.post(
        f"/v1/referrals/{ref['id']}/accept", json={"lead_worker_sub": "sw1"}, headers=org.tm
    )
    assert r.status_code == 200, r.text
    for headers in (org.tm, org.sw1, sw2):
        assert ref["id"] in await listed(headers) and await status(headers) == 200
    for headers in (tm_b, sw_b):
        assert ref["id"] not in await listed(headers)
        r = await org.client.get(f"/v1/referrals/{ref['id']}", headers=headers)
        assert r.status_code == 403 and r.json()["rule"] == "family_scope"
    readers = {
        row.actor for row in await audit_rows(db_engine, "read", "referral") if row.resource_id == ref["id"]
    }
    assert readers == {"tm1", "tmb", "sw1", "sw2"}
