"""Role and team scoping, the consent gate, export, family structure, closure and escalation."""

from __future__ import annotations

from shared import clock
from tests.formulation.conftest import Org, audit_rows, outbox
from tests.formulation.test_api_formulations import clean

OTHER_TEAM = "11111111-1111-1111-1111-111111111111"


async def test_family_scoping_by_role_and_team(org: Org) -> None:
    family_id = await org.family(lead="sw1")
    url = f"/v1/families/{family_id}"
    allowed = [
        org.sw1,
        org.auth("practitioner", "sw1"),  # the lead worker, even without the team claim
        org.practitioner("sw2"),  # same team
        org.tm,
    ]
    for headers in allowed:
        assert (await org.client.get(url, headers=headers)).status_code == 200
    denied_scope = [
        org.auth("practitioner", "px", teams=[OTHER_TEAM]),
        org.auth("team_manager", "tmx", teams=[OTHER_TEAM]),
        org.auth("rethink_facilitator", "rf1"),
    ]
    for headers in denied_scope:
        r = await org.client.get(url, headers=headers)
        assert r.status_code == 403 and r.json()["rule"] == "family_scope"
    for role in ("analyst", "partner_system", "admin"):
        r = await org.client.get(url, headers=org.auth(role, f"{role}-1"))
        assert r.status_code == 403 and r.json()["rule"] == "role_not_allowed"


async def test_facilitator_sees_families_in_their_sessions(org: Org) -> None:
    family_id = await org.family()
    rf = org.auth("rethink_facilitator", "rf1")
    assert (await org.client.get(f"/v1/families/{family_id}", headers=rf)).status_code == 403
    # a facilitator cannot attach a family they cannot see...
    r = await org.client.post(
        "/v1/forums",
        json={"type": "rethink_space", "held_on": "2026-02-01", "family_id": family_id},
        headers=rf,
    )
    assert r.status_code == 403
    # ...the lead worker books the session with the facilitator
    r = await org.client.post(
        "/v1/forums",
        json={
            "type": "rethink_space",
            "held_on": "2026-02-01",
            "family_id": family_id,
            "facilitator_sub": "rf1",
        },
        headers=org.sw1,
    )
    assert r.status_code == 201, r.text
    assert (await org.client.get(f"/v1/families/{family_id}", headers=rf)).status_code == 200


