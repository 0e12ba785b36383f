"""Must-show: the report's outcome figures come back from the live API.

Goals, scores, actions and closures are built through the HTTP API from the report's printed
counts (shared/data/evaluation_tables.json); the expected figures are read from the same file.
"""

import uuid
from decimal import Decimal
from itertools import product

from services.goals_api.reports.aggregate import DAYS_PER_MONTH, percent
from tests.goals.goals_report_data import activity_code, smallest_counts, table_4, tables
from tests.goals.helpers import (
    SUSTAINABILITY_PLAN,
    add_goal,
    complete_formulations,
    days_ago,
    open_plan,
    score,
)

TEAM = uuid.uuid4()
PROGRESS_COLUMNS = ("deteriorated", "unchanged", "improved", "no_score")
# (baseline, latest score or None) giving each progress state
SCORES = {"improved": (2, 7), "unchanged": (5, 5), "deteriorated": (6, 3), "no_score": (4, None)}


async def test_table_4_through_the_api(goals_client, auth, backbone, deliver_events):
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    formulations = await complete_formulations(backbone, 2, team_id=TEAM)
    await deliver_events()
    plans = [
        await open_plan(goals_client, worker, f, opened_on=days_ago(60).isoformat()) for f in formulations
    ]
    goal_ids = {}
    for i, progress in enumerate(PROGRESS_COLUMNS):
        f, plan = formulations[i % 2], plans[i % 2]
        baseline, latest = SCORES[progress]
        goal = await add_goal(
            goals_client,
            worker,
            plan["id"],
            f,
            baseline=baseline,
            baseline_on=days_ago(50).isoformat(),
        )
        if latest is not None:
            await score(goals_client, worker, goal["id"], latest, days_ago(10))
        goal_ids[progress] = goal["id"]

    for row in table_4():
        activity = activity_code(row["activity"]).value
        for progress in PROGRESS_COLUMNS:
            remaining = row[progress]
            while remaining:
                n = min(remaining, 500)
                batch = [
                    {
                        "activity": activity,
                        "description": "Session with mum",
                        "done_on": days_ago(20).isoformat(),
                    }
                ] * n
                r = await goals_client.post(
                    f"/v1/goals/{goal_ids[progress]}/actions/batch",
                    json={"actions": batch},
                    headers=worker,
                )
                assert r.status_code == 201, r.text
                assert r.json()["created"] == n
                remaining -= n

    analyst = auth("analyst")
    r = await goals_client.get("/v1/reports/activities", headers=analyst)
    assert r.status_code == 200, r.text
    got = {row["activity"]: row for row in r.json()["rows"]}
    for printed in table_4():
        row = got[activity_code(printed["activity"]).value]
        assert row["label"] == printed["activity"]
        for column in (*PROGRESS_COLUMNS, "total", "percent_on_improving_goals"):
            assert row[column] == printed[column], (printed["activity"], column)
    assert [row["percent_on_improving_goals"] for row in r.json()["rows"]] == [78, 90, 79, 79]
    assert r.json()["totals"]["total"] == sum(p["total"] for p in table_4())

    # Every cell of Table 4 is above 5, so the published table is identical.
    published = await goals_client.get(
        "/v1/reports/activities", params={"disclosure": "published"}, headers=analyst
    )
    assert published.json()["rows"] == r.json()["rows"]

    # A team manager of another team sees an empty table; of this team, the same table.
    other = await goals_client.get(
        "/v1/reports/activities", headers=auth("team_manager", teams=[uuid.uuid4()])
    )
    assert other.json()["rows"] == []
    mine = await goals_client.get("/v1/reports/activities", headers=auth("team_manager", teams=[TEAM]))
    assert mine.json()["rows"] == r.json()["rows"]


def _category_mix():
    """Smallest goals per category reproducing the report's four category figures and, with
    a few goals in other categories, the overall 84% / 10% / 6% split."""
    g = tables()["goal_outcomes"]
    wanted = {
        "child_safeguarding": g["categories"]["safeguarding"][1],
        "engagement_alignment": g["categories"]["alignment_engagement_with_services"][1],
        "education_outcomes": g["categories"]["education_outcomes"][1],
        "adult_behaviour": g["categories"]["adult_behaviour"][1],
    }
    options = {
        c: [(n, i) for n in range(1, 25) for i in range(n + 1) if percent(i, n) == pct][:3]
        for c, pct in wanted.items()
    }
    shares = (g["goals_improved_pct"], g["goals_unchanged_pct"], g["goals_deteriorated_pct"])
    for combo in product(*options.values()):
        n, improved = sum(c[0] for c in combo), sum(c[1] for c in combo)
        for extra in range(0, 10):  # improved goals in other categories
            total, imp = n + extra, improved + extra
            rest = total - imp
            for unchanged in range(rest + 1):
                split = (
                    percent(imp, total),
                    percent(unchanged, total),
                    percent(rest - unchanged, total),
                )
                if split == shares:
                    return dict(zip(wanted, combo, strict=True)), extra, unchanged, rest - unchanged
    raise AssertionError("no mix found")


