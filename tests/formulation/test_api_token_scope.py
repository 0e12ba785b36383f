"""The token's role and teams decide what a caller gets, also on an Idempotency-Key replay and
whatever case the IdP writes team ids in."""

from __future__ import annotations

import uuid

from tests.formulation.conftest import Org, audit_rows


async def test_a_manager_moved_out_of_the_team_gets_no_replay_of_the_family(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    ref = await org.referral()
    url = f"/v1/referrals/{ref['id']}/conversation"
    body = {"notes": "Talked it through with the school lead."}
    key = {"Idempotency-Key": "conv-" + uuid.uuid4().hex}
    first = await org.client.post(url, json=body, headers={**org.tm, **key})
    assert first.status_code == 200, first.text
    assert first.json()["family_details"]  # the response holds personal data
    # The IdP's next token for the same person no longer carries the team.
    moved = org.auth("team_manager", "tm1", teams=[])
    assert (await org.client.get(f"/v1/referrals/{ref['id']}", headers=moved)).status_code == 403
    replay = await org.client.post(url, json=body, headers={**moved, **key})
    assert replay.status_code == 409 and replay.json()["rule"] == "idempotency_key_in_use"
    assert "family_details" not in replay.json() and "idempotent-replayed" not in replay.headers
    # The same sub with a role the route does not allow at all
    partner = await org.client.post(url, json=body, headers={**org.auth("partner_system", "tm1"), **key})
    assert partner.status_code == 403 and partner.json()["rule"] == "role_not_allowed"
    # The caller it was made for still gets it, and the disclosure is audited.
    again = await org.client.post(url, json=body, headers={**org.tm, **key})
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert [tuple(r) for r in await audit_rows(db_engine, "replay", "referral")] == [("tm1", ref["id"])]


async def test_an_upper_case_team_id_in_the_token_is_the_same_team(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    family = await org.family()
    upper = org.auth("team_manager", "tm1", teams=[org.team_id.upper()])
    listed = await org.client.get("/v1/families", headers=upper)
    assert listed.status_code == 200 and [f["id"] for f in listed.json()["items"]] == [family]
    one = await org.client.get(f"/v1/families/{family}", headers=upper)
    assert one.status_code == 200, one.text
    reads = [tuple(r) for r in await audit_rows(db_engine, "read", "family")]
    assert reads == [("tm1", family), ("tm1", family)]
