"""Forums (attendance, feedback, Practice and Progress alignment) and practice-quality ratings."""

from __future__ import annotations

import json
import random
import uuid
from decimal import Decimal

from sqlalchemy import text

from services.formulation_api.practice_quality.router import PracticeReport as PracticeReportOut
from services.formulation_api.practice_quality.stats import (
    Rating,
    Skill,
    agreement,
    recording_scores,
    skill_summary,
)
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
    reversed_window = await org.client.get(
        "/v1/forums/report?from=2026-02-01&to=2026-01-01", headers=org.auth("analyst", "an1")
    )
    assert reversed_window.status_code == 422
    assert (reversed_window.json()["field"], reversed_window.json()["rule"]) == (
        "query.to",
        "period_reversed",
    )


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


async def test_forum_report_counts_more_sessions_than_a_query_can_list(
    org: Org,
    db_engine,  # type: ignore[no-untyped-def]
) -> None:
    # More sessions than asyncpg's 32,767 query arguments: the report must not list their ids.
    n = 33_000
    async with db_engine.begin() as conn:
        await conn.execute(
            text(
                "insert into formulation.forum_sessions (id, type, held_on, facilitator_sub) "
                "select gen_random_uuid(), "
                "case when i % 3 = 0 then 'rethink_space' else 'rethink_forum' end, "
                "date '2026-01-01' + (i % 60), 'rf1' from generate_series(1, :n) i"
            ),
            {"n": n},
        )
        await conn.execute(
            text(
                "insert into formulation.forum_attendances (id, session_id, sector, count) "
                "select gen_random_uuid(), id, 'social_work', 2 from formulation.forum_sessions"
            )
        )
        await conn.execute(
            text(
                "insert into formulation.forum_attendances (id, session_id, sector, count) "
                "select gen_random_uuid(), id, 'health', 1 from formulation.forum_sessions "
                "where type = 'rethink_space'"
            )
        )
        await conn.execute(
            text(
                "insert into formulation.forum_feedback (id, session_id, improved_understanding, "
                "confidence, broadened_perspective, multi_agency_networking) "
                "select gen_random_uuid(), id, case when type = 'rethink_space' then 'not_at_all' "
                "else 'very_much' end, null, true, type = 'rethink_forum' from formulation.forum_sessions"
            )
        )
    analyst = org.auth("analyst", "an1")
    r = await org.client.get("/v1/forums/report", headers=analyst)
    assert r.status_code == 200, r.text
    rep = r.json()
    spaces = n // 3
    assert rep["sessions"] == n
    assert rep["sessions_by_type"] == {"rethink_forum": n - spaces, "rethink_space": spaces}
    assert rep["attendances"] == 2 * n + spaces
    assert rep["attendance_by_sector"] == {
        "health": {"count": spaces, "percent": "14.3"},
        "social_work": {"count": 2 * n, "percent": "85.7"},
    }
    fb = rep["feedback"]
    assert fb["responses"] == n
    assert fb["improved_understanding"]["answered"] == n
    assert fb["improved_understanding"]["percent"]["not_at_all"] == "33.3"
    assert fb["improved_understanding"]["any_improvement_percent"] == "66.7"
    assert fb["confidence"] == {
        "answered": 0,
        "percent": {"not_at_all": None, "a_little": None, "quite_a_bit": None, "very_much": None},
        "any_improvement_percent": None,
    }
    assert fb["broadened_perspective"] == {"answered": n, "yes_percent": "100.0"}
    assert fb["multi_agency_networking"] == {"answered": n, "yes_percent": "66.7"}
    # the filters still apply
    spaces_only = await org.client.get("/v1/forums/report?type=rethink_space&to=2026-01-30", headers=analyst)
    assert spaces_only.status_code == 200, spaces_only.text
    got = spaces_only.json()
    assert got["sessions_by_type"] == {"rethink_space": got["sessions"]}
    assert got["sessions"] == 5500  # i % 3 = 0 and i % 60 < 30
    assert got["attendances"] == 3 * 5500


async def _rated_recording(
    org: Org, formulation_id: str, recorded_on: str, a: list[int], b: list[int]
) -> str:
    r = await org.client.post(
        f"/v1/formulations/{formulation_id}/recordings", json={"recorded_on": recorded_on}, headers=org.sw1
    )
    assert r.status_code == 201, r.text
    rec: str = r.json()["id"]
    for coder, scores in (("coder-a", a), ("coder-b", b)):
        r = await org.client.put(
            f"/v1/recordings/{rec}/ratings",
            json={"scores": dict(zip(SKILLS, scores, strict=True))},
            headers=org.auth("analyst", coder),
        )
        assert r.status_code == 200, r.text
    return rec


