"""Supervision sessions, reflections and forums can be read back, scoped to the caller."""

from __future__ import annotations

from tests.formulation.conftest import Org, audit_rows
from tests.formulation.test_api_formulations import clean

OTHER_TEAM = "11111111-1111-1111-1111-111111111111"


async def test_supervision_sessions_and_reflections_read_back_in_team(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    c = org.client
    ids = []
    for kind, day in (("group", "2026-02-02"), ("individual", "2026-02-03")):
        r = await c.post(
            "/v1/supervision-sessions",
            json={"team_id": org.team_id, "kind": kind, "held_on": day},
            headers=org.tm,
        )
        ids.append(r.json()["id"])
    r = await c.post(
        f"/v1/supervision-sessions/{ids[1]}/reflections",
        json={"way": "to", "note": "We set the plan without asking mum"},
        headers=org.sw1,
    )
    assert r.status_code == 201
    page = (await c.get("/v1/supervision-sessions?limit=1", headers=org.sw1)).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = (await c.get(f"/v1/supervision-sessions?cursor={page['next_cursor']}", headers=org.sw1)).json()
    assert {s["id"] for s in page["items"] + rest["items"]} == set(ids)
    only_group = (await c.get("/v1/supervision-sessions?kind=group", headers=org.tm)).json()
    assert [s["id"] for s in only_group["items"]] == [ids[0]]
    one = await c.get(f"/v1/supervision-sessions/{ids[0]}", headers=org.tm)
    assert one.status_code == 200 and one.json()["kind"] == "group"
    refl = await c.get(f"/v1/supervision-sessions/{ids[1]}/reflections", headers=org.tm)
    assert [(x["way"], x["recorded_by"]) for x in refl.json()] == [("to", "sw1")]
    assert len(await audit_rows(db_engine, "read", "reflection")) == 1
    # another team sees none of it
    outsider = org.auth("team_manager", "tmx", teams=[OTHER_TEAM])
    assert (await c.get("/v1/supervision-sessions", headers=outsider)).json()["items"] == []
    for url in (f"/v1/supervision-sessions/{ids[0]}", f"/v1/supervision-sessions/{ids[1]}/reflections"):
        r = await c.get(url, headers=outsider)
        assert r.status_code == 403 and r.json()["rule"] == "team_scope"
    r = await c.get(f"/v1/supervision-sessions?team_id={org.team_id}", headers=outsider)
    assert r.status_code == 403
    r = await c.get("/v1/supervision-sessions", headers=org.auth("analyst", "an1"))
    assert r.status_code == 403


async def test_formulation_reflections_read_back_and_audited(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    d = await clean(org)
    for way in ("with", "for"):
        r = await org.client.post(f"/v1/formulations/{d.id}/reflections", json={"way": way}, headers=org.sw1)
        assert r.status_code == 201
    got = await org.client.get(f"/v1/formulations/{d.id}/reflections", headers=org.tm)
    assert [x["way"] for x in got.json()] == ["with", "for"]
    reads = await audit_rows(db_engine, "read", "formulation")
    assert [(r.actor, r.resource_id) for r in reads] == [("tm1", d.id)]
    outsider = org.auth("practitioner", "px", teams=[OTHER_TEAM])
    r = await org.client.get(f"/v1/formulations/{d.id}/reflections", headers=outsider)
    assert r.status_code == 403 and r.json()["rule"] == "family_scope"


async def test_forum_recorded_by_its_facilitator_and_read_back(org: Org) -> None:
    c = org.client
    # a team manager facilitating a forum records it themselves
    r = await c.post(
        "/v1/forums",
        json={"type": "practice_and_progress", "held_on": "2026-03-01", "cluster_code": org.cluster},
        headers=org.tm,
    )
    assert r.status_code == 201 and r.json()["facilitator_sub"] == "tm1"
    forum = r.json()["id"]
    for sector, n in (("health", 3), ("education", 1)):
        r = await c.post(
            f"/v1/forums/{forum}/attendance", json={"sector": sector, "count": n}, headers=org.tm
        )
        assert r.status_code == 201, r.text
    r = await c.post(
        f"/v1/forums/{forum}/feedback",
        json={"confidence": "very_much", "broadened_perspective": True},
        headers=org.tm,
    )
    assert r.status_code == 201
    r = await c.put(
        f"/v1/forums/{forum}/alignment",
        json={
            "scores": [
                {"participant": "p1", "start": 2, "end": 6},
                {"participant": "p2", "start": 8, "end": 7},
            ]
        },
        headers=org.tm,
    )
    assert r.status_code == 200 and r.json()["converged"] is True
    # someone else cannot record it
    r = await c.post(f"/v1/forums/{forum}/attendance", json={"sector": "police", "count": 1}, headers=org.sw1)
    assert r.status_code == 403 and r.json()["rule"] == "facilitator_only"
    await c.post(
        "/v1/forums",
        json={"type": "hot_house", "held_on": "2026-04-01"},
        headers=org.auth("rethink_facilitator", "rf1"),
    )
    analyst = org.auth("analyst", "an1")
    detail = (await c.get(f"/v1/forums/{forum}", headers=analyst)).json()
    assert detail["attendances"] == 4
    assert detail["attendance_by_sector"]["health"] == {"count": 3, "percent": "75.0"}
    assert detail["feedback"]["broadened_perspective"]["yes_percent"] == "100.0"
    assert (detail["alignment"]["start"]["range"], detail["alignment"]["end"]["range"]) == (6.0, 1.0)
    listed = (await c.get("/v1/forums", headers=analyst)).json()["items"]
    assert {f["type"] for f in listed} == {"practice_and_progress", "hot_house"}
    in_cluster = (await c.get(f"/v1/forums?cluster={org.cluster}", headers=analyst)).json()["items"]
    assert [f["id"] for f in in_cluster] == [forum]
    report = (await c.get(f"/v1/forums/report?cluster={org.cluster}", headers=analyst)).json()
    assert (report["sessions"], report["attendances"]) == (1, 4)
    assert report["attendance_by_sector"]["education"]["percent"] == "25.0"
    r = await c.get("/v1/forums", headers=org.partner)
    assert r.status_code == 403


async def test_teams_are_listed_by_cluster(org: Org) -> None:
    await org.client.put("/v1/clusters/RES-2", json={"name": "Other", "res_start": None}, headers=org.admin)
    r = await org.client.post("/v1/teams", json={"cluster_code": "RES-2", "name": "B"}, headers=org.admin)
    other = r.json()["id"]
    everyone = (await org.client.get("/v1/teams", headers=org.tm)).json()["items"]
    assert {t["id"] for t in everyone} == {org.team_id, other}
    mine = (await org.client.get(f"/v1/teams?cluster={org.cluster}", headers=org.sw1)).json()["items"]
    assert [(t["id"], t["caseload_limits"]) for t in mine] == [
        (org.team_id, {"social_worker": 4, "family_support_worker": 8})
    ]
    assert (await org.client.get("/v1/teams", headers=org.partner)).status_code == 403


async def test_forum_family_link_shown_only_to_those_who_see_the_family(org: Org) -> None:
    family_id = await org.family()
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
    forum = r.json()["id"]
    seen = [org.sw1, org.tm, org.auth("rethink_facilitator", "rf1")]
    unseen = [
        org.auth("analyst", "an1"),
        org.auth("admin", "ad1"),
        org.auth("team_manager", "tmx", teams=[OTHER_TEAM]),
        org.auth("rethink_facilitator", "rf2"),
    ]
    for headers, expected in [(h, family_id) for h in seen] + [(h, None) for h in unseen]:
        detail = (await org.client.get(f"/v1/forums/{forum}", headers=headers)).json()
        listed = (await org.client.get("/v1/forums", headers=headers)).json()["items"]
        assert detail["family_id"] == expected
        assert [f["family_id"] for f in listed] == [expected]
