"""Unit tests: the 6 Ps, the 4 Ps and the walk-back as pure functions."""

import uuid

import pytest

from services.formulation_api.formulations.rules import (
    GOAL_NOT_LINKED,
    NO_NEXT_STEPS,
    NO_PRESENTING,
    NO_PROTECTIVE_USED,
    PRIORITY_UNADDRESSED,
    STEP_NO_PRIORITY,
    FactorKind,
    FactorView,
    FourPs,
    NextStepsView,
    StepView,
    can_prioritise,
    check_links,
    completion_decision,
    parse_factor_kind,
    walk_back,
)


def _id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.mark.parametrize("text", [k.value for k in FactorKind])
def test_every_p_parses(text: str) -> None:
    assert parse_factor_kind(text).value == text
    assert parse_factor_kind(text.upper()).value == text


def test_predicting_is_an_alias_of_predictive() -> None:
    assert parse_factor_kind("predicting") is FactorKind.PREDICTIVE


@pytest.mark.parametrize("bad", ["", "problem", "perpetual", "presenting factor"])
def test_unknown_kinds_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_factor_kind(bad)


def test_six_kinds_exactly() -> None:
    assert len(FactorKind) == 6


def test_priority_needs_all_four_ps() -> None:
    assert FourPs(True, True, True, True).priority
    for missing in range(4):
        flags = [True] * 4
        flags[missing] = False
        assert not FourPs(*flags).priority


def test_only_perpetuating_factors_are_prioritised() -> None:
    assert can_prioritise(FactorKind.PERPETUATING)
    assert not any(can_prioritise(k) for k in FactorKind if k is not FactorKind.PERPETUATING)


class Clean:
    """A formulation whose next steps walk back cleanly."""

    def __init__(self) -> None:
        self.presenting = FactorView(_id(), FactorKind.PRESENTING)
        self.priority = FactorView(_id(), FactorKind.PERPETUATING, priority=True)
        self.other = FactorView(_id(), FactorKind.PERPETUATING, priority=False)
        self.protective = FactorView(_id(), FactorKind.PROTECTIVE)
        self.factors = [self.presenting, self.priority, self.other, self.protective]
        self.steps = NextStepsView(
            goal_factor_ids=(self.presenting.id,),
            steps=(StepView(addresses=(self.priority.id,), builds_on=(self.protective.id,)),),
        )


def codes(result) -> list[str]:
    return [p.code for p in result.problems]


def test_clean_walk_back() -> None:
    c = Clean()
    result = walk_back(c.factors, c.steps)
    assert result.ok, result.problems


def test_no_presenting_factor() -> None:
    c = Clean()
    factors = [f for f in c.factors if f.kind is not FactorKind.PRESENTING]
    result = walk_back(factors, c.steps)
    # the goal's link pointed at the removed presenting factor, so both problems show
    assert codes(result) == [NO_PRESENTING, GOAL_NOT_LINKED]


def test_goal_not_linked_to_presenting() -> None:
    c = Clean()
    steps = NextStepsView(goal_factor_ids=(c.priority.id,), steps=c.steps.steps)
    assert codes(walk_back(c.factors, steps)) == [GOAL_NOT_LINKED]


def test_step_addressing_no_priority_factor() -> None:
    c = Clean()
    stray = StepView(addresses=(c.other.id,), builds_on=(c.protective.id,))
    steps = NextStepsView(goal_factor_ids=(c.presenting.id,), steps=(*c.steps.steps, stray))
    result = walk_back(c.factors, steps)
    assert codes(result) == [STEP_NO_PRIORITY]
    assert result.problems[0].step_index == 1


def test_priority_factor_unaddressed() -> None:
    c = Clean()
    second = FactorView(_id(), FactorKind.PERPETUATING, priority=True)
    result = walk_back([*c.factors, second], c.steps)
    assert codes(result) == [PRIORITY_UNADDRESSED]
    assert result.problems[0].factor_id == second.id


def test_no_protective_factor_used() -> None:
    c = Clean()
    steps = NextStepsView(goal_factor_ids=(c.presenting.id,), steps=(StepView(addresses=(c.priority.id,)),))
    assert codes(walk_back(c.factors, steps)) == [NO_PROTECTIVE_USED]


def test_every_problem_listed_at_once() -> None:
    priority = FactorView(_id(), FactorKind.PERPETUATING, priority=True)
    other = FactorView(_id(), FactorKind.PERPETUATING)
    steps = NextStepsView(goal_factor_ids=(), steps=(StepView(addresses=(other.id,)),))
    result = walk_back([priority, other], steps)
    assert set(codes(result)) == {
        NO_PRESENTING,
        GOAL_NOT_LINKED,
        STEP_NO_PRIORITY,
        PRIORITY_UNADDRESSED,
        NO_PROTECTIVE_USED,
    }
    assert not result.ok


def test_no_next_steps_at_all() -> None:
    c = Clean()
    result = walk_back(c.factors, None)
    assert codes(result) == [
        GOAL_NOT_LINKED,
        NO_NEXT_STEPS,
        PRIORITY_UNADDRESSED,
        NO_PROTECTIVE_USED,
    ]


def test_problem_dicts_name_step_and_factor() -> None:
    c = Clean()
    second = FactorView(_id(), FactorKind.PERPETUATING, priority=True)
    problem = walk_back([*c.factors, second], c.steps).problems[0].as_dict()
    assert problem["code"] == PRIORITY_UNADDRESSED
    assert problem["factor_id"] == str(second.id)
    assert "step_index" not in problem


def test_links_refuse_unknown_ids_and_non_protective_builds() -> None:
    c = Clean()
    ghost = _id()
    steps = NextStepsView(
        goal_factor_ids=(ghost,),
        steps=(StepView(addresses=(ghost,), builds_on=(c.priority.id, ghost)),),
    )
    errors = check_links(c.factors, steps)
    assert [(e.field, e.rule) for e in errors] == [
        ("overall_goal.factor_ids", "unknown_factor"),
        ("steps[0].addresses_factor_ids", "unknown_factor"),
        ("steps[0].builds_on_factor_ids", "builds_on_must_be_protective"),
        ("steps[0].builds_on_factor_ids", "unknown_factor"),
    ]
    assert check_links(c.factors, c.steps) == []


def test_completion_gate() -> None:
    c = Clean()
    clean = walk_back(c.factors, c.steps)
    dirty = walk_back(c.factors, None)
    assert completion_decision(clean, None, is_team_manager=False).allowed
    blocked = completion_decision(dirty, None, is_team_manager=True)
    assert (blocked.allowed, blocked.rule) == (False, "walk_back_failed")
    assert completion_decision(dirty, "   ", is_team_manager=True).rule == "walk_back_failed"
    not_manager = completion_decision(dirty, "family asked", is_team_manager=False)
    assert (not_manager.allowed, not_manager.rule) == (False, "override_requires_team_manager")
    override = completion_decision(dirty, "family asked", is_team_manager=True)
    assert override.allowed and override.overridden