async def test_practice_quality_report_window_and_pages(org: Org) -> None:
    d = await clean(org)
    jan = await _rated_recording(org, d.id, "2026-01-05", [4, 3, 4, 4, 5], [3, 3, 4, 3, 2])
    feb = await _rated_recording(org, d.id, "2026-02-05", [2, 2, 2, 2, 2], [2, 2, 2, 2, 2])
    mar = await _rated_recording(org, d.id, "2026-03-05", [1, 5, 1, 5, 1], [5, 1, 5, 1, 5])
    an = org.auth("analyst", "x")

    r = await org.client.get("/v1/practice-quality/report?from=2026-02-01&to=2026-02-28", headers=an)
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["recordings"] == 1 and list(rep["individual_scores"]) == [feb]
    assert rep["skills"]["empathy"]["mean"] == "2.00"
    assert rep["agreement"]["pairs"] == 5 and rep["agreement"]["exact_percent"] == "100.00"
    assert rep["next_cursor"] is None
    since = (await org.client.get("/v1/practice-quality/report?from=2026-02-01", headers=an)).json()
    assert since["recordings"] == 2 and set(since["individual_scores"]) == {feb, mar}
    assert since["skills"]["collaboration"]["mean"] == "2.50"

    # individual scores come a page at a time, oldest recording first; the figures are the whole window's
    first = (await org.client.get("/v1/practice-quality/report?limit=2", headers=an)).json()
    assert first["recordings"] == 3
    assert list(first["individual_scores"]) == [jan, feb]
    assert first["individual_scores"][jan]["child_focus"] == "3.50"
    assert first["next_cursor"]
    rest = (
        await org.client.get(f"/v1/practice-quality/report?limit=2&cursor={first['next_cursor']}", headers=an)
    ).json()
    assert list(rest["individual_scores"]) == [mar] and rest["next_cursor"] is None
    assert rest["skills"] == first["skills"] and rest["agreement"] == first["agreement"]
    assert first["agreement"]["pairs"] == 15

    reversed_window = await org.client.get(
        "/v1/practice-quality/report?from=2026-03-01&to=2026-02-01", headers=an
    )
    assert reversed_window.status_code == 422
    assert (reversed_window.json()["rule"], reversed_window.json()["field"]) == (
        "period_reversed",
        "query.to",
    )
    bad = await org.client.get("/v1/practice-quality/report?cursor=nope", headers=an)
    assert bad.status_code == 422 and bad.json()["rule"] == "cursor_invalid"


async def test_practice_quality_report_matches_the_rating_by_rating_figures(
    org: Org,
    db_engine,  # type: ignore[no-untyped-def]
) -> None:
    # The report aggregates in SQL; its figures must be those of the pure functions over the ratings,
    # coder order included (upper case sorts before lower case by code point).
    d = await clean(org)
    rng = random.Random(7)
    coders = ["Zed", "alice", "_bo", "b-2", "Éva"]
    ratings: list[Rating] = []
    async with db_engine.begin() as conn:
        for i in range(60):
            rec = uuid.uuid4()
            await conn.execute(
                text(
                    "insert into formulation.recordings (id, formulation_id, recorded_on) "
                    "values (:id, :f, date '2026-01-01' + cast(:i as integer))"
                ),
                {"id": rec, "f": d.id, "i": i},
            )
            for coder in rng.sample(coders, rng.choice((1, 2, 2, 2))):
                for skill in Skill:
                    ratings.append(Rating(rec, coder, skill, rng.randint(1, 5)))
        await conn.execute(
            text(
                "insert into formulation.skill_ratings (id, recording_id, coder_sub, skill, score) "
                "values (gen_random_uuid(), :r, :c, :s, :v)"
            ),
            [{"r": r.recording_id, "c": r.coder, "s": r.skill.value, "v": r.score} for r in ratings],
        )
    r = await org.client.get("/v1/practice-quality/report?limit=500", headers=org.auth("analyst", "x"))
    assert r.status_code == 200, r.text
    rep = r.json()
    expected = PracticeReportOut(
        recordings=60,
        baseline=Decimal("2.5"),
        skills=skill_summary(ratings),
        individual_scores={str(k): v for k, v in recording_scores(ratings).items()},
        next_cursor=None,
        agreement=agreement(ratings),
    )
    assert rep == json.loads(expected.model_dump_json())
    assert rep["agreement"]["weighted_kappa"] is not None
