"""Every rule's gate holds on every route it guards: If-Match, the consent gate, role and team
scoping; and every lifecycle event is applied by the services that consume it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from shared import clock
from tests.formulation.conftest import Org
from tests.formulation.test_api_formulations import ALL_FOUR, Draft, clean

OTHER_TEAM = "11111111-1111-1111-1111-111111111111"


async def test_stale_if_match_is_412_on_every_change_and_changes_nothing(org: Org) -> None:
    d = await clean(org)
    stale = d.etag
    await d.prioritise("other", powerful=False)
    assert d.etag != stale
    h = {**org.sw1, "If-Match": stale}
    url = f"/v1/formulations/{d.id}"
    steps = {
        "summary": "changed",
        "overall_goal": {"text": "changed", "factor_ids": [d.f["now"]]},
        "steps": [],
    }
    attempts = [
        ("POST", f"{url}/factors", {"kind": "presenting", "text": "new"}),
        ("PATCH", f"{url}/factors/{d.f['other']}", {"text": "changed"}),
        ("DELETE", f"{url}/factors/{d.f['other']}", None),
        ("PUT", f"{url}/factors/{d.f['other']}/prioritisation", ALL_FOUR),
        ("PUT", f"{url}/next-steps", steps),
        ("POST", f"{url}/complete", None),
    ]
    for method, target, body in attempts:
        r = await org.client.request(method, target, json=body, headers=h)
        assert r.status_code == 412, (method, target, r.text)
        assert r.json()["rule"] == "stale_etag"
    got = await org.client.get(url, headers=org.sw1)
    assert got.headers["etag"] == d.etag
    body = got.json()
    assert (body["status"], body["summary"], len(body["factors"])) == (
        "draft",
        "School refusal is kept going by morning conflict.",
        4,
    )
    assert (await d.complete()).status_code == 200  # the current tag still works


async def test_withdrawn_consent_closes_the_gate_again(org: Org) -> None:
    d = await clean(org)
    assert (await d.complete()).status_code == 200
    family_id = (await org.client.get(f"/v1/formulations/{d.id}", headers=org.sw1)).json()["family_id"]
    consents = {}
    for scope, agency in (("group_supervision", None), ("share_formulation_with_agency", "LCH")):
        r = await org.client.post(
            f"/v1/families/{family_id}/consents",
            json={"scope": scope, "agency": agency, "given_by": "Alex Example"},
            headers=org.sw1,
        )
        consents[scope] = r.json()["id"]
    sess = await org.client.post(
        "/v1/supervision-sessions",
        json={"team_id": org.team_id, "kind": "group", "held_on": clock.today().isoformat()},
        headers=org.tm,
    )
    cases = f"/v1/supervision-sessions/{sess.json()['id']}/cases"
    export = f"/v1/formulations/{d.id}/export?recipient=agency&agency=LCH"
    assert (await org.client.post(cases, json={"family_id": family_id}, headers=org.tm)).status_code == 201
    assert (await org.client.get(export, headers=org.sw1)).status_code == 200
    for consent_id in consents.values():
        r = await org.client.post(f"/v1/families/{family_id}/consents/{consent_id}/withdraw", headers=org.sw1)
        assert r.status_code == 200 and r.json()["withdrawn_at"]
    r = await org.client.post(cases, json={"family_id": family_id}, headers=org.tm)
    assert r.status_code == 403 and r.json()["consent_scope"] == "group_supervision"
    r = await org.client.get(export, headers=org.sw1)
    assert r.status_code == 403 and r.json()["consent_scope"] == "share_formulation_with_agency"
    listed = (await org.client.get(cases, headers=org.tm)).json()
    assert len(listed) == 1  # the discussion held while consent stood is still on record


async def test_a_group_supervision_formulation_needs_the_familys_consent(org: Org) -> None:
    family_id = await org.family()
    start = f"/v1/families/{family_id}/formulations"
    body = {"context": "group_supervision", "participants": [{"role": "team"}]}

    def refused(r: Any) -> bool:
        return bool(r.status_code == 403 and r.json()["consent_scope"] == "group_supervision")

    async def consent() -> str:
        r = await org.client.post(
            f"/v1/families/{family_id}/consents",
            json={"scope": "group_supervision", "given_by": "Alex Example"},
            headers=org.sw1,
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def withdraw(consent_id: str) -> None:
        r = await org.client.post(f"/v1/families/{family_id}/consents/{consent_id}/withdraw", headers=org.sw1)
        assert r.status_code == 200, r.text

    assert refused(await org.client.post(start, json=body, headers=org.sw1))
    first = await consent()
    r = await org.client.post(start, json=body, headers=org.sw1)
    assert r.status_code == 201, r.text
    d = Draft(org, org.sw1, r.json()["id"], r.headers["etag"])
    await d.factor("now", "presenting", "Charlie is not going to school", driving=True)
    await d.factor("keeps", "perpetuating", "Morning arguments")
    await d.factor("nan", "protective", "Grandmother lives nearby")
    assert (await d.prioritise("keeps")).status_code == 200
    assert (await d.next_steps(["now"], [(["keeps"], ["nan"])])).status_code == 200
    await withdraw(first)
    # A withdrawal stops further work on the draft: every change and the completion.
    url = f"/v1/formulations/{d.id}"
    h = {**org.sw1, "If-Match": d.etag}
    attempts = [
        ("POST", f"{url}/factors", {"kind": "presenting", "text": "new"}),
        ("PATCH", f"{url}/factors/{d.f['keeps']}", {"text": "changed"}),
        ("PUT", f"{url}/factors/{d.f['keeps']}/prioritisation", ALL_FOUR),
        ("POST", f"{url}/complete", None),
        # a reflection on the group's formulation adds to what the group holds about the family
        ("POST", f"{url}/reflections", {"way": "with"}),
    ]
    for method, target, payload in attempts:
        assert refused(await org.client.request(method, target, json=payload, headers=h)), target
    second = await consent()
    assert (await d.complete()).status_code == 200
    await withdraw(second)
    # ...and re-formulating it, which copies the group's formulation into a new draft.
    assert refused(await org.client.post(f"{url}/reformulate", headers=org.sw1))
    await consent()
    assert (await org.client.post(f"{url}/reformulate", headers=org.sw1)).status_code == 201


async def test_formulation_routes_are_scoped_by_role_and_team(org: Org) -> None:
    d = await clean(org)
    assert (await d.complete()).status_code == 200
    url = f"/v1/formulations/{d.id}"
    reads = [url, f"{url}/walk-back", f"{url}/export", f"{url}/reflections"]
    writes: list[tuple[str, str, Any]] = [
        ("POST", f"{url}/reformulate", None),
        ("POST", f"{url}/reflections", {"way": "with"}),
        ("POST", f"{url}/recordings", {"recorded_on": "2026-01-05"}),
    ]
    outsiders = [
        org.auth("practitioner", "px", teams=[OTHER_TEAM]),
        org.auth("team_manager", "tmx", teams=[OTHER_TEAM]),
        org.auth("rethink_facilitator", "rf9"),
    ]
    for headers in outsiders:
        for target in reads:
            r = await org.client.get(target, headers=headers)
            assert r.status_code == 403 and r.json()["rule"] == "family_scope", target
        for method, target, body in writes:
            r = await org.client.request(method, target, json=body, headers=headers)
            assert r.status_code == 403 and r.json()["rule"] == "family_scope", target
    for role in ("analyst", "partner_system", "admin", "scheduler"):
        for target in reads:
            r = await org.client.get(target, headers=org.auth(role, f"{role}-1"))
            assert r.status_code == 403 and r.json()["rule"] == "role_not_allowed", (role, target)
    # the same team's other practitioner and the team manager may
    for headers in (org.practitioner("sw2"), org.tm):
        assert (await org.client.get(f"{url}/walk-back", headers=headers)).status_code == 200


async def _rows(backbone: Any, sql: str, **params: Any) -> list[Any]:
    async with backbone.engines["formulation"].connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def test_every_lifecycle_event_is_applied_by_goals_and_metrics(
    org: Org, backbone: Any, deliver_events: Any
) -> None:
    declined, redirected, academy = await org.referral(), await org.referral(), None
    for ref in (declined, redirected):
        await org.conversation(ref["id"])
    await org.client.post(
        f"/v1/referrals/{declined['id']}/decline", json={"reason_code": "other"}, headers=org.tm
    )
    await org.client.post(
        f"/v1/referrals/{redirected['id']}/redirect", json={"to": "early_help_hub"}, headers=org.tm
    )
    academy = await org.referral(academy_outside_cluster=True)
    assert academy["status"] == "declined"
    escalated = await org.family(lead="sw1")
    closed = await org.family(lead="sw2")
    r = await org.client.post(f"/v1/families/{escalated}/escalate", json={}, headers=org.sw1)
    assert r.status_code == 200
    r = await org.client.post(
        f"/v1/families/{closed}/close",
        json={"reason_code": "support_from_another_service"},
        headers=org.practitioner("sw2"),
    )
    assert r.status_code == 200
    await deliver_events()
    records = await _rows(
        backbone,
        "select type, child_ref, cluster_code from metrics.service_records order by type, child_ref",
    )
    by_type: dict[str, set[str]] = {}
    for kind, child, cluster in records:
        assert cluster == org.cluster
        by_type.setdefault(kind, set()).add(child)
    assert by_type["res_referral_declined"] == {
        f"referral:{declined['id']}",
        f"referral:{redirected['id']}",
        f"referral:{academy['id']}",
    }
    assert by_type["res_case_escalated"] == {escalated}
    assert by_type["res_family_closed"] == {closed}
    assert len(by_type["res_referral_received"]) == 5
    assert by_type["res_referral_accepted"] == {escalated, closed}
    for schema in ("goals", "metrics"):
        rows = await _rows(
            backbone, f"select res_start, co_located from {schema}.clusters where code = :c", c=org.cluster
        )
        assert [(str(a), b) for a, b in rows] == [("2017-01-01", True)], schema
    goals_family = await _rows(
        backbone, "select closed_on from goals.families where id = :id", id=uuid.UUID(closed)
    )
    assert goals_family and goals_family[0][0] is not None
