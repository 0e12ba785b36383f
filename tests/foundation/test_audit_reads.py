"""Reads of resources holding personal data leave audit rows; analysts get no personal data."""

from __future__ import annotations

from sqlalchemy import text


async def test_family_read_is_audited_and_analyst_is_refused(formulation_client, auth, backbone):
    admin = auth("admin")
    assert (
        await formulation_client.put(
            "/v1/clusters/RES-1", json={"name": "2gether", "res_start": None}, headers=admin
        )
    ).status_code == 201
    team = (
        await formulation_client.post("/v1/teams", json={"cluster_code": "RES-1", "name": "T"}, headers=admin)
    ).json()
    tm = auth("team_manager", "tm-1", teams=[team["id"]])
    for sub, role in (("sw-1", "social_worker"), ("tm-1", "team_manager")):
        r = await formulation_client.post(
            f"/v1/teams/{team['id']}/members",
            headers=tm,
            json={"sub": sub, "name": "Worker", "role": role, "fte": "1.0"},
        )
        assert r.status_code == 201, r.text
    ref = (
        await formulation_client.post(
            "/v1/referrals",
            headers=auth("partner_system", "school-1"),
            json={
                "cluster_code": "RES-1",
                "source_code": "2A",
                "referring_organisation": "School",
                "support_type": "early_help",
                "reason": "Attendance",
                "family": {
                    "reference_name": "F",
                    "members": [{"kind": "child", "name": "C", "birth_year": 2014}],
                },
            },
        )
    ).json()
    await formulation_client.post(
        f"/v1/referrals/{ref['id']}/conversation", headers=tm, json={"notes": "Spoke to the school."}
    )
    family_id = (
        await formulation_client.post(
            f"/v1/referrals/{ref['id']}/accept", headers=tm, json={"lead_worker_sub": "sw-1"}
        )
    ).json()["family_id"]
    sw = auth("practitioner", "sw-1", teams=[team["id"]])
    assert (await formulation_client.get(f"/v1/families/{family_id}", headers=sw)).status_code == 200
    analyst = await formulation_client.get(f"/v1/families/{family_id}", headers=auth("analyst"))
    assert analyst.status_code == 403
    async with backbone.engines["formulation"].connect() as conn:
        reads = (
            await conn.execute(
                text(
                    "select actor, role from formulation.audit_log "
                    "where action = 'read' and resource_type = 'family' and resource_id = :id"
                ),
                {"id": family_id},
            )
        ).all()
    assert [tuple(r) for r in reads] == [("sw-1", "practitioner")]
