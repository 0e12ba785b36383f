"""Rethink Formulation rules (seed Appendix 3): the 6 Ps, the 4 Ps of prioritisation, the walk-back.

Pure functions over plain data so that the rules can be tested, and reused, without a database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class FactorKind(StrEnum):
    PRESENTING = "presenting"
    PREDISPOSING = "predisposing"
    PRECIPITATING = "precipitating"
    PERPETUATING = "perpetuating"
    PROTECTIVE = "protective"
    PREDICTIVE = "predictive"


# The seed writes the sixth P both ways ("predicting" in Appendix 3); store one spelling.
KIND_ALIASES = {"predicting": FactorKind.PREDICTIVE}


def parse_factor_kind(value: str) -> FactorKind:
    """Return the factor kind for `value` (case-insensitive, alias aware); ValueError otherwise."""
    key = value.strip().lower()
    if key in KIND_ALIASES:
        return KIND_ALIASES[key]
    return FactorKind(key)


class FormulationContext(StrEnum):
    WITH_FAMILY = "with_family"
    GROUP_SUPERVISION = "group_supervision"
    INDIVIDUAL_SUPERVISION = "individual_supervision"
    REFERRAL_TRIAGE = "referral_triage"
    MULTI_AGENCY_MEETING = "multi_agency_meeting"
    FORUM = "forum"


class WayOfBeing(StrEnum):
    """Four Ways of Being (social discipline window): only WITH is restorative."""

    WITH = "with"
    TO = "to"
    FOR = "for"
    NOT = "not"


@dataclass(frozen=True)
class FourPs:
    prerequisite: bool
    powerful: bool
    proximal: bool
    participant_goal: bool

    @property
    def priority(self) -> bool:
        # Appendix 3: "For a perpetuating factor to be a priority it should meet all four criteria."
        return self.prerequisite and self.powerful and self.proximal and self.participant_goal


def can_prioritise(kind: FactorKind) -> bool:
    """The 4 Ps apply to perpetuating factors only."""
    return kind is FactorKind.PERPETUATING


# --- walk-back -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class FactorView:
    id: uuid.UUID
    kind: FactorKind
    priority: bool = False


@dataclass(frozen=True)
class StepView:
    addresses: tuple[uuid.UUID, ...] = ()
    builds_on: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True)
class NextStepsView:
    goal_factor_ids: tuple[uuid.UUID, ...] = ()
    steps: tuple[StepView, ...] = ()
    has_goal: bool = True


@dataclass(frozen=True)
class WalkBackProblem:
    code: str
    message: str
    step_index: int | None = None
    factor_id: uuid.UUID | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "message": self.message}
        if self.step_index is not None:
            out["step_index"] = self.step_index
        if self.factor_id is not None:
            out["factor_id"] = str(self.factor_id)
        return out


@dataclass(frozen=True)
class WalkBackResult:
    problems: list[WalkBackProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


NO_PRESENTING = "no_presenting_factor"
NO_NEXT_STEPS = "no_next_steps"
GOAL_NOT_LINKED = "goal_not_linked_to_presenting"
STEP_NO_PRIORITY = "step_addresses_no_priority_factor"
PRIORITY_UNADDRESSED = "priority_factor_unaddressed"
NO_PROTECTIVE_USED = "no_protective_factor_used"


def walk_back(factors: Sequence[FactorView], next_steps: NextStepsView | None) -> WalkBackResult:
    """List every reason the next steps do not trace back to the presenting issues.

    Checks (Appendix 3): actions address priority perpetuating factors and build on protective
    factors to change the presenting issues; the overall goal is tied to the presenting issues.
    """
    by_id = {f.id: f for f in factors}
    problems: list[WalkBackProblem] = []

    if not any(f.kind is FactorKind.PRESENTING for f in factors):
        problems.append(WalkBackProblem(NO_PRESENTING, "The formulation has no presenting factor."))

    goal_ids = next_steps.goal_factor_ids if next_steps and next_steps.has_goal else ()
    if not _any_of_kind(by_id, goal_ids, FactorKind.PRESENTING):
        problems.append(
            WalkBackProblem(GOAL_NOT_LINKED, "The overall goal is not linked to a presenting factor.")
        )

    steps = next_steps.steps if next_steps else ()
    if not steps:
        problems.append(WalkBackProblem(NO_NEXT_STEPS, "There are no next steps."))

    priority_ids = {f.id for f in factors if f.kind is FactorKind.PERPETUATING and f.priority}
    addressed: set[uuid.UUID] = set()
    for index, step in enumerate(steps):
        hits = priority_ids.intersection(step.addresses)
        addressed |= hits
        if not hits:
            problems.append(
                WalkBackProblem(
                    STEP_NO_PRIORITY,
                    f"Step {index + 1} addresses no priority perpetuating factor.",
                    step_index=index,
                )
            )
    for factor in factors:
        if factor.id in priority_ids and factor.id not in addressed:
            problems.append(
                WalkBackProblem(
                    PRIORITY_UNADDRESSED,
                    "A priority perpetuating factor is not addressed by any step.",
                    factor_id=factor.id,
                )
            )

    used = [fid for step in steps for fid in step.builds_on]
    if not _any_of_kind(by_id, used, FactorKind.PROTECTIVE):
        problems.append(WalkBackProblem(NO_PROTECTIVE_USED, "No step builds on a protective factor."))
    return WalkBackResult(problems)


def _any_of_kind(by_id: dict[uuid.UUID, FactorView], ids: Iterable[uuid.UUID], kind: FactorKind) -> bool:
    return any(fid in by_id and by_id[fid].kind is kind for fid in ids)


# --- next steps input validation -----------------------------------------------------------------
@dataclass(frozen=True)
class LinkError:
    field: str
    rule: str
    detail: str


def check_links(factors: Sequence[FactorView], next_steps: NextStepsView) -> list[LinkError]:
    """Reject references that cannot be right whatever the walk-back says.

    Unknown ids are refused outright; a step may only build on protective factors. Addressing a
    non-priority factor is *not* refused here: the walk-back reports it, so drafts can be saved.
    """
    by_id = {f.id: f for f in factors}
    errors: list[LinkError] = []
    for fid in next_steps.goal_factor_ids:
        if fid not in by_id:
            errors.append(LinkError("overall_goal.factor_ids", "unknown_factor", f"no factor {fid}"))
    for index, step in enumerate(next_steps.steps):
        for fid in step.addresses:
            if fid not in by_id:
                errors.append(
                    LinkError(f"steps[{index}].addresses_factor_ids", "unknown_factor", f"no factor {fid}")
                )
        for fid in step.builds_on:
            where = f"steps[{index}].builds_on_factor_ids"
            if fid not in by_id:
                errors.append(LinkError(where, "unknown_factor", f"no factor {fid}"))
            elif by_id[fid].kind is not FactorKind.PROTECTIVE:
                errors.append(
                    LinkError(where, "builds_on_must_be_protective", f"factor {fid} is not protective")
                )
    return errors


# --- completion ----------------------------------------------------------------------------------
class FormulationStatus(StrEnum):
    DRAFT = "draft"
    COMPLETED = "completed"
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class CompletionDecision:
    allowed: bool
    rule: str | None = None
    overridden: bool = False


def completion_decision(
    result: WalkBackResult, override_reason: str | None, is_team_manager: bool
) -> CompletionDecision:
    """Completing needs a clean walk-back or a team manager's recorded override reason."""
    if result.ok:
        return CompletionDecision(True)
    reason = (override_reason or "").strip()
    if not reason:
        return CompletionDecision(False, rule="walk_back_failed")
    if not is_team_manager:
        return CompletionDecision(False, rule="override_requires_team_manager")
    return CompletionDecision(True, overridden=True)
