"""Rules that hold across routes: caseloads across teams, closed families, the version chain,
alignment phases, consent on the day and one active consent per scope."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import text

from shared import clock
from tests.formulation.conftest import Org, outbox
from tests.formulation.test_api_formulations import ALL_FOUR, clean


async def _open_families(db_engine: Any, sub: str) -> int:
    async with db_engine.connect() as conn:
        return int(
            await conn.scalar(
                text(
                    "select count(*) from formulation.families where lead_worker_sub = :s and status = 'open'"
                ),
                {"s": sub},
            )
        )


async def _close_down_to(org: Org, db_engine: Any, sub: str, keep: int) -> None:
    async with db_engine.connect() as conn:
        ids = (
            (
                await conn.execute(
                    text(
                        "select id from formulation.families where lead_worker_sub = :s and status = 'open' "
                        "order by opened_on, id"
                    ),
                    {"s": sub},
                )
            )
            .scalars()
            .all()
        )
    for fid in ids[keep:]:
        r = await org.client.post(
            f"/v1/families/{fid}/close", json={"reason_code": "all_goals_achieved"}, headers=org.sw1
        )
        assert r.status_code == 200, r.text


async def _second_team(org: Org) -> tuple[str, dict[str, str]]:
    """Team B of the same cluster, with sw1 in it too and its own manager and worker."""
    r = await org.client.post(
        "/v1/teams", json={"cluster_code": org.cluster, "name": "Second RES"}, headers=org.admin
    )
    assert r.status_code == 201, r.text
    team_b = r.json()["id"]
    tmb = org.auth("team_manager", "tmb", teams=[team_b])
    for sub, role in (("sw1", "social_worker"), ("swb", "social_worker"), ("tmb", "team_manager")):
        r = await org.client.post(
            f"/v1/teams/{team_b}/members",
            json={"sub": sub, "name": "X", "role": role, "fte": "1.0"},
            headers=tmb,
        )
        assert r.status_code == 201, r.text
    return team_b, tmb


async def _discussed_referral(org: Org) -> str:
    ref = await org.referral()
    assert (await org.conversation(ref["id"])).status_code == 200
    return str(ref["id"])


async def test_two_teams_cannot_both_take_a_workers_last_place(org: Org, db_engine: Any) -> None:
    c = org.client
    _, tmb = await _second_team(org)
    for _ in range(3):
        await org.family(lead="sw1")
    for _ in range(4):
        refs = [await _discussed_referral(org), await _discussed_referral(org)]
        rs = await asyncio.gather(
            c.post(f"/v1/referrals/{refs[0]}/accept", json={"lead_worker_sub": "sw1"}, headers=org.tm),
            c.post(f"/v1/referrals/{refs[1]}/accept", json={"lead_worker_sub": "sw1"}, headers=tmb),
        )
        assert sorted(r.status_code for r in rs) == [200, 409], [r.text for r in rs]
        assert next(r for r in rs if r.status_code == 409).json()["rule"] == "caseload_full"
        assert await _open_families(db_engine, "sw1") == 4
        await _close_down_to(org, db_engine, "sw1", 3)


async def test_a_lead_worker_change_and_an_allocation_in_another_team_serialise(
    org: Org, db_engine: Any
) -> None:
    c = org.client
    _, tmb = await _second_team(org)
    for _ in range(3):
        await org.family(lead="sw1")
    for _ in range(4):
        ref_b = await _discussed_referral(org)
        r = await c.post(f"/v1/referrals/{ref_b}/accept", json={"lead_worker_sub": "swb"}, headers=tmb)
        assert r.status_code == 200, r.text
        family_b = r.json()["family_id"]
        ref_a = await _discussed_referral(org)
        rs = await asyncio.gather(
            c.post(f"/v1/referrals/{ref_a}/accept", json={"lead_worker_sub": "sw1"}, headers=org.tm),
            c.put(f"/v1/families/{family_b}/lead-worker", json={"lead_worker_sub": "sw1"}, headers=tmb),
        )
        assert sorted(r.status_code for r in rs) == [200, 409], [r.text for r in rs]
        assert await _open_families(db_engine, "sw1") == 4
        r = await c.post(
            f"/v1/families/{family_b}/close", json={"reason_code": "all_goals_achieved"}, headers=tmb
        )
        assert r.status_code == 200, r.text
        await _close_down_to(org, db_engine, "sw1", 3)


async def test_a_closed_familys_draft_cannot_be_changed_or_completed(org: Org, db_engine: Any) -> None:
    d = await clean(org)
    fam = (await org.client.get(f"/v1/formulations/{d.id}", headers=org.sw1)).json()["family_id"]
    r = await org.client.post(
        f"/v1/families/{fam}/close", json={"reason_code": "family_no_longer_wanted_support"}, headers=org.sw1
    )
    assert r.status_code == 200, r.text
    url = f"/v1/formulations/{d.id}"
    h = {**org.sw1, "If-Match": d.etag}
    steps = {"summary": "s", "overall_goal": {"text": "g", "factor_ids": [d.f["now"]]}, "steps": []}
    attempts = [
        ("POST", f"{url}/factors", {"kind": "protective", "text": "after close"}),
        ("PATCH", f"{url}/factors/{d.f['other']}", {"text": "changed"}),
        ("DELETE", f"{url}/factors/{d.f['other']}", None),
        ("PUT", f"{url}/factors/{d.f['keeps']}/prioritisation", {**ALL_FOUR, "powerful": False}),
        ("PUT", f"{url}/next-steps", steps),
        ("POST", f"{url}/complete", None),
        ("POST", f"{url}/complete", {"override_reason": "closing anyway"}),
        ("POST", f"{url}/reflections", {"way": "with", "note": "n"}),
    ]
    for method, target, body in attempts:
        headers = {**org.tm, "If-Match": d.etag} if body and "override_reason" in body else h
        r = await org.client.request(method, target, json=body, headers=headers)
        assert (r.status_code, r.json()["rule"]) == (409, "family_closed"), (method, target, r.text)
        assert r.json()["field"] == "path.formulation_id"
    got = await org.client.get(url, headers=org.sw1)
    assert (got.json()["status"], got.headers["etag"]) == ("draft", d.etag)
    assert await outbox(db_engine, "formulation.completed") == []


async def test_only_the_latest_completed_version_is_reformulated(org: Org, db_engine: Any) -> None:
    d = await clean(org)
    assert (await d.complete()).status_code == 200
    v1 = d.id
    r = await org.client.post(f"/v1/formulations/{v1}/reformulate", headers=org.sw1)
    assert r.status_code == 201, r.text
    v2 = r.json()["id"]
    got = await org.client.get(f"/v1/formulations/{v2}", headers=org.sw1)
    family = got.json()["family_id"]
    done = await org.client.post(
        f"/v1/formulations/{v2}/complete", headers={**org.sw1, "If-Match": got.headers["etag"]}
    )
    assert done.status_code == 200, done.text
    # Version 1 is now superseded; its ETag moves with its status.
    old = await org.client.get(f"/v1/formulations/{v1}", headers=org.sw1)
    assert old.json()["status"] == "superseded"
    assert old.headers["etag"] != d.etag
    listed = (await org.client.get(f"/v1/families/{family}/formulations", headers=org.sw1)).json()
    assert [(x["version"], x["status"], x["previous_id"]) for x in listed] == [
        (1, "superseded", None),
        (2, "completed", v1),
    ]
    fork = await org.client.post(f"/v1/formulations/{v1}/reformulate", headers=org.sw1)
    assert fork.status_code == 409, fork.text
    body = fork.json()
    assert (body["rule"], body["latest_id"], body["latest_version"]) == ("not_latest_version", v2, 2)
    # A superseded version is still the record of what was agreed: readable and exportable.
    assert (await org.client.get(f"/v1/formulations/{v1}/export", headers=org.sw1)).status_code == 200
    r = await org.client.post(f"/v1/formulations/{v2}/reformulate", headers=org.sw1)
    assert r.status_code == 201 and r.json()["previous_id"] == v2
    events = await outbox(db_engine, "formulation.completed")
    assert [(e["payload"]["version"], e["payload"]["previous_formulation_id"]) for e in events] == [
        (1, None),
        (2, v1),
    ]


async def test_alignment_scores_sent_in_two_phases_keep_both(org: Org) -> None:
    rf = org.auth("rethink_facilitator", "rf1")
    r = await org.client.post(
        "/v1/forums", json={"type": "practice_and_progress", "held_on": "2026-01-10"}, headers=rf
    )
    forum = r.json()["id"]
    url = f"/v1/forums/{forum}/alignment"
    starts = [
        {"participant": "p1", "start": 2},
        {"participant": "p2", "start": 8},
        {"participant": "p3", "start": 5},
    ]
    r = await org.client.put(url, json={"scores": starts}, headers=rf)
    assert r.status_code == 200 and r.json()["participants"] == 0
    ends = [{"participant": "p1", "end": 5}, {"participant": "p2", "end": 6}, {"participant": "p3", "end": 5}]
    r = await org.client.put(url, json={"scores": ends}, headers=rf)
    assert r.status_code == 200, r.text
    assert (r.json()["participants"], r.json()["start"]["range"], r.json()["end"]["range"]) == (3, 6.0, 1.0)
    # An explicit null clears the stored score.
    r = await org.client.put(url, json={"scores": [{"participant": "p3", "end": None}]}, headers=rf)
    assert r.json()["participants"] == 2


async def test_group_supervision_consent_is_checked_on_the_day_of_the_session(org: Org) -> None:
    fam = await org.family()
    held = clock.today() - timedelta(days=10)
    sess = await org.client.post(
        "/v1/supervision-sessions",
        json={"team_id": org.team_id, "kind": "group", "held_on": held.isoformat()},
        headers=org.tm,
    )
    assert sess.status_code == 201, sess.text
    cases = f"/v1/supervision-sessions/{sess.json()['id']}/cases"
    consents = f"/v1/families/{fam}/consents"
    r = await org.client.post(
        consents, json={"scope": "group_supervision", "given_by": "Alex"}, headers=org.sw1
    )
    assert r.status_code == 201
    # Consent given today does not cover a session held ten days ago.
    r = await org.client.post(cases, json={"family_id": fam}, headers=org.tm)
    assert (r.status_code, r.json()["rule"]) == (403, "consent_required")
    today_id = await _only_consent(org, fam)
    assert (await org.client.post(f"{consents}/{today_id}/withdraw", headers=org.sw1)).status_code == 200
    # Consent given before the session and withdrawn since covered the session.
    given = datetime.combine(held - timedelta(days=10), time(12), tzinfo=UTC)
    r = await org.client.post(
        consents,
        json={"scope": "group_supervision", "given_by": "Alex", "given_at": given.isoformat()},
        headers=org.sw1,
    )
    assert r.status_code == 201, r.text
    assert (
        await org.client.post(f"{consents}/{r.json()['id']}/withdraw", headers=org.sw1)
    ).status_code == 200
    r = await org.client.post(cases, json={"family_id": fam}, headers=org.tm)
    assert r.status_code == 201, r.text


async def _only_consent(org: Org, fam: str) -> str:
    listed = (await org.client.get(f"/v1/families/{fam}/consents", headers=org.sw1)).json()
    active = [c for c in listed if c["withdrawn_at"] is None]
    assert len(active) == 1
    return str(active[0]["id"])


async def test_a_second_active_consent_for_the_same_scope_is_refused(org: Org) -> None:
    fam = await org.family()
    url = f"/v1/families/{fam}/consents"
    first = await org.client.post(
        url, json={"scope": "group_supervision", "given_by": "Alex"}, headers=org.sw1
    )
    assert first.status_code == 201
    again = await org.client.post(
        url, json={"scope": "group_supervision", "given_by": "Sam"}, headers=org.sw1
    )
    assert again.status_code == 409, again.text
    assert (again.json()["rule"], again.json()["consent_id"]) == ("consent_already_given", first.json()["id"])
    share = {"scope": "share_formulation_with_agency", "given_by": "Alex"}
    assert (await org.client.post(url, json={**share, "agency": "LCH"}, headers=org.sw1)).status_code == 201
    dup = await org.client.post(url, json={**share, "agency": " lch "}, headers=org.sw1)
    assert (dup.status_code, dup.json()["rule"]) == (409, "consent_already_given")
    assert (
        await org.client.post(url, json={**share, "agency": "School"}, headers=org.sw1)
    ).status_code == 201
    # Withdrawing the one record closes the gate; consent can then be given again.
    assert (await org.client.post(f"{url}/{first.json()['id']}/withdraw", headers=org.sw1)).status_code == 200
    sess = await org.client.post(
        "/v1/supervision-sessions",
        json={"team_id": org.team_id, "kind": "group", "held_on": clock.today().isoformat()},
        headers=org.tm,
    )
    cases = f"/v1/supervision-sessions/{sess.json()['id']}/cases"
    r = await org.client.post(cases, json={"family_id": fam}, headers=org.tm)
    assert (r.status_code, r.json()["rule"]) == (403, "consent_required")
    assert (
        await org.client.post(url, json={"scope": "group_supervision", "given_by": "Alex"}, headers=org.sw1)
    ).status_code == 201


async def test_adding_a_factor_needs_if_match(org: Org) -> None:
    d = await clean(org)
    url = f"/v1/formulations/{d.id}/factors"
    body = {"kind": "protective", "text": "A neighbour helps"}
    missing = await org.client.post(url, json=body, headers=org.sw1)
    assert (missing.status_code, missing.json()["rule"]) == (428, "if_match_required")
    stale = await org.client.post(url, json=body, headers={**org.sw1, "If-Match": '"999"'})
    assert (stale.status_code, stale.json()["rule"]) == (412, "stale_etag")
    ok = await org.client.post(url, json=body, headers={**org.sw1, "If-Match": d.etag})
    assert ok.status_code == 201 and ok.headers["etag"] != d.etag
