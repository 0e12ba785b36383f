"""Published reports: a summary line that is the totals row of a table is suppressed with it, so no
hidden cell comes back by subtraction (goal progress by category, SCORE-15 change)."""

import uuid

from tests.goals.helpers import add_goal, complete_formulations, days_ago, open_plan, score

TEAM = uuid.uuid4()
SAFEGUARDING, EDUCATION = "child_safeguarding", "education_outcomes"
# (baseline, latest score or None): improved, unchanged, deteriorated, no score
IMPROVED, UNCHANGED, DETERIORATED, NO_SCORE = (2, 6), (5, 5), (5, 3), (4, None)


async def _goals(goals_client, auth, backbone, deliver_events, specs) -> None:  # type: ignore[no-untyped-def]
    """specs: (category, (baseline, latest)) per goal, three goals to a plan."""
    formulations = await complete_formulations(backbone, (len(specs) + 2) // 3, team_id=TEAM)
    await deliver_events()
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    for k, (category, (baseline, latest)) in enumerate(specs):
        f = formulations[k // 3]
        if k % 3 == 0:
            plan = await open_plan(goals_client, worker, f, opened_on=days_ago(60).isoformat())
        goal = await add_goal(
            goals_client,
            worker,
            plan["id"],
            f,
            category=category,
            baseline=baseline,
            baseline_on=days_ago(50).isoformat(),
        )
        if latest is not None:
            await score(goals_client, worker, goal["id"], latest, days_ago(10))


async def _reports(goals_client, auth, path: str) -> tuple[dict, dict]:  # type: ignore[type-arg]
    analyst = auth("analyst")
    raw = await goals_client.get(path, headers=analyst)
    pub = await goals_client.get(path, params={"disclosure": "published"}, headers=analyst)
    assert raw.status_code == pub.status_code == 200, (raw.text, pub.text)
    return raw.json(), pub.json()


def _no_lone_hidden_cell(column: list) -> bool:  # type: ignore[type-arg]
    return sum(1 for c in column if c == "c") != 1


async def test_category_improved_cannot_be_recovered_from_the_summary(
    goals_client, auth, backbone, deliver_events
):
    specs = (
        [(SAFEGUARDING, IMPROVED)] * 10
        + [(SAFEGUARDING, UNCHANGED)] * 5
        + [(SAFEGUARDING, DETERIORATED)] * 3
        + [(SAFEGUARDING, NO_SCORE)] * 3
        + [(EDUCATION, IMPROVED)] * 3
        + [(EDUCATION, UNCHANGED)] * 4
        + [(EDUCATION, DETERIORATED)] * 3
    )
    await _goals(goals_client, auth, backbone, deliver_events, specs)
    raw, pub = await _reports(goals_client, auth, "/v1/reports/goal-progress")
    # The unsuppressed report is as before.
    assert (raw["goals"], raw["improved"], raw["unchanged"], raw["deteriorated"], raw["no_score"]) == (
        31,
        13,
        9,
        6,
        3,
    )
    assert [(c["category"], c["n"], c["improved"]) for c in raw["by_category"]] == [
        (SAFEGUARDING, 21, 10),
        (EDUCATION, 10, 3),
    ]
    safeguarding, education = pub["by_category"]
    assert education["improved"] == "c" and education["percent_improved"] == "c"
    # The summary line is the table's totals row: 13 - 10 would give the 3 away.
    assert _no_lone_hidden_cell([safeguarding["improved"], education["improved"], pub["improved"]])
    assert _no_lone_hidden_cell([safeguarding["n"], education["n"], pub["goals"]])
    for row in pub["by_category"]:
        if "c" in (row["n"], row["improved"]):
            assert row["percent_improved"] == "c"
    summary = [pub[k] for k in ("improved", "unchanged", "deteriorated", "no_score", "goals")]
    assert _no_lone_hidden_cell(summary)
    if "c" in summary:
        assert pub["improved_pct"] == pub["unchanged_pct"] == pub["deteriorated_pct"] == "c"


async def test_one_category_row_is_suppressed_as_the_summary(goals_client, auth, backbone, deliver_events):
    specs = (
        [(SAFEGUARDING, IMPROVED)] * 8
        + [(SAFEGUARDING, UNCHANGED)] * 3
        + [(SAFEGUARDING, DETERIORATED)] * 9
        + [(SAFEGUARDING, NO_SCORE)] * 10
    )
    await _goals(goals_client, auth, backbone, deliver_events, specs)
    raw, pub = await _reports(goals_client, auth, "/v1/reports/goal-progress")
    assert raw["by_category"][0]["improved"] == 8 and raw["by_category"][0]["percent_improved"] == 40
    assert (pub["goals"], pub["unchanged"], pub["improved"]) == (30, "c", "c")
    (row,) = pub["by_category"]
    # Its row showed improved 8 and 40% (of 20 scored): with 9 deteriorated, unchanged = 3.
    assert (row["n"], row["improved"], row["percent_improved"]) == (30, "c", "c")


async def test_score15_fewer_more_and_unchanged_are_one_line_against_paired(
    goals_client, auth, backbone, deliver_events
):
    formulations = await complete_formulations(backbone, 10, team_id=TEAM)
    await deliver_events()
    worker = auth("practitioner", sub="worker-1", teams=[TEAM])
    same = [3] * 15
    better = [2 if n in (1, 3, 6, 10, 15) else 4 for n in range(1, 16)]  # fewer difficulties
    worse = [4 if n in (1, 3, 6, 10, 15) else 2 for n in range(1, 16)]
    for k, f in enumerate(formulations):
        plan = await open_plan(goals_client, worker, f, opened_on=days_ago(60).isoformat())
        for timepoint, items, ago in (("T1", same, 50), ("T2", worse if k == 0 else better, 5)):
            r = await goals_client.post(
                f"/v1/plans/{plan['id']}/score15",
                json={
                    "member_ref": "parent-1",
                    "timepoint": timepoint,
                    "completed_on": days_ago(ago).isoformat(),
                    "items": items,
                },
                headers=worker,
            )
            assert r.status_code == 201, r.text
    raw, pub = await _reports(goals_client, auth, "/v1/reports/score15")
    assert (raw["paired"], raw["fewer_difficulties"], raw["more_difficulties"]) == (10, 9, 1)
    # 10 paired - 9 fewer (- 0 unchanged) would give the 1 away.
    assert (pub["paired"], pub["fewer_difficulties"], pub["more_difficulties"]) == (10, "c", "c")
    assert pub["members_t1"] == pub["members_t2"] == 10


async def test_a_part_of_a_published_count_does_not_give_the_rest_away(
    goals_client, auth, backbone, deliver_events
):
    # 12 improved, 10 of them by 4 points (reliably) and 2 by 1 point.
    specs = [(SAFEGUARDING, (2, 6))] * 10 + [(SAFEGUARDING, (5, 6))] * 2 + [(EDUCATION, UNCHANGED)] * 6
    await _goals(goals_client, auth, backbone, deliver_events, specs)
    raw, pub = await _reports(goals_client, auth, "/v1/reports/goal-progress")
    assert (raw["improved"], raw["improved_reliably"]) == (12, 10)
    assert (pub["improved"], pub["improved_reliably"]) == (12, "c")


async def test_a_part_of_a_hidden_count_is_hidden_with_it(goals_client, auth, backbone, deliver_events):
    # 6 improved, all reliably; 1 deteriorated (hidden, and improved with it): showing "6 improved
    # reliably" would say improved is 6, and then deteriorated is 27 - 10 - 10 - 6 = 1
    specs = [(SAFEGUARDING, (2, 6))] * 6 + [(SAFEGUARDING, UNCHANGED)] * 10
    specs += [(SAFEGUARDING, (5, 3))] + [(SAFEGUARDING, NO_SCORE)] * 10
    await _goals(goals_client, auth, backbone, deliver_events, specs)
    raw, pub = await _reports(goals_client, auth, "/v1/reports/goal-progress")
    assert (raw["improved"], raw["improved_reliably"], raw["deteriorated"]) == (6, 6, 1)
    assert (pub["improved"], pub["deteriorated"]) == ("c", "c")
    assert (pub["improved_reliably"], pub["deteriorated_reliably"]) == ("c", "c")
