"""GET /v1/reports/score15: T1 and T2 paired per plan and member, figures pinned, counts only
read from the database (no row per response)."""

import uuid
from decimal import Decimal

from sqlalchemy import event

from services.goals_api import score15
from tests.goals.helpers import complete_formulations, days_ago, open_plan

TEAM = uuid.uuid4()
OTHER = uuid.uuid4()


def _items(total: str) -> list[int]:
    """Answers whose SCORE-15 total is `total`: k items one step above the base difficulty."""
    target = Decimal(total)
    for base in range(1, 6):
        for k in range(15):
            oriented = [base + 1] * k + [base] * (15 - k)
            items = [6 - v if n in score15.REVERSED_ITEMS else v for n, v in enumerate(oriented, 1)]
            if score15.score(items).total == target:
                return items
    raise AssertionError(total)


# plan -> member -> (timepoint, days ago, total)
RESPONSES = {
    "p1": {
        "parent-1": [("T1", 90, "4.00"), ("T2", 10, "2.00")],
        "parent-2": [("T1", 50, "3.00"), ("T2", 5, "3.40")],
        "young-person-1": [("T1", 40, "2.47")],
    },
    "p2": {
        "parent-1": [("T2", 20, "1.53")],  # same label as on p1: another family, never paired with it
        "parent-2": [("T1", 30, "4.93"), ("T2", 3, "4.93")],
        "young-person-1": [("T1", 45, "3.13"), ("T2", 2, "2.07")],
    },
    "p3": {"parent-1": [("T1", 50, "5.00"), ("T2", 1, "1.00")]},  # another team's plan
}


async def _seed(goals_client, auth, backbone, deliver_events) -> None:  # type: ignore[no-untyped-def]
    f1, f2 = await complete_formulations(backbone, 2, team_id=TEAM)
    (f3,) = await complete_formulations(backbone, 1, team_id=OTHER)
    await deliver_events()
    ours = auth("practitioner", sub="worker-1", teams=[TEAM])
    theirs = auth("practitioner", sub="worker-1", teams=[OTHER])
    opened = days_ago(100).isoformat()
    for name, f, headers in (("p1", f1, ours), ("p2", f2, ours), ("p3", f3, theirs)):
        plan = await open_plan(goals_client, headers, f, opened_on=opened)
        for member, answers in RESPONSES[name].items():
            for timepoint, ago, total in answers:
                r = await goals_client.post(
                    f"/v1/plans/{plan['id']}/score15",
                    json={
                        "member_ref": member,
                        "timepoint": timepoint,
                        "completed_on": days_ago(ago).isoformat(),
                        "items": _items(total),
                    },
                    headers=headers,
                )
                assert r.status_code == 201, r.text


def _figures(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "filters"}


async def test_score15_report_pairs_per_plan_and_member(goals_client, auth, backbone, deliver_events, apps):
    await _seed(goals_client, auth, backbone, deliver_events)
    analyst = auth("analyst")
    # Every response row the report reads from the database, per statement.
    fetched: list[tuple[str, int]] = []

    def rows(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "score15_responses" in statement:
            fetched.append((statement, cursor.rowcount))

    engine = apps["goals"].state.engine.sync_engine
    event.listen(engine, "after_cursor_execute", rows)
    try:
        r = await goals_client.get("/v1/reports/score15", headers=analyst)
    finally:
        event.remove(engine, "after_cursor_execute", rows)
    assert r.status_code == 200, r.text
    assert _figures(r.json()) == {
        "members_t1": 6,
        "members_t2": 6,
        "paired": 5,
        "mean_t1": "3.76",  # 22.53 / 6
        "mean_t2": "2.49",  # 14.93 / 6
        "mean_change": "-1.33",  # (-2.00 + 0.40 + 0 - 1.06 - 4.00) / 5
        "fewer_difficulties": 3,
        "more_difficulties": 1,
    }

    # The period applies to the member's T1 date (T2 date when there is no T1); a team manager
    # sees their own team's plans only.
    manager = auth("team_manager", teams=[TEAM])
    scoped = await goals_client.get(
        "/v1/reports/score15", params={"from": days_ago(60).isoformat()}, headers=manager
    )
    assert _figures(scoped.json()) == {
        "members_t1": 4,
        "members_t2": 4,
        "paired": 3,
        "mean_t1": "3.38",  # 13.53 / 4, rounded half up
        "mean_t2": "2.98",  # 11.93 / 4
        "mean_change": "-0.22",
        "fewer_difficulties": 1,
        "more_difficulties": 1,
    }
    # T2s after the period's end still pair with a T1 inside it.
    early = await goals_client.get(
        "/v1/reports/score15", params={"to": days_ago(46).isoformat()}, headers=analyst
    )
    assert _figures(early.json()) == {
        "members_t1": 3,
        "members_t2": 3,
        "paired": 3,
        "mean_t1": "4.00",
        "mean_t2": "2.13",
        "mean_change": "-1.87",
        "fewer_difficulties": 2,
        "more_difficulties": 1,
    }
    nothing = await goals_client.get("/v1/reports/score15", params={"cluster": "RES-9"}, headers=analyst)
    assert _figures(nothing.json()) == {
        "members_t1": 0,
        "members_t2": 0,
        "paired": 0,
        "mean_t1": None,
        "mean_t2": None,
        "mean_change": None,
        "fewer_difficulties": 0,
        "more_difficulties": 0,
    }
    published = await goals_client.get(
        "/v1/reports/score15", params={"disclosure": "published"}, headers=analyst
    )
    assert _figures(published.json()) == {
        "members_t1": 6,
        "members_t2": 6,
        "paired": "c",
        "mean_t1": "3.76",
        "mean_t2": "2.49",
        "mean_change": "c",
        "fewer_difficulties": "c",
        "more_difficulties": "c",
    }
    # Counts and sums come back, not one row per response (240k responses made this 1.8 s).
    assert fetched and all(n <= 1 for _, n in fetched), fetched
