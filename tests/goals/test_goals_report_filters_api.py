"""Closures and Table 4 reports by cluster, team and period, raw and `disclosure=published`."""

import uuid

from tests.goals.helpers import add_goal, complete_formulations, days_ago, open_plan, score

TEAM_A, TEAM_B = uuid.uuid4(), uuid.uuid4()


async def _closed_plans(goals_client, auth, backbone, deliver_events, team, cluster, n, closed_ago):
    worker = auth("practitioner", sub=f"w-{cluster}", teams=[team])
    formulations = await complete_formulations(backbone, n, team_id=team, cluster=cluster)
    await deliver_events()
    for f in formulations:
        plan = await open_plan(goals_client, worker, f, opened_on=days_ago(closed_ago + 60).isoformat())
        goal = await add_goal(
            goals_client, worker, plan["id"], f, baseline=2, baseline_on=days_ago(closed_ago + 50).isoformat()
        )
        await score(goals_client, worker, goal["id"], 6, days_ago(closed_ago + 10))
        r = await goals_client.post(
            f"/v1/goals/{goal['id']}/actions",
            json={
                "activity": "relationship_work",
                "description": "d",
                "done_on": days_ago(closed_ago + 20).isoformat(),
            },
            headers=worker,
        )
        assert r.status_code == 201, r.text
        r = await goals_client.post(
            f"/v1/plans/{plan['id']}/close",
            json={"reason": "support_from_another_service", "closed_on": days_ago(closed_ago).isoformat()},
            headers=worker,
        )
        assert r.status_code == 200, r.text


async def test_closures_and_activities_filter_by_cluster_team_and_period(
    goals_client, auth, backbone, deliver_events
):
    await _closed_plans(goals_client, auth, backbone, deliver_events, TEAM_A, "RES-A", 8, closed_ago=5)
    await _closed_plans(goals_client, auth, backbone, deliver_events, TEAM_B, "RES-B", 3, closed_ago=100)
    analyst = auth("analyst")

    async def closures(**params):
        r = await goals_client.get("/v1/reports/closures", params=params, headers=analyst)
        assert r.status_code == 200, r.text
        body = r.json()
        return body["closed_plans"], {row["reason"]: row["count"] for row in body["rows"]}

    assert (await closures())[0] == 11
    assert (await closures(cluster="RES-A"))[0] == 8
    assert (await closures(team_id=str(TEAM_B)))[0] == 3
    assert (await closures(**{"from": days_ago(30).isoformat()}))[0] == 8
    assert (await closures(**{"to": days_ago(30).isoformat()}))[0] == 3
    # Published: 3 is a small number and becomes "c"; 8 stays; every zero stays 0.
    total, rows = await closures(team_id=str(TEAM_B), disclosure="published")
    assert total == "c" and rows["support_from_another_service"] == "c"
    assert rows["all_goals_achieved"] == 0
    total, rows = await closures(cluster="RES-A", disclosure="published")
    assert (total, rows["support_from_another_service"]) == (8, 8)
    assert (
        await goals_client.get(
            "/v1/reports/closures", params={"cluster": "RES-B", "disclosure": "published"}, headers=analyst
        )
    ).json()["average_intervention_months"] == "c"

    async def relationship_work(**params):
        r = await goals_client.get("/v1/reports/activities", params=params, headers=analyst)
        assert r.status_code == 200, r.text
        return {row["activity"]: row for row in r.json()["rows"]}.get("relationship_work")

    assert (await relationship_work())["improved"] == 11
    assert (await relationship_work(cluster="RES-B"))["total"] == 3
    assert (await relationship_work(**{"from": days_ago(60).isoformat()}))["total"] == 8
    assert await relationship_work(**{"from": days_ago(1).isoformat()}) is None
    published = await relationship_work(team_id=str(TEAM_B), disclosure="published")
    assert (published["improved"], published["percent_on_improving_goals"]) == ("c", "c")
    # A team manager of team A cannot ask for team B.
    r = await goals_client.get(
        "/v1/reports/closures", params={"team_id": str(TEAM_B)}, headers=auth("team_manager", teams=[TEAM_A])
    )
    assert (r.status_code, r.json()["rule"]) == (403, "team_scope")


async def test_text_filters_refuse_control_characters(goals_client, auth):
    for path, param in (
        ("/v1/reports/goal-progress", "cluster"),
        ("/v1/reports/closures", "cluster"),
        ("/v1/reports/score15", "cluster"),
        ("/v1/reviews/overdue", "worker_sub"),
    ):
        r = await goals_client.get(
            path, params={param: "a\x00b"}, headers=auth("team_manager", teams=[TEAM_A])
        )
        assert r.status_code == 422, (path, r.text)
        assert r.json()["errors"][0]["field"] == f"query.{param}"
