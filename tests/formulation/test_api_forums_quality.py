"""Forums (attendance, feedback, Practice and Progress alignment) and practice-quality ratings."""

from __future__ import annotations

from tests.formulation.conftest import Org, audit_rows
from tests.formulation.test_api_formulations import clean

SKILLS = ("collaboration", "empathy", "purposefulness", "clarity_of_issues", "child_focus")


async def test_practice_and_progress_alignment(org: Org) -> None:
    rf = org.auth("rethink_facilitator", "rf1")
    r = await org.client.post(
        "/v1/forums", json={"type": "practice_and_progress", "held_on": "2026-01-10"}, headers=rf
    )
    assert r.status_code == 201, r.text
    forum = r.json()["id"]
    scores = [
        {"participant": "p1", "start": 2, "end": 5},
        {"participant": "p2", "start": 8, "end": 6},
        {"participant": "p3", "start": 5, "end": 5},
        {"participant": "p4", "start": 7},
    ]
    r = await org.client.put(f"/v1/forums/{forum}/alignment", json={"scores": scores}, headers=rf)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["participants"] == 3
    assert out["start"]["range"] == 6.0 and out["end"]["range"] == 1.0
    assert out["converged"] is True
    analyst = org.auth("analyst", "an1")
    got = await org.client.get(f"/v1/forums/{forum}/alignment", headers=analyst)
    assert got.json() == out
    other = org.auth("rethink_facilitator", "rf2")
    r = await org.client.put(f"/v1/forums/{forum}/alignment", json={"scores": scores}, headers=other)
    assert r.status_code == 403


async def test_alignment_only_for_practice_and_progress(org: Org) -> None:
    rf = org.auth("rethink_facilitator", "rf1")
    forum = (
        await org.client.post(
            "/v1/forums", json={"type": "rethink_forum", "held_on": "2026-01-10"}, headers=rf
        )
    ).json()["id"]
    r = await org.client.put(
        f"/v1/forums/{forum}/alignment",
        json={"scores": [{"participant": "p1", "start": 1, "end": 2}]},
        headers=rf,
    )
    assert r.status_code == 422 and r.json()["rule"] == "alignment_only_practice_and_progress"


async def test_forum_report_attendance_and_feedback(org: Org) -> None:
    rf = org.auth("rethink_facilitator", "rf1")
    forum = (
        await org.client.post(
            "/v1/forums",
            json={"type": "combined_rethink_next_steps", "held_on": "2026-01-12"},
            headers=rf,
        )
    ).json()["id"]
    for sector, count in (
        ("social_work", 4),
        ("cluster_services", 3),
        ("health", 1),
        ("voluntary_community", 2),
    ):
        r = await org.client.post(
            f"/v1/forums/{forum}/attendance", json={"sector": sector, "count": count}, headers=rf
        )
        assert r.status_code == 201
    for understanding, networking in (
        ("very_much", True),
        ("quite_a_bit", True),
        ("not_at_all", False),
    ):
        r = await org.client.post(
            f"/v1/forums/{forum}/feedback",
            json={
                "improved_understanding": understanding,
                "confidence": "very_much",
                "broadened_perspective": True,
                "multi_agency_networking": networking,
            },
            headers=rf,
        )
        assert r.status_code == 201
    r = await org.client.get("/v1/forums/report?from=2026-01-01", headers=org.auth("analyst", "an1"))
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["sessions"] == 1 and rep["attendances"] == 10
    assert rep["attendance_by_sector"]["social_work"] == {"count": 4, "percent": "40.0"}
    assert rep["feedback"]["improved_understanding"]["any_improvement_percent"] == "66.7"
    assert rep["feedback"]["multi_agency_networking"]["yes_percent"] == "66.7"
    later = await org.client.get("/v1/forums/report?from=2026-02-01", headers=org.auth("analyst", "an1"))
    assert later.json()["sessions"] == 0


async def test_practice_quality_two_coders_and_report(org: Org) -> None:
    d = await clean(org)
    r = await org.client.post(
        f"/v1/formulations/{d.id}/recordings", json={"recorded_on": "2026-01-05"}, headers=org.sw1
    )
    assert r.status_code == 201, r.text
    rec = r.json()["id"]
    a = [4, 3, 4, 4, 5]
    b = [3, 3, 4, 3, 2]
    for coder, scores in (("coder-a", a), ("coder-b", b)):
        r = await org.client.put(
            f"/v1/recordings/{rec}/ratings",
            json={"scores": dict(zip(SKILLS, scores, strict=True))},
            headers=org.auth("analyst", coder),
        )
        assert r.status_code == 200, r.text
    third = await org.client.put(
        f"/v1/recordings/{rec}/ratings",
        json={"scores": dict(zip(SKILLS, a, strict=True))},
        headers=org.auth("analyst", "coder-c"),
    )
    assert third.status_code == 409 and third.json()["rule"] == "two_coders_only"
    partial = await org.client.put(
        f"/v1/recordings/{rec}/ratings",
        json={"scores": {"empathy": 3}},
        headers=org.auth("analyst", "coder-a"),
    )
    assert partial.status_code == 422 and partial.json()["rule"] == "all_five_skills"
    out_of_range = await org.client.put(
        f"/v1/recordings/{rec}/ratings",
        json={"scores": dict(zip(SKILLS, [6, 3, 3, 3, 3], strict=True))},
        headers=org.auth("analyst", "coder-a"),
    )
    assert out_of_range.status_code == 422 and out_of_range.json()["rule"] == "score_1_to_5"
    rep = (await org.client.get("/v1/practice-quality/report", headers=org.auth("analyst", "x"))).json()
    assert rep["recordings"] == 1
    assert rep["skills"]["collaboration"]["mean"] == "3.50"
    assert rep["skills"]["child_focus"]["above_baseline"] is True
    assert rep["skills"]["child_focus"]["difference_from_baseline"] == "1.00"
    assert rep["individual_scores"][rec]["empathy"] == "3.00"
    assert rep["agreement"]["pairs"] == 5
    assert rep["agreement"]["exact_percent"] == "40.00"
    assert rep["agreement"]["within_one_percent"] == "80.00"


async def test_forum_family_links_are_audited_as_family_reads(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
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
    assert r.status_code == 201, r.text
    forum = r.json()["id"]
    plain = await org.client.post(
        "/v1/forums", json={"type": "rethink_space", "held_on": "2026-02-02"}, headers=org.sw1
    )
    assert plain.status_code == 201
    rf = org.auth("rethink_facilitator", "rf1")
    analyst = org.auth("analyst", "an1")
    listed = (await org.client.get("/v1/forums", headers=org.sw1)).json()["items"]
    assert {i["family_id"] for i in listed} == {family_id, None}
    assert (await org.client.get(f"/v1/forums/{forum}", headers=rf)).json()["family_id"] == family_id
    # those who may not see the family get no link, and no read is recorded for them
    assert (await org.client.get(f"/v1/forums/{forum}", headers=analyst)).json()["family_id"] is None
    assert {
        i["family_id"] for i in (await org.client.get("/v1/forums", headers=analyst)).json()["items"]
    } == {None}
    reads = await audit_rows(db_engine, "read", "family")
    assert [(row.actor, row.resource_id) for row in reads] == [("sw1", family_id), ("rf1", family_id)]