async def test_goal_outcome_shares_and_categories(goals_client, auth, backbone, deliver_events):
    mix, extra, unchanged, deteriorated = _category_mix()
    # One list of (category, progress) per goal, non-improved spread over categories.
    goals = []
    pending = ["unchanged"] * unchanged + ["deteriorated"] * deteriorated
    for category, (n, improved) in mix.items():
        goals += [(category, "improved")] * improved
        goals += [(category, pending.pop()) for _ in range(n - improved)]
    goals += [("fun_growing_up", "improved")] * extra
    assert not pending
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    formulations = await complete_formulations(backbone, (len(goals) + 2) // 3, team_id=TEAM)
    await deliver_events()
    over_three_months = 0
    for k, (category, progress) in enumerate(goals):
        f = formulations[k // 3]
        if k % 3 == 0:
            plan = await open_plan(goals_client, worker, f, opened_on=days_ago(200).isoformat())
        long_running = k % 4 == 0
        over_three_months += long_running
        baseline, latest = SCORES[progress]
        goal = await add_goal(
            goals_client,
            worker,
            plan["id"],
            f,
            category=category,
            baseline=baseline,
            baseline_on=days_ago(120 if long_running else 30).isoformat(),
        )
        await score(goals_client, worker, goal["id"], latest, days_ago(5))
    r = await goals_client.get("/v1/reports/goal-progress", headers=auth("analyst"))
    assert r.status_code == 200, r.text
    body = r.json()
    g = tables()["goal_outcomes"]
    assert body["goals"] == len(goals)
    assert (body["improved_pct"], body["unchanged_pct"], body["deteriorated_pct"]) == (
        g["goals_improved_pct"],
        g["goals_unchanged_pct"],
        g["goals_deteriorated_pct"],
    )
    by_cat = {c["category"]: c for c in body["by_category"]}
    printed = {
        "child_safeguarding": "safeguarding",
        "engagement_alignment": "alignment_engagement_with_services",
        "education_outcomes": "education_outcomes",
        "adult_behaviour": "adult_behaviour",
    }
    for category, key in printed.items():
        assert by_cat[category]["percent_improved"] == g["categories"][key][1], category
        assert by_cat[category]["n"] == mix[category][0]
    assert body["goals_worked_on_over_three_months"] == over_three_months
    # 2 -> 7 is a reliable improvement (5 points), 6 -> 3 a reliable deterioration (3 points).
    assert body["improved_reliably"] == sum(1 for _, p in goals if p == "improved")
    assert body["deteriorated_reliably"] == deteriorated


async def test_closure_reason_shares_and_average_length(goals_client, auth, backbone, deliver_events):
    g = tables()["goal_outcomes"]
    counts = smallest_counts(g["closure_reasons_pct"])
    length_days = int((Decimal(str(g["average_intervention_months"])) * DAYS_PER_MONTH).to_integral_value())
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    formulations = await complete_formulations(backbone, sum(counts.values()), team_id=TEAM)
    await deliver_events()
    it = iter(formulations)
    for reason, n in counts.items():
        for _ in range(n):
            f = next(it)
            plan = await open_plan(goals_client, worker, f, opened_on=days_ago(300).isoformat())
            body = {"reason": reason, "closed_on": days_ago(300 - length_days).isoformat()}
            if reason == "all_goals_achieved":
                body["sustainability_plan"] = SUSTAINABILITY_PLAN
                # A plan closed with all its goals achieved has goals.
                await add_goal(goals_client, worker, plan["id"], f, baseline_on=days_ago(300).isoformat())
            r = await goals_client.post(f"/v1/plans/{plan['id']}/close", json=body, headers=worker)
            assert r.status_code == 200, r.text
    r = await goals_client.get("/v1/reports/closures", headers=auth("analyst"))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["closed_plans"] == sum(counts.values())
    assert {row["reason"]: row["percent"] for row in report["rows"]} == g["closure_reasons_pct"]
    assert report["rows"][0]["label"] == "All goals achieved"
    assert float(report["average_intervention_months"]) == g["average_intervention_months"]
