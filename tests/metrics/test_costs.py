from decimal import Decimal

from services.metrics_worker.costs import (
    builtin_catalogue,
    cla_episode_cost,
    cost_table,
    cp_plan_cost_from_breakdown,
    load_breakdown,
    money,
)
from tests.metrics import report_data as rd


def test_cp_plan_cost_is_derived_from_the_appendix_6_breakdown():
    rows = load_breakdown()
    assert len(rows) == 49
    assert cp_plan_cost_from_breakdown(rows) == Decimal("13497")
    assert builtin_catalogue().amount("cp_plan_year") == Decimal("13497.00")
    # the derivation really reads the rows: one more statutory visit a year adds 2 h x £43
    visits = next(r for r in rows if r["activity"] == "Statutory visits")
    visits["occurrences_per_year"] = "18"
    assert cp_plan_cost_from_breakdown(rows) == Decimal("13583")


def test_cla_episode_cost_is_weekly_times_52_times_years():
    assert cla_episode_cost(Decimal("1065"), Decimal("2.9")) == Decimal("160602.0")
    catalogue = builtin_catalogue()
    assert catalogue.amount("cla_episode") == Decimal("160602.00")
    assert catalogue.amount("contact_hour") == Decimal("83")
    assert catalogue.amount("referral_hour") == Decimal("159")
    for cost in catalogue.costs.values():
        assert cost.source and cost.edition and cost.price_year and cost.derivation


def test_table_3_from_its_implied_volumes_gives_the_printed_savings():
    t3 = rd.evaluation()["table_3_monthly_costs_gbp"]
    implied = t3["implied_monthly_volumes_derived"]
    pre = {k: Decimal(str(v)) for k, v in implied["cluster_pre_res"].items()}
    post = {k: Decimal(str(v)) for k, v in implied["cluster_with_res"].items()}
    table = cost_table(pre, post, builtin_catalogue())
    printed = {line: (Decimal(str(a)), Decimal(str(b))) for line, a, b in t3["rows"]}
    assert {c.line: (money(c.cost_pre_res), money(c.cost_with_res)) for c in table.lines} == printed
    assert money(table.total_pre_res) == Decimal("4916371.44")
    assert money(table.total_with_res) == Decimal("4509904.84")
    assert money(table.savings_per_month) == Decimal("406466.60")
    assert table.catalogue_version == "2020.1"


def test_missing_lines_cost_nothing_and_money_is_pennies():
    table = cost_table({"contacts": Decimal("1.005")}, {}, builtin_catalogue())
    contacts = table.lines[0]
    assert contacts.cost_pre_res == Decimal("83.415")  # exact until displayed
    assert money(contacts.cost_pre_res) == Decimal("83.42")  # 83.415 rounds half-up
    assert money(table.savings_per_month) == Decimal("83.42")


def test_totals_add_exact_amounts_not_rounded_pennies():
    # Each line is under half a penny, so rounding each first would total 0.00.
    pre = {
        "contacts": Decimal("0.00006"),  # x 83 = 0.00498
        "referrals": Decimal("0.00003"),  # x 159 = 0.00477
        "child_subject_of_cp_plan": Decimal("0.0000003"),  # x 13,497 = 0.0040491
    }
    table = cost_table(pre, {}, builtin_catalogue())
    assert all(money(c.cost_pre_res) == Decimal("0.00") for c in table.lines)
    assert table.total_pre_res == Decimal("0.0137991")
    assert money(table.total_pre_res) == money(table.savings_per_month) == Decimal("0.01")
