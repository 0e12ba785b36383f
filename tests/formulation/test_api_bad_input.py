"""Bad input is a 4xx problem document naming field and rule, never a 500 and never half-written."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import text

from shared import clock
from tests.formulation.conftest import Org
from tests.formulation.test_api_formulations import clean, start

# Wrong types, huge numbers, NUL characters, impossible and future dates, empty containers.
BAD: list[Any] = ["\x00nul", 10**20, -(10**20), [], {}, None, "9999-12-31", True, 1.5, "2026-13-45"]


def mutations(body: Any) -> Iterator[tuple[str, Any]]:
    """Every field (nested too) replaced by each bad value in turn."""
    if isinstance(body, dict):
        for k, v in body.items():
            for b in BAD:
                m = copy.deepcopy(body)
                m[k] = b
                yield f"{k}={b!r:.20}", m
            for path, sub in mutations(v):
                m = copy.deepcopy(body)
                m[k] = sub
                yield f"{k}.{path}", m
    elif isinstance(body, list) and body:
        for path, sub in mutations(body[0]):
            m = copy.deepcopy(body)
            m[0] = sub
            yield f"[0].{path}", m


def is_problem(r: httpx.Response) -> bool:
    return r.headers["content-type"].startswith("application/problem+json") and "rule" in r.json()


async def test_no_input_gives_a_server_error(org: Org) -> None:
    c = org.client
    d = await clean(org)
    fam = (await c.get(f"/v1/formulations/{d.id}", headers=org.sw1)).json()["family_id"]
    members = (await c.get(f"/v1/families/{fam}", headers=org.sw1)).json()["members"]
    sup = await c.post(
        "/v1/supervision-sessions",
        json={"team_id": org.team_id, "kind": "individual", "held_on": "2026-01-01"},
        headers=org.tm,
    )
    rf = org.auth("rethink_facilitator", "rf1")
    forum = await c.post(
        "/v1/forums",
        json={"type": "practice_and_progress", "held_on": "2026-01-01", "facilitator_sub": "rf1"},
        headers=rf,
    )
    rec = await c.post(
        f"/v1/formulations/{d.id}/recordings", json={"recorded_on": "2026-01-01"}, headers=org.sw1
    )
    ref = await org.referral()
    fresh = await org.referral()
    await org.conversation(ref["id"])
    sup_id, forum_id, rec_id = sup.json()["id"], forum.json()["id"], rec.json()["id"]
    any_tag = {"If-Match": "*"}
    cases: list[tuple[str, str, dict[str, str], Any]] = [
        (
            "PUT",
            "/v1/clusters/RES-9",
            org.admin,
            {"name": "n", "res_start": "2017-01-01", "co_located": True},
        ),
        (
            "POST",
            "/v1/teams",
            org.admin,
            {"cluster_code": "RES-1", "name": "t", "caseload_limits": {"social_worker": 4}},
        ),
        (
            "POST",
            f"/v1/teams/{org.team_id}/members",
            org.tm,
            {"sub": "zz", "name": "n", "role": "social_worker", "fte": "0.5"},
        ),
        (
            "POST",
            "/v1/referrals",
            org.partner,
            {
                "cluster_code": "RES-1",
                "source_code": "2A",
                "route": "early_help_hub",
                "referring_organisation": "o",
                "support_type": "early_help",
                "reason": "r",
                "academy_outside_cluster": False,
                "received_on": "2026-01-01",
                "family": {
                    "reference_name": "f",
                    "members": [{"kind": "adult", "name": "a", "contact": "c"}],
                },
            },
        ),
        (
            "POST",
            f"/v1/referrals/{fresh['id']}/conversation",
            org.tm,
            {"notes": "n", "held_on": "2026-11-01"},
        ),
        ("POST", f"/v1/referrals/{ref['id']}/decline", org.tm, {"reason_code": "other", "note": "n"}),
        ("POST", f"/v1/referrals/{ref['id']}/redirect", org.tm, {"to": "other", "note": "n"}),
        ("POST", f"/v1/referrals/{ref['id']}/accept", org.tm, {"lead_worker_sub": "sw2"}),
        ("PUT", f"/v1/families/{fam}/lead-worker", {**org.tm, **any_tag}, {"lead_worker_sub": "sw2"}),
        ("POST", f"/v1/families/{fam}/members", org.sw1, {"kind": "child", "name": "n", "birth_year": 2015}),
        (
            "POST",
            f"/v1/families/{fam}/relationships",
            org.sw1,
            {"from_member_id": members[0]["id"], "to_member_id": members[1]["id"], "type": "parent_of"},
        ),
        (
            "POST",
            f"/v1/families/{fam}/consents",
            org.sw1,
            {
                "scope": "share_formulation_with_agency",
                "agency": "a",
                "given_by": "g",
                "given_at": "2026-01-01T10:00:00Z",
            },
        ),
        (
            "POST",
            f"/v1/families/{fam}/close",
            org.sw1,
            {"reason_code": "all_goals_achieved", "closed_on": "2026-11-20"},
        ),
        (
            "POST",
            f"/v1/formulations/{d.id}/factors",
            {**org.sw1, **any_tag},
            {"kind": "presenting", "text": "t", "driving": True},
        ),
        (
            "PUT",
            f"/v1/formulations/{d.id}/factors/{d.f['other']}/prioritisation",
            {**org.sw1, **any_tag},
            {"prerequisite": True, "powerful": True, "proximal": True, "participant_goal": True},
        ),
        ("PATCH", f"/v1/formulations/{d.id}/factors/{d.f['other']}", {**org.sw1, **any_tag}, {"text": "t"}),
        (
            "PUT",
            f"/v1/formulations/{d.id}/next-steps",
            {**org.sw1, **any_tag},
            {
                "summary": "s",
                "overall_goal": {"text": "g", "factor_ids": [d.f["now"]]},
                "steps": [
                    {
                        "text": "s",
                        "addresses_factor_ids": [d.f["keeps"]],
                        "builds_on_factor_ids": [d.f["nan"]],
                    }
                ],
            },
        ),
        ("POST", f"/v1/formulations/{d.id}/reflections", org.sw1, {"way": "with", "note": "n"}),
        ("POST", f"/v1/formulations/{d.id}/complete", {**org.tm, **any_tag}, {"override_reason": "r"}),
        (
            "POST",
            "/v1/supervision-sessions",
            org.tm,
            {"team_id": org.team_id, "kind": "group", "held_on": "2026-01-01"},
        ),
        (
            "POST",
            f"/v1/supervision-sessions/{sup_id}/cases",
            org.tm,
            {"family_id": fam, "rationale": "r", "decision": "d", "follow_up_actions": ["a"]},
        ),
        ("POST", f"/v1/supervision-sessions/{sup_id}/reflections", org.tm, {"way": "with", "note": "n"}),
        (
            "POST",
            "/v1/forums",
            rf,
            {"type": "rethink_forum", "held_on": "2026-01-01", "cluster_code": "RES-1"},
        ),
        ("POST", f"/v1/forums/{forum_id}/attendance", rf, {"sector": "health", "count": 3}),
        (
            "POST",
            f"/v1/forums/{forum_id}/feedback",
            rf,
            {"confidence": "very_much", "broadened_perspective": True},
        ),
        (
            "PUT",
            f"/v1/forums/{forum_id}/alignment",
            rf,
            {"scores": [{"participant": "p1", "start": 3, "end": 5}]},
        ),
        ("POST", f"/v1/formulations/{d.id}/recordings", org.sw1, {"recorded_on": "2026-01-01"}),
        (
            "PUT",
            f"/v1/recordings/{rec_id}/ratings",
            org.auth("analyst", "an1"),
            {
                "scores": {
                    "collaboration": 3,
                    "empathy": 3,
                    "purposefulness": 3,
                    "clarity_of_issues": 3,
                    "child_focus": 3,
                }
            },
        ),
    ]
    failures = []
    tried = 0
    for method, url, headers, body in cases:
        whole = [("whole=list", [body]), ("whole=str", "x"), ("whole=int", 10**30)]
        for name, m in whole + list(mutations(body)):
            r = await c.request(method, url, json=m, headers=headers)
            tried += 1
            if (
                r.status_code >= 500
                or (r.status_code >= 400 and not is_problem(r))
                or (name.startswith("whole") and r.status_code < 400)
            ):
                failures.append((method, url, name, r.status_code))
    assert tried > 500
    assert failures == []


async def test_nul_characters_are_refused_naming_the_field(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    body = {
        "cluster_code": org.cluster,
        "source_code": "2A",
        "referring_organisation": "Park Primary",
        "support_type": "early_help",
        "reason": "fine",
        "family": {"reference_name": "The Example family", "members": [{"kind": "adult", "name": "A\x00"}]},
    }
    r = await org.client.post("/v1/referrals", json=body, headers=org.partner)
    assert r.status_code == 422
    assert (r.json()["rule"], r.json()["field"]) == ("no_nul_character", "body.family.members.0.name")
    d = await clean(org)
    r = await org.client.post(
        f"/v1/formulations/{d.id}/factors",
        json={"kind": "protective", "text": "Nan\x00"},
        headers={**org.sw1, "If-Match": d.etag},
    )
    assert (r.status_code, r.json()["field"]) == (422, "body.text")
    async with db_engine.connect() as conn:
        referrals = await conn.scalar(text("select count(*) from formulation.referrals"))
    assert referrals == 1  # only clean()'s own referral was written


async def test_dates_in_the_future_are_refused(org: Org) -> None:
    family_id = await org.family()
    later = (clock.today() + timedelta(days=3)).isoformat()
    checks = [
        ("/v1/supervision-sessions", {"team_id": org.team_id, "kind": "group", "held_on": later}, org.tm),
        ("/v1/forums", {"type": "rethink_forum", "held_on": later}, org.auth("rethink_facilitator", "rf1")),
        (
            f"/v1/families/{family_id}/close",
            {"reason_code": "all_goals_achieved", "closed_on": later},
            org.sw1,
        ),
        (f"/v1/families/{family_id}/escalate", {"escalated_on": later}, org.sw1),
        (
            f"/v1/families/{family_id}/consents",
            {"scope": "group_supervision", "given_by": "Alex", "given_at": f"{later}T09:00:00Z"},
            org.sw1,
        ),
    ]
    for url, body, headers in checks:
        r = await org.client.post(url, json=body, headers=headers)
        assert r.status_code == 422, (url, r.text)
        assert r.json()["rule"] == "date_in_future", url
    ref = await org.referral()
    r = await org.client.post(
        f"/v1/referrals/{ref['id']}/conversation", json={"notes": "n", "held_on": later}, headers=org.tm
    )
    assert (r.status_code, r.json()["field"]) == (422, "body.held_on")
    early = await org.client.post(
        "/v1/referrals/" + ref["id"] + "/conversation",
        json={"notes": "n", "held_on": "0001-01-01"},
        headers=org.tm,
    )
    assert early.status_code == 422 and early.json()["rule"] == "date_too_early"
    naive = await org.client.post(
        f"/v1/families/{family_id}/consents",
        json={"scope": "group_supervision", "given_by": "Alex", "given_at": "2026-01-01T09:00:00"},
        headers=org.sw1,
    )
    assert naive.status_code == 422 and naive.json()["rule"] == "timezone_required"


async def test_lifecycle_dates_keep_their_order(org: Org) -> None:
    ref = await org.referral(received_on="2026-03-10")
    r = await org.client.post(
        f"/v1/referrals/{ref['id']}/conversation",
        json={"notes": "n", "held_on": "2026-03-09"},
        headers=org.tm,
    )
    assert r.status_code == 422 and (r.json()["rule"], r.json()["field"]) == (
        "before_received",
        "body.held_on",
    )
    r = await org.client.post(
        f"/v1/referrals/{ref['id']}/conversation",
        json={"notes": "n", "held_on": "2026-03-12"},
        headers=org.tm,
    )
    assert r.status_code == 200
    r = await org.client.post(
        f"/v1/referrals/{ref['id']}/accept",
        json={"lead_worker_sub": "sw1", "accepted_on": "2026-03-11"},
        headers=org.tm,
    )
    assert r.status_code == 422 and r.json()["rule"] == "before_discussed"
    r = await org.client.post(
        f"/v1/referrals/{ref['id']}/accept",
        json={"lead_worker_sub": "sw1", "accepted_on": "2026-03-13"},
        headers=org.tm,
    )
    assert r.status_code == 200, r.text
    family_id = r.json()["family_id"]
    r = await org.client.post(
        f"/v1/families/{family_id}/close",
        json={"reason_code": "all_goals_achieved", "closed_on": "2026-03-01"},
        headers=org.sw1,
    )
    assert r.status_code == 422 and r.json()["rule"] == "before_opened"
    fam = (await org.client.get(f"/v1/families/{family_id}", headers=org.sw1)).json()
    assert (fam["status"], fam["opened_on"]) == ("open", "2026-03-13")


async def test_decline_needs_the_conversation_first(org: Org) -> None:
    ref = await org.referral()
    r = await org.client.post(
        f"/v1/referrals/{ref['id']}/decline", json={"reason_code": "other"}, headers=org.tm
    )
    assert r.status_code == 409 and r.json()["rule"] == "conversation_required"
    await org.conversation(ref["id"])
    r = await org.client.post(
        f"/v1/referrals/{ref['id']}/decline", json={"reason_code": "other"}, headers=org.tm
    )
    assert r.status_code == 200 and r.json()["status"] == "declined"


async def test_true_and_whole_floats_are_not_integers(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    """JSON true is not a count or a score (bool is an int in Python), nor is 2.0 (strict ints)."""
    c = org.client
    rf = org.auth("rethink_facilitator", "rf1")
    forum = await c.post(
        "/v1/forums", json={"type": "practice_and_progress", "held_on": "2026-01-01"}, headers=rf
    )
    forum_id = forum.json()["id"]
    d = await clean(org)
    fam = (await c.get(f"/v1/formulations/{d.id}", headers=org.sw1)).json()["family_id"]
    rec = await c.post(
        f"/v1/formulations/{d.id}/recordings", json={"recorded_on": "2026-01-01"}, headers=org.sw1
    )
    rec_id = rec.json()["id"]
    scores = {"collaboration": 3, "empathy": 3, "purposefulness": 3, "clarity_of_issues": 3, "child_focus": 3}
    before = await _table_counts(db_engine)
    for bad in (True, 2.0):
        cases: list[tuple[str, str, dict[str, str], Any, str]] = [
            (
                "POST",
                f"/v1/forums/{forum_id}/attendance",
                rf,
                {"sector": "health", "count": bad},
                "body.count",
            ),
            (
                "PUT",
                f"/v1/forums/{forum_id}/alignment",
                rf,
                {"scores": [{"participant": "p1", "start": bad, "end": 6}]},
                "body.scores.0.start",
            ),
            (
                "PUT",
                f"/v1/forums/{forum_id}/alignment",
                rf,
                {"scores": [{"participant": "p1", "start": 3, "end": bad}]},
                "body.scores.0.end",
            ),
            (
                "PUT",
                f"/v1/recordings/{rec_id}/ratings",
                org.auth("analyst", "an1"),
                {"scores": {**scores, "empathy": bad}},
                "body.scores.empathy",
            ),
            (
                "POST",
                "/v1/teams",
                org.admin,
                {"cluster_code": org.cluster, "name": "t", "caseload_limits": {"social_worker": bad}},
                "body.caseload_limits.social_worker",
            ),
            (
                "PUT",
                f"/v1/teams/{org.team_id}/caseload-limits",
                org.tm,
                {"caseload_limits": {"social_worker": 4, "family_support_worker": bad}},
                "body.caseload_limits.family_support_worker",
            ),
            (
                "POST",
                f"/v1/families/{fam}/members",
                org.sw1,
                {"kind": "child", "name": "n", "birth_year": 2015.0 if bad == 2.0 else bad},
                "body.birth_year",
            ),
        ]
        for method, url, headers, body, field in cases:
            r = await c.request(method, url, json=body, headers=headers)
            assert r.status_code == 422, (method, url, bad, r.text)
            assert r.json()["field"] == field, (method, url, bad, r.json())
    assert await _table_counts(db_engine) == before


async def _table_counts(db_engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    tables = ("forum_attendances", "alignment_scores", "skill_ratings", "teams", "family_members")
    async with db_engine.connect() as conn:
        return {t: int(await conn.scalar(text(f"select count(*) from formulation.{t}")) or 0) for t in tables}


async def test_rule_problems_name_where_the_input_lives(org: Org) -> None:
    """A business rule's problem names its input as validation does: body.x, path.x or query.x."""
    c = org.client
    rf = org.auth("rethink_facilitator", "rf1")
    d = await clean(org)
    fid = d.id
    fam = (await c.get(f"/v1/formulations/{fid}", headers=org.sw1)).json()["family_id"]
    members = [m["id"] for m in (await c.get(f"/v1/families/{fam}", headers=org.sw1)).json()["members"]]
    missing = "11111111-1111-1111-1111-111111111111"
    forum = await c.post("/v1/forums", json={"type": "rethink_forum", "held_on": "2026-01-01"}, headers=rf)
    pp = await c.post(
        "/v1/forums", json={"type": "practice_and_progress", "held_on": "2026-01-01"}, headers=rf
    )
    rec = await c.post(
        f"/v1/formulations/{fid}/recordings", json={"recorded_on": "2026-01-01"}, headers=org.sw1
    )
    group = await c.post(
        "/v1/supervision-sessions",
        json={"team_id": org.team_id, "kind": "group", "held_on": "2026-01-01"},
        headers=org.tm,
    )
    scores = {"collaboration": 3, "empathy": 3, "purposefulness": 3, "clarity_of_issues": 3, "child_focus": 3}
    referral = {
        "cluster_code": org.cluster,
        "source_code": "2A",
        "referring_organisation": "o",
        "support_type": "early_help",
        "reason": "r",
        "family": {"reference_name": "F"},
    }
    tag = {"If-Match": d.etag}
    cases: list[tuple[str, str, dict[str, str], Any, int, str, str]] = [
        (
            "POST",
            "/v1/teams",
            org.admin,
            {"cluster_code": "NOPE", "name": "t"},
            422,
            "unknown_cluster",
            "body.cluster_code",
        ),
        (
            "POST",
            "/v1/referrals",
            org.partner,
            {**referral, "cluster_code": "NOPE"},
            422,
            "unknown_cluster",
            "body.cluster_code",
        ),
        (
            "POST",
            "/v1/referrals",
            org.partner,
            {**referral, "source_code": None},
            422,
            "source_required",
            "body.source_code",
        ),
        (
            "POST",
            "/v1/referrals",
            org.partner,
            {**referral, "family": None},
            422,
            "family_required",
            "body.family",
        ),
        (
            "POST",
            "/v1/referrals",
            org.partner,
            {**referral, "family": None, "existing_family_id": fam},
            422,
            "existing_family_staff_only",
            "body.existing_family_id",
        ),
        (
            "POST",
            "/v1/forums",
            rf,
            {"type": "rethink_forum", "held_on": "2026-01-01", "cluster_code": "NOPE"},
            422,
            "unknown_cluster",
            "body.cluster_code",
        ),
        (
            "POST",
            "/v1/forums",
            rf,
            {"type": "rethink_forum", "held_on": "2026-01-01", "facilitator_sub": "rf9"},
            422,
            "facilitator_is_caller",
            "body.facilitator_sub",
        ),
        (
            "PUT",
            f"/v1/forums/{forum.json()['id']}/alignment",
            rf,
            {"scores": [{"participant": "p1"}]},
            422,
            "alignment_only_practice_and_progress",
            "path.forum_id",
        ),
        (
            "PUT",
            f"/v1/forums/{pp.json()['id']}/alignment",
            rf,
            {"scores": [{"participant": "p1"}, {"participant": "p1"}]},
            422,
            "participant_repeated",
            "body.scores",
        ),
        (
            "PUT",
            f"/v1/recordings/{rec.json()['id']}/ratings",
            org.auth("analyst", "an1"),
            {"scores": {"empathy": 3}},
            422,
            "all_five_skills",
            "body.scores",
        ),
        (
            "PUT",
            f"/v1/recordings/{rec.json()['id']}/ratings",
            org.auth("analyst", "an1"),
            {"scores": {**scores, "empathy": 6}},
            422,
            "score_1_to_5",
            "body.scores.empathy",
        ),
        (
            "POST",
            f"/v1/families/{fam}/relationships",
            org.sw1,
            {"from_member_id": missing, "to_member_id": members[0], "type": "parent_of"},
            422,
            "not_a_family_member",
            "body.from_member_id",
        ),
        (
            "POST",
            f"/v1/families/{fam}/relationships",
            org.sw1,
            {"from_member_id": members[0], "to_member_id": missing, "type": "parent_of"},
            422,
            "not_a_family_member",
            "body.to_member_id",
        ),
        (
            "POST",
            f"/v1/families/{fam}/relationships",
            org.sw1,
            {"from_member_id": members[0], "to_member_id": members[0], "type": "parent_of"},
            422,
            "self_relationship",
            "body.to_member_id",
        ),
        (
            "POST",
            f"/v1/families/{fam}/consents",
            org.sw1,
            {"scope": "share_formulation_with_agency", "given_by": "g"},
            422,
            "agency_required",
            "body.agency",
        ),
        (
            "POST",
            f"/v1/families/{fam}/consents",
            org.sw1,
            {"scope": "group_supervision", "agency": "a", "given_by": "g"},
            422,
            "agency_not_applicable",
            "body.agency",
        ),
        (
            "POST",
            f"/v1/families/{fam}/close",
            org.sw1,
            {"reason_code": "all_goals_achieved", "closed_on": "2001-01-01"},
            422,
            "before_opened",
            "body.closed_on",
        ),
        (
            "POST",
            f"/v1/families/{fam}/escalate",
            org.sw1,
            {"escalated_on": "2001-01-01"},
            422,
            "before_opened",
            "body.escalated_on",
        ),
        (
            "PUT",
            f"/v1/formulations/{fid}/factors/{d.f['nan']}/prioritisation",
            {**org.sw1, **tag},
            {"prerequisite": True, "powerful": True, "proximal": True, "participant_goal": True},
            422,
            "prioritisation_only_for_perpetuating",
            "path.factor_id",
        ),
        (
            "POST",
            f"/v1/families/{fam}/formulations",
            org.sw1,
            {"context": "group_supervision"},
            403,
            "consent_required",
            "path.family_id",
        ),
        (
            "POST",
            f"/v1/supervision-sessions/{group.json()['id']}/cases",
            org.tm,
            {"family_id": fam, "rationale": "r", "decision": "d"},
            403,
            "consent_required",
            "body.family_id",
        ),
        (
            "PUT",
            f"/v1/families/{fam}/lead-worker",
            org.tm,
            {"lead_worker_sub": "tm1"},
            422,
            "not_a_lead_worker_in_team",
            "body.lead_worker_sub",
        ),
    ]
    for method, url, headers, body, status, rule, field in cases:
        r = await c.request(method, url, json=body, headers=headers)
        assert (r.status_code, r.json().get("rule"), r.json().get("field")) == (status, rule, field), (
            url,
            r.text,
        )
    # The walk-back refusal concerns the override reason in the body.
    d2 = await start(org, org.tm, family_id=await org.family(lead="sw2"))
    await d2.factor("now", "presenting")
    r = await d2.complete(org.sw1, override_reason="family wants to start now")
    assert (r.status_code, r.json()["rule"], r.json()["field"]) == (
        409,
        "override_requires_team_manager",
        "body.override_reason",
    )
    # The export's agency is a query parameter.
    assert (await d.complete()).status_code == 200
    r = await c.get(
        f"/v1/formulations/{fid}/export", params={"recipient": "agency", "agency": "Police"}, headers=org.sw1
    )
    assert (r.status_code, r.json()["rule"], r.json()["field"]) == (403, "consent_required", "query.agency")
    # A referral decided already: its state, named by the referral in the path.
    ref = await org.referral()
    r = await c.post(f"/v1/referrals/{ref['id']}/accept", json={"lead_worker_sub": "sw1"}, headers=org.tm)
    assert (r.status_code, r.json()["field"]) == (409, "path.referral_id"), r.text
    r = await c.post(
        f"/v1/referrals/{ref['id']}/conversation",
        json={"notes": "n", "held_on": "2001-01-01"},
        headers=org.tm,
    )
    assert r.status_code == 422 and r.json()["field"] == "body.held_on", r.text
    # A closed family refuses changes: the family in the path.
    r = await c.post(f"/v1/families/{fam}/close", json={"reason_code": "all_goals_achieved"}, headers=org.sw1)
    assert r.status_code == 200
    r = await c.post(f"/v1/families/{fam}/escalate", json={}, headers=org.sw1)
    assert (r.status_code, r.json()["rule"], r.json()["field"]) == (409, "family_closed", "path.family_id")
