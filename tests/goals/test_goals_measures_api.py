"""Family measures, published-mode disclosure control, the codes endpoint and the projections."""

import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import text

from services.goals_api import score15
from shared import clock, outbox
from tests.goals.goals_report_data import tables
from tests.goals.helpers import accepted_payload, add_goal, complete_formulations, days_ago, open_plan, score

TEAM = uuid.uuid4()
# As ticked on the form: strengths "very well" (1), difficulties "not at all" (5).
HEALTHY = [1 if n in score15.STRENGTHS_AND_ADAPTABILITY else 5 for n in range(1, 16)]


async def test_codes_endpoint_serves_the_full_table(goals_client, auth):
    r = await goals_client.get("/v1/codes", headers=auth("practitioner"))
    assert r.status_code == 200
    items = {c["code"]: c for c in r.json()["items"]}
    assert len(items) == 21
    assert items["S2"]["priority"].startswith("Ensure the most vulnerable are protected")
    assert items["A5"]["outcome"] == "People will live in healthy, safe and sustainable communities"
    assert (await goals_client.get("/v1/codes")).status_code == 401


async def test_feedback_survey_and_report(goals_client, auth, backbone, deliver_events):
    fb = tables()["family_feedback"]
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    formulations = await complete_formulations(backbone, 20, team_id=TEAM)
    await deliver_events()
    # 19 of 20 felt respected (95%), 18 of 20 would recommend (90%); service ratings 8.3 mean.
    ratings = [(9, 10, 9)] * 6 + [(8, 9, 9)] * 14
    for i, (f, (s, c, u)) in enumerate(zip(formulations, ratings, strict=True)):
        plan = await open_plan(goals_client, worker, f)
        r = await goals_client.post(
            f"/v1/plans/{plan['id']}/feedback",
            json={
                "given_on": clock.today().isoformat(),
                "treated_with_respect": i < 19,
                "would_recommend": i < 18,
                "service_rating": s,
                "communication_rating": c,
                "understanding_rating": u,
            },
            headers=worker,
        )
        assert r.status_code == 201, r.text
    survey = {k: v for k, v in r.json().items() if k not in ("id", "plan_id")}
    dup = await goals_client.post(f"/v1/plans/{plan['id']}/feedback", json=survey, headers=worker)
    assert (dup.status_code, dup.json()["rule"]) == (409, "feedback_exists")
    eleven = await goals_client.post(
        f"/v1/plans/{plan['id']}/feedback", json={**survey, "service_rating": 11}, headers=worker
    )
    assert (eleven.status_code, eleven.json()["field"]) == (422, "body.service_rating")
    report = (await goals_client.get("/v1/reports/feedback", headers=auth("analyst"))).json()
    assert report["responses"] == 20
    assert report["treated_with_respect_pct"] == fb["treated_with_respect_pct"]
    assert report["would_recommend_pct"] == fb["would_recommend_pct"]
    assert Decimal(report["mean_how_well_service_did"]) == Decimal(str(fb["mean_how_well_service_did"]))
    assert Decimal(report["mean_worker_communication"]) == Decimal(str(fb["mean_worker_communication"]))
    published = (
        await goals_client.get(
            "/v1/reports/feedback", params={"disclosure": "published"}, headers=auth("analyst")
        )
    ).json()
    # 1 not respected and 2 not recommending are small numbers: the shares would reveal them.
    assert published["treated_with_respect_pct"] == "c"
    assert published["would_recommend_pct"] == "c"
    assert published["responses"] == 20


