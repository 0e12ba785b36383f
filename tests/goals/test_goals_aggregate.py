from datetime import date
from decimal import Decimal

from services.goals_api.progress import Progress
from services.goals_api.reports import aggregate
from services.goals_api.vocab import ClosureReason
from tests.goals.goals_report_data import activity_code, smallest_counts, table_4, tables

COLUMNS = ("deteriorated", "unchanged", "improved", "no_score")


def test_table_4_from_the_report_counts():
    actions = [
        (activity_code(row["activity"]).value, Progress(column), row[column])
        for row in table_4()
        for column in COLUMNS
    ]
    rows = {r.activity: r for r in aggregate.activities_by_progress(actions)}
    for printed in table_4():
        got = rows[activity_code(printed["activity"]).value]
        assert got.total == printed["total"]
        assert got.percent_on_improving_goals == printed["percent_on_improving_goals"]
    assert [r.percent_on_improving_goals for r in aggregate.activities_by_progress(actions)] == [
        78,
        90,
        79,
        79,
    ]


def test_goal_shares_exclude_goals_without_score():
    g = tables()["goal_outcomes"]
    printed = {
        "improved": g["goals_improved_pct"],
        "unchanged": g["goals_unchanged_pct"],
        "deteriorated": g["goals_deteriorated_pct"],
    }
    counts = smallest_counts(printed)
    shares = aggregate.goal_progress_shares(
        {**{Progress(k): n for k, n in counts.items()}, Progress.NO_SCORE: 1}
    )
    assert (shares.improved_pct, shares.unchanged_pct, shares.deteriorated_pct) == (84, 10, 6)
    assert shares.no_score == 1
    assert shares.goals == sum(counts.values()) + 1


def test_by_category_orders_by_frequency():
    goals = [
        ("child_safeguarding", Progress.IMPROVED, 17),
        ("child_safeguarding", Progress.UNCHANGED, 3),
        ("adult_behaviour", Progress.IMPROVED, 8),
        ("adult_behaviour", Progress.DETERIORATED, 1),
        ("adult_behaviour", Progress.NO_SCORE, 1),
    ]
    rows = aggregate.by_category(goals)
    assert [(r.category, r.n, r.percent_improved) for r in rows] == [
        ("child_safeguarding", 20, 85),
        ("adult_behaviour", 10, 89),
    ]


def test_closure_reason_shares():
    printed = tables()["goal_outcomes"]["closure_reasons_pct"]
    counts = smallest_counts(printed)
    rows = aggregate.closure_reasons(counts, [r.value for r in ClosureReason])
    assert {r.reason: r.percent for r in rows} == printed
    assert rows[0].reason == "all_goals_achieved"


def test_intervention_length_and_goals_over_three_months():
    spans = [(date(2024, 1, 1), date(2024, 4, 30)), (date(2024, 2, 1), date(2024, 5, 31))]
    # 120 and 120 days: 120 / 30.436875 = 3.94 -> 3.9 months
    assert aggregate.average_intervention_months(spans) == Decimal("3.9")
    assert aggregate.average_intervention_months([]) is None
    assert (
        aggregate.worked_on_over(
            [
                (date(2024, 1, 31), date(2024, 4, 30)),  # exactly three months: not over
                (date(2024, 1, 31), date(2024, 5, 1)),
                (date(2024, 11, 30), date(2025, 3, 1)),
            ]
        )
        == 2
    )


def test_feedback_summary_reproduces_report_means():
    fb = tables()["family_feedback"]
    surveys = [
        aggregate.Feedback(i < 19, i < 18, s, c, u)
        for i, (s, c, u) in enumerate([(9, 10, 9)] * 6 + [(8, 9, 9)] * 14)
    ]
    summary = aggregate.feedback_summary(surveys)
    assert summary.treated_with_respect_pct == fb["treated_with_respect_pct"]
    assert summary.would_recommend_pct == fb["would_recommend_pct"]
    assert summary.mean_how_well_service_did == Decimal(str(fb["mean_how_well_service_did"]))
    assert summary.mean_worker_communication == Decimal(str(fb["mean_worker_communication"]))
    assert summary.mean_understood_restorative_process == Decimal("9.0")


def test_score15_summary_means_from_sums():
    # T1 m1 3.00, m2 2.00, m3 4.00; T2 m1 2.50, m2 2.20: changes -0.50 and +0.20.
    summary = aggregate.score15_summary(
        aggregate.Score15Sums(3, Decimal("9.00"), 2, Decimal("4.70"), 2, Decimal("-0.30"), 1, 1)
    )
    assert (summary.members_t1, summary.members_t2, summary.paired) == (3, 2, 2)
    assert (summary.mean_t1, summary.mean_t2) == (Decimal("3.00"), Decimal("2.35"))
    assert summary.mean_change == Decimal("-0.15")
    assert (summary.fewer_difficulties, summary.more_difficulties) == (1, 1)
    # Rounded half up to the hundredth, as `mean`; no members, no mean.
    assert aggregate.score15_summary(
        aggregate.Score15Sums(2, Decimal("4.45"), 0, None, 0, None, 0, 0)
    ).mean_t1 == (Decimal("2.23"))
    assert aggregate.score15_summary(aggregate.Score15Sums(0, None, 0, None, 0, None, 0, 0)).mean_t1 is None


def test_closure_reasons_list_every_reason_even_when_none_closed_with_it():
    rows = aggregate.closure_reasons({"escalated_to_area_social_work": 3}, [r.value for r in ClosureReason])
    assert len(rows) == len(ClosureReason)
    by_reason = {r.reason: (r.count, r.percent) for r in rows}
    assert by_reason["escalated_to_area_social_work"] == (3, 100)
    assert by_reason["all_goals_achieved"] == (0, 0)
    assert aggregate.closure_reasons({}, ["all_goals_achieved"])[0].percent is None