async def test_family_reads_are_audited(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    family_id = await org.family()
    await org.client.get(f"/v1/families/{family_id}", headers=org.tm)
    rows = await audit_rows(db_engine, "read", "family")
    assert [(r.actor, r.resource_id) for r in rows] == [("tm1", family_id)]


async def test_export_to_agency_needs_consent_and_is_audited(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    d = await clean(org)
    draft_export = await org.client.get(f"/v1/formulations/{d.id}/export", headers=org.sw1)
    assert draft_export.status_code == 409
    assert (await d.complete()).status_code == 200
    family_id = (await org.client.get(f"/v1/formulations/{d.id}", headers=org.sw1)).json()["family_id"]
    url = f"/v1/formulations/{d.id}/export?recipient=agency&agency=Leeds%20Community%20Health"
    r = await org.client.get(url, headers=org.sw1)
    assert r.status_code == 403
    assert (r.json()["rule"], r.json()["consent_scope"]) == (
        "consent_required",
        "share_formulation_with_agency",
    )
    consent = await org.client.post(
        f"/v1/families/{family_id}/consents",
        json={
            "scope": "share_formulation_with_agency",
            "agency": "Leeds Community Health",
            "given_by": "Alex Example",
        },
        headers=org.sw1,
    )
    assert consent.status_code == 201, consent.text
    r = await org.client.get(url, headers=org.sw1)
    assert r.status_code == 200
    doc = r.json()
    assert doc["recipient"] == {"type": "agency", "agency": "Leeds Community Health"}
    assert [f["text"] for f in doc["formulation"]["factors"]["perpetuating"] if f["priority"]] == [
        "Morning arguments"
    ]
    assert doc["next_steps"]["steps"][0]["builds_on"] == ["Grandmother lives nearby"]
    other = await org.client.get(
        f"/v1/formulations/{d.id}/export?recipient=agency&agency=Police", headers=org.sw1
    )
    assert other.status_code == 403  # consent is per agency
    withdrawn = await org.client.post(
        f"/v1/families/{family_id}/consents/{consent.json()['id']}/withdraw", headers=org.sw1
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["withdrawn_at"]
    assert (await org.client.get(url, headers=org.sw1)).status_code == 403
    exports = await audit_rows(db_engine, "export", "formulation")
    assert [(r.actor, r.resource_id) for r in exports] == [("sw1", d.id)]


async def test_printable_html_export_escapes_text(org: Org) -> None:
    d = await clean(org)
    await d.factor("x", "predictive", "<script>alert(1)</script>")
    assert (await d.complete()).status_code == 200
    r = await org.client.get(f"/v1/formulations/{d.id}/export?format=html", headers=org.sw1)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    # nothing in the page may run or load, even if a value slipped past escaping; never cached
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert (r.headers["cache-control"], r.headers["x-content-type-options"]) == ("no-store", "nosniff")
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;" in r.text
    assert "Morning arguments" in r.text and "Rethink Formulation" in r.text


async def test_group_supervision_needs_family_consent(org: Org) -> None:
    family_id = await org.family()
    sess = await org.client.post(
        "/v1/supervision-sessions",
        json={"team_id": org.team_id, "kind": "group", "held_on": clock.today().isoformat()},
        headers=org.tm,
    )
    assert sess.status_code == 201, sess.text
    case = {
        "family_id": family_id,
        "rationale": "Morning routine work first",
        "likely_to_achieve_goal": True,
        "decision": "continue",
        "follow_up_actions": ["Check attendance with school"],
    }
    url = f"/v1/supervision-sessions/{sess.json()['id']}/cases"
    r = await org.client.post(url, json=case, headers=org.tm)
    assert r.status_code == 403 and r.json()["rule"] == "consent_required"
    bad = await org.client.post(
        f"/v1/families/{family_id}/consents",
        json={"scope": "share_formulation_with_agency", "given_by": "Alex"},
        headers=org.sw1,
    )
    assert bad.status_code == 422 and bad.json()["rule"] == "agency_required"
    await org.client.post(
        f"/v1/families/{family_id}/consents",
        json={"scope": "group_supervision", "given_by": "Alex Example"},
        headers=org.sw1,
    )
    r = await org.client.post(url, json=case, headers=org.tm)
    assert r.status_code == 201, r.text
    assert r.json()["likely_to_achieve_goal"] is True
    # individual supervision needs no group consent
    ind = await org.client.post(
        "/v1/supervision-sessions",
        json={"team_id": org.team_id, "kind": "individual", "held_on": "2026-02-03"},
        headers=org.tm,
    )
    other_family = await org.family(lead="sw2")
    r = await org.client.post(
        f"/v1/supervision-sessions/{ind.json()['id']}/cases",
        json={"family_id": other_family},
        headers=org.tm,
    )
    assert r.status_code == 201
    refl = await org.client.post(
        f"/v1/supervision-sessions/{ind.json()['id']}/reflections",
        json={"way": "for", "note": "We were doing the school run for mum"},
        headers=org.tm,
    )
    assert refl.status_code == 201 and refl.json()["way"] == "for"


async def test_genogram_close_and_escalate(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    family_id = await org.family()
    fam = (await org.client.get(f"/v1/families/{family_id}", headers=org.sw1)).json()
    ids = {m["name"]: m["id"] for m in fam["members"]}
    r = await org.client.post(
        f"/v1/families/{family_id}/relationships",
        json={
            "from_member_id": ids["Alex Example"],
            "to_member_id": ids["Charlie Example"],
            "type": "parent_of",
        },
        headers=org.sw1,
    )
    assert r.status_code == 201, r.text
    bad = await org.client.post(
        f"/v1/families/{family_id}/relationships",
        json={
            "from_member_id": ids["Alex Example"],
            "to_member_id": ids["Alex Example"],
            "type": "sibling_of",
        },
        headers=org.sw1,
    )
    assert bad.status_code == 422 and bad.json()["rule"] == "self_relationship"
    fam = (await org.client.get(f"/v1/families/{family_id}", headers=org.sw1)).json()
    assert fam["relationships"][0]["type"] == "parent_of"
    r = await org.client.post(f"/v1/families/{family_id}/escalate", json={}, headers=org.sw1)
    assert r.status_code == 200 and r.json()["escalated_on"]
    r = await org.client.post(
        f"/v1/families/{family_id}/close",
        json={"reason_code": "escalated_to_area_social_work"},
        headers=org.sw1,
    )
    assert r.status_code == 200 and r.json()["status"] == "closed"
    again = await org.client.post(
        f"/v1/families/{family_id}/close",
        json={"reason_code": "all_goals_achieved"},
        headers=org.sw1,
    )
    assert again.status_code == 409 and again.json()["rule"] == "family_closed"
    types = [e["type"] for e in await outbox(db_engine)]
    assert types[-2:] == ["case.escalated", "family.closed"]
    # the closed family frees the worker's caseload place
    loads = (await org.client.get(f"/v1/teams/{org.team_id}/caseloads", headers=org.tm)).json()
    assert {c["sub"]: c["open_families"] for c in loads}["sw1"] == 0


async def test_family_etag_changes_with_its_members_and_relationships(org: Org) -> None:
    family_id = await org.family()
    url = f"/v1/families/{family_id}"
    first = await org.client.get(url, headers=org.sw1)
    assert len(first.json()["members"]) == 2
    r = await org.client.post(
        f"{url}/members", json={"kind": "child", "name": "New Kid", "birth_year": 2020}, headers=org.sw1
    )
    assert r.status_code == 201, r.text
    second = await org.client.get(url, headers=org.sw1)
    assert len(second.json()["members"]) == 3
    assert second.headers["etag"] != first.headers["etag"]
    ids = [m["id"] for m in second.json()["members"]]
    r = await org.client.post(
        f"{url}/relationships",
        json={"from_member_id": ids[0], "to_member_id": ids[1], "type": "sibling_of"},
        headers=org.sw1,
    )
    assert r.status_code == 201, r.text
    third = await org.client.get(url, headers=org.sw1)
    assert len(third.json()["relationships"]) == 1
    assert third.headers["etag"] not in {first.headers["etag"], second.headers["etag"]}
    # A change made on the old ETag is refused: the family changed since it was read.
    stale = await org.client.put(
        f"{url}/lead-worker",
        json={"lead_worker_sub": "sw2"},
        headers={**org.tm, "If-Match": second.headers["etag"]},
    )
    assert stale.status_code == 412 and stale.json()["current_etag"] == third.headers["etag"]
    # A refused change changes nothing, the ETag included.
    bad = await org.client.post(
        f"{url}/relationships",
        json={"from_member_id": ids[0], "to_member_id": ids[0], "type": "sibling_of"},
        headers=org.sw1,
    )
    assert bad.status_code == 422
    assert (await org.client.get(url, headers=org.sw1)).headers["etag"] == third.headers["etag"]


async def test_family_list_is_scoped_and_audited(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    mine = await org.family(lead="sw1")
    theirs = await org.family(lead="fsw1")
    lead_only = org.auth("practitioner", "sw1")  # no team claim: only families they lead
    r = await org.client.get("/v1/families", headers=lead_only)
    assert r.status_code == 200
    assert [f["id"] for f in r.json()["items"]] == [mine]
    r = await org.client.get("/v1/families?limit=1", headers=org.tm)
    page1 = r.json()
    assert len(page1["items"]) == 1 and page1["next_cursor"]
    r = await org.client.get(f"/v1/families?limit=1&cursor={page1['next_cursor']}", headers=org.tm)
    assert {page1["items"][0]["id"], r.json()["items"][0]["id"]} == {mine, theirs}
    stranger = org.auth("team_manager", "tmx", teams=[OTHER_TEAM])
    assert (await org.client.get("/v1/families", headers=stranger)).json()["items"] == []
    reads = await audit_rows(db_engine, "read", "family")
    assert [r.actor for r in reads] == ["sw1", "tm1", "tm1"]


async def test_referral_list_partner_sees_own_status_only(org: Org) -> None:
    await org.referral()
    other_partner = org.auth("partner_system", "gp-system")
    r = await org.client.post(
        "/v1/referrals",
        json={
            "cluster_code": org.cluster,
            "source_code": "3A",
            "referring_organisation": "Surgery",
            "support_type": "child_in_need",
            "reason": "r",
            "family": {"reference_name": "Other family"},
        },
        headers=other_partner,
    )
    assert r.status_code == 201
    own = (await org.client.get("/v1/referrals", headers=org.partner)).json()["items"]
    assert len(own) == 1 and "reason" not in own[0] and "family_details" not in own[0]
    staff = (await org.client.get("/v1/referrals?status=received", headers=org.tm)).json()
    assert len(staff["items"]) == 2
    stranger = org.auth("team_manager", "tmx", teams=[OTHER_TEAM])
    assert (await org.client.get("/v1/referrals", headers=stranger)).json()["items"] == []