async def test_score15_cannot_predate_the_plan(goals_client, auth, backbone, deliver_events):
    (f,) = await complete_formulations(backbone, 1, team_id=TEAM)
    await deliver_events()
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    plan = await open_plan(goals_client, worker, f, opened_on=days_ago(30).isoformat())
    url = f"/v1/plans/{plan['id']}/score15"

    def body(on: str) -> dict:  # type: ignore[type-arg]
        return {"member_ref": "parent-1", "timepoint": "T1", "completed_on": on, "items": HEALTHY}

    for on in ("0001-01-01", days_ago(31).isoformat()):
        r = await goals_client.post(url, json=body(on), headers=worker)
        assert (r.status_code, r.json()["rule"], r.json()["field"]) == (
            422,
            "before_plan_opened",
            "body.completed_on",
        ), on
    assert (await goals_client.get(url, headers=worker)).json() == []
    r = await goals_client.post(url, json=body(days_ago(30).isoformat()), headers=worker)
    assert r.status_code == 201, r.text


async def test_score15_per_member_and_change(goals_client, auth, backbone, deliver_events):
    (f,) = await complete_formulations(backbone, 1, team_id=TEAM)
    await deliver_events()
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    plan = await open_plan(goals_client, worker, f, opened_on=days_ago(100).isoformat())
    url = f"/v1/plans/{plan['id']}/score15"
    # strengths "not well" (4), difficulties "describe us very well" (1)
    struggling = [4 if n in score15.STRENGTHS_AND_ADAPTABILITY else 1 for n in range(1, 16)]
    t1 = await goals_client.post(
        url,
        json={
            "member_ref": "parent-1",
            "timepoint": "T1",
            "completed_on": days_ago(90).isoformat(),
            "items": struggling,
        },
        headers=worker,
    )
    assert t1.status_code == 201, t1.text
    assert Decimal(t1.json()["scores"]["total"]) == Decimal("4.67")  # (5*4 + 10*5) / 15
    t2 = await goals_client.post(
        url,
        json={
            "member_ref": "parent-1",
            "timepoint": "T2",
            "completed_on": days_ago(1).isoformat(),
            "items": HEALTHY,
        },
        headers=worker,
    )
    assert t2.status_code == 201, t2.text
    assert Decimal(t2.json()["change_since_t1"]["total"]) == Decimal("-3.67")
    again = await goals_client.post(
        url,
        json={
            "member_ref": "parent-1",
            "timepoint": "T2",
            "completed_on": days_ago(1).isoformat(),
            "items": HEALTHY,
        },
        headers=worker,
    )
    assert (again.status_code, again.json()["rule"]) == (409, "score15_exists")
    bad = await goals_client.post(
        url,
        json={
            "member_ref": "Jane Smith",
            "timepoint": "T1",
            "completed_on": days_ago(1).isoformat(),
            "items": [6] * 15,
        },
        headers=worker,
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert "body.member_ref" in fields and "body.items.0" in fields
    report = (await goals_client.get("/v1/reports/score15", headers=auth("analyst"))).json()
    assert (report["paired"], report["fewer_difficulties"]) == (1, 1)
    assert Decimal(report["mean_change"]) == Decimal("-3.67")
    published = (
        await goals_client.get(
            "/v1/reports/score15", params={"disclosure": "published"}, headers=auth("analyst")
        )
    ).json()
    assert published["paired"] == "c" and published["mean_change"] == "c"


async def test_published_goal_progress_suppresses_small_numbers(goals_client, auth, backbone, deliver_events):
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    formulations = await complete_formulations(backbone, 4, team_id=TEAM)
    await deliver_events()
    # 10 improved, 2 unchanged, 0 deteriorated, 0 without score
    for k in range(12):
        f = formulations[k // 3]
        if k % 3 == 0:
            plan = await open_plan(goals_client, worker, f)
        goal = await add_goal(goals_client, worker, plan["id"], f, baseline=3)
        await score(goals_client, worker, goal["id"], 6 if k < 10 else 3, clock.today())
    analyst = auth("analyst")
    raw = (await goals_client.get("/v1/reports/goal-progress", headers=analyst)).json()
    assert (raw["improved"], raw["unchanged"], raw["deteriorated"]) == (10, 2, 0)
    assert raw["improved_pct"] == 83
    pub = (
        await goals_client.get(
            "/v1/reports/goal-progress", params={"disclosure": "published"}, headers=analyst
        )
    ).json()
    assert pub["unchanged"] == "c"
    # 12 = 10 + 2 + 0 + 0: with the total published, 10 would give the 2 away, so it goes too.
    assert pub["improved"] == "c"
    assert pub["deteriorated"] == 0 and pub["goals"] == 12
    assert pub["improved_pct"] == "c" and pub["unchanged_pct"] == "c"
    assert pub["filters"]["disclosure"] == "published"
    filtered = await goals_client.get(
        "/v1/reports/goal-progress", params={"cluster": "RES-2"}, headers=analyst
    )
    assert filtered.json()["goals"] == 0
    today = clock.today()
    in_period = await goals_client.get(
        "/v1/reports/goal-progress",
        params={"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()},
        headers=analyst,
    )
    assert in_period.json()["goals"] == 12
    later = await goals_client.get(
        "/v1/reports/goal-progress",
        params={"from": (today + timedelta(days=1)).isoformat()},
        headers=analyst,
    )
    assert later.json()["goals"] == 0
    team = await goals_client.get(
        "/v1/reports/goal-progress", params={"team_id": str(TEAM)}, headers=auth("team_manager", teams=[TEAM])
    )
    assert team.json()["goals"] == 12
    foreign = await goals_client.get(
        "/v1/reports/goal-progress", params={"team_id": str(TEAM)}, headers=auth("team_manager")
    )
    assert (foreign.status_code, foreign.json()["rule"]) == (403, "team_scope")
    bad = await goals_client.get(
        "/v1/reports/goal-progress", params={"from": "2024-02-01", "to": "2024-01-01"}, headers=analyst
    )
    assert (bad.status_code, bad.json()["rule"]) == (422, "period_reversed")


async def test_reads_are_audited_and_events_carry_no_text(goals_client, auth, backbone, deliver_events):
    (f,) = await complete_formulations(backbone, 1, team_id=TEAM)
    await deliver_events()
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    plan = await open_plan(goals_client, worker, f)
    goal = await add_goal(goals_client, worker, plan["id"], f)
    await score(goals_client, worker, goal["id"], 6, clock.today())
    r = await goals_client.get(f"/v1/plans/{plan['id']}", headers=worker)
    assert r.status_code == 200
    assert r.json()["goals"][0]["progress"] == {"progress": "improved", "change": 3, "reliable": True}
    assert r.headers["etag"]
    async with backbone.engines["goals"].connect() as conn:
        reads = await conn.scalar(
            text("select count(*) from goals.audit_log where action = 'read' and resource_id = :id"),
            {"id": plan["id"]},
        )
        scored = (await conn.execute(text("select payload from goals.outbox where type='goal.scored'"))).one()
    assert reads == 1
    assert scored.payload["score"] == 6 and scored.payload["baseline"] == 3
    assert scored.payload["code"] == "E5" and scored.payload["category"] == "education_outcomes"
    assert not any("routine" in str(v) for v in scored.payload.values())


async def test_referral_and_family_closed_events_update_projection(
    goals_client, auth, backbone, deliver_events
):
    (f,) = await complete_formulations(backbone, 1, team_id=TEAM)
    async with backbone.sessionmakers["formulation"]() as session, session.begin():
        await outbox.emit(
            session,
            "family.closed",
            subject_id=f.family_id,
            payload={
                "family_id": f.family_id,
                "cluster_code": "RES-1",
                "reason_code": "closed",
                "closed_on": clock.today(),
            },
        )
    await deliver_events()
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    r = await goals_client.post("/v1/plans", json=f.plan_body(), headers=worker)
    assert (r.status_code, r.json()["rule"]) == (409, "family_closed")
    async with backbone.sessionmakers["formulation"]() as session, session.begin():
        await outbox.emit(
            session,
            "referral.accepted",
            subject_id=f.family_id,
            payload=accepted_payload(f.family_id, TEAM, clock.today()),
        )
    await deliver_events()
    await open_plan(goals_client, worker, f)  # re-referred: the family is open again
