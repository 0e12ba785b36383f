"""Rethink Formulation lifecycle: draft → completed (immutable) → re-formulated as a new version."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from fastapi import Request
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from services.formulation_api.families.consent import ConsentScope
from services.formulation_api.families.models import Family
from services.formulation_api.families.service import ensure_open, require_consent, visible_family
from services.formulation_api.formulations import repository
from services.formulation_api.formulations.models import (
    Factor,
    Formulation,
    NextStep,
    Reflection,
)
from services.formulation_api.formulations.rules import (
    FactorKind,
    FactorView,
    FormulationContext,
    FormulationStatus,
    FourPs,
    NextStepsView,
    StepView,
    WalkBackResult,
    can_prioritise,
    check_links,
    completion_decision,
    walk_back,
)
from services.formulation_api.formulations.schemas import (
    CompleteIn,
    FactorIn,
    FactorPatch,
    FormulationCreate,
    NextStepsIn,
    Prioritisation,
    ReflectionIn,
)
from shared import audit
from shared.auth import Principal, Role
from shared.clock import today
from shared.errors import Problem, conflict, not_found, unprocessable
from shared.http import check_if_match
from shared.outbox import emit


@dataclass
class Loaded:
    formulation: Formulation
    family: Family
    factors: Sequence[Factor]
    steps: Sequence[NextStep]
    reformulation_requested_on: date | None = None


async def load(
    session: AsyncSession, user: Principal, formulation_id: uuid.UUID, *, lock: bool = False
) -> Loaded:
    formulation = await repository.get(session, formulation_id, lock=lock)
    if formulation is None:
        raise not_found("formulation", formulation_id)
    family = await visible_family(session, user, formulation.family_id)
    requests = await repository.open_requests(session, family.id)
    return Loaded(
        formulation,
        family,
        await repository.factors(session, formulation.id),
        await repository.steps(session, formulation.id),
        min((r.flagged_on for r in requests), default=None),
    )


async def ensure_context_consent(
    session: AsyncSession, family_id: uuid.UUID, context: str, *, field: str = "path.formulation_id"
) -> None:
    """A formulation made in group supervision shares the family's information with the group:
    it needs the family's group-supervision consent, on creation and on every change, so a
    withdrawal stops the work (403 consent_required)."""
    if context == FormulationContext.GROUP_SUPERVISION.value:
        await require_consent(session, family_id, ConsentScope.GROUP_SUPERVISION, field=field)


async def for_change(
    session: AsyncSession,
    user: Principal,
    request: Request,
    formulation_id: uuid.UUID,
) -> Loaded:
    """Lock the formulation, check scope, draft status, an open case and If-Match before any change."""
    loaded = await load(session, user, formulation_id, lock=True)
    if loaded.formulation.status != FormulationStatus.DRAFT.value:
        raise conflict(
            "formulation_completed",
            "a completed formulation is immutable; re-formulate to open a new version",
            formulation_id=str(formulation_id),
        )
    await _ensure_family_open(session, loaded.family)
    check_if_match(request, loaded.formulation.revision, required=True)
    await ensure_context_consent(session, loaded.family.id, loaded.formulation.context)
    return loaded


async def _ensure_family_open(session: AsyncSession, family: Family) -> None:
    """A closed case's record is not added to (re-opening it is a re-referral). The family row is
    read under a share lock so a close cannot land between this check and the change's commit
    (a completion would otherwise be emitted after family.closed)."""
    await session.refresh(family, with_for_update={"read": True})
    ensure_open(family, field="path.formulation_id")


async def _touch(session: AsyncSession, user: Principal, formulation: Formulation) -> None:
    formulation.revision += 1
    await session.flush()
    await audit.record(session, user, "update", "formulation", formulation.id)


async def create(
    session: AsyncSession, user: Principal, family_id: uuid.UUID, body: FormulationCreate
) -> Formulation:
    family = await visible_family(session, user, family_id, lock=True)
    ensure_open(family)
    await ensure_context_consent(session, family.id, body.context.value, field="path.family_id")
    existing = await repository.for_family(session, family.id)
    await _no_open_draft(existing)
    formulation = Formulation(
        family_id=family.id,
        version=(existing[-1].version if existing else 0) + 1,
        previous_id=existing[-1].id if existing else None,
        status=FormulationStatus.DRAFT.value,
        context=body.context.value,
        facilitator_sub=body.facilitator_sub,
        participants=[p.model_dump() for p in body.participants],
        goal_factor_ids=[],
        revision=1,
        created_by=user.sub,
    )
    session.add(formulation)
    await session.flush()
    await audit.record(session, user, "create", "formulation", formulation.id)
    return formulation


async def _no_open_draft(existing: Sequence[Formulation]) -> None:
    draft = next((f for f in existing if f.status == FormulationStatus.DRAFT.value), None)
    if draft is not None:
        raise conflict("draft_exists", "the family already has a draft formulation", draft_id=str(draft.id))


async def add_factor(
    session: AsyncSession,
    user: Principal,
    request: Request,
    formulation_id: uuid.UUID,
    body: FactorIn,
) -> Factor:
    loaded = await for_change(session, user, request, formulation_id)
    factor = Factor(
        formulation_id=formulation_id,
        position=len(loaded.factors),
        kind=body.kind.value,
        text=body.text,
        driving=body.driving,
        priority=False,
    )
    session.add(factor)
    await session.flush()
    await _touch(session, user, loaded.formulation)
    return factor


def _factor(loaded: Loaded, factor_id: uuid.UUID) -> Factor:
    factor = next((f for f in loaded.factors if f.id == factor_id), None)
    if factor is None:
        raise not_found("factor", factor_id)
    return factor


async def patch_factor(
    session: AsyncSession,
    user: Principal,
    request: Request,
    formulation_id: uuid.UUID,
    factor_id: uuid.UUID,
    body: FactorPatch,
) -> Factor:
    loaded = await for_change(session, user, request, formulation_id)
    factor = _factor(loaded, factor_id)
    changed = False
    if body.text is not None and body.text != factor.text:
        factor.text = body.text
        changed = True
    if body.driving is not None and body.driving != factor.driving:
        factor.driving = body.driving
        changed = True
    # A PATCH that changes nothing (`{}` or the same values) keeps the ETag: clients holding it
    # are not made to re-read a formulation that did not change.
    if changed:
        await _touch(session, user, loaded.formulation)
    return factor


async def delete_factor(
    session: AsyncSession,
    user: Principal,
    request: Request,
    formulation_id: uuid.UUID,
    factor_id: uuid.UUID,
) -> Formulation:
    loaded = await for_change(session, user, request, formulation_id)
    factor = _factor(loaded, factor_id)
    used = factor.id in loaded.formulation.goal_factor_ids or any(
        factor.id in s.addresses_factor_ids or factor.id in s.builds_on_factor_ids for s in loaded.steps
    )
    if used:
        raise conflict("factor_in_use", "next steps refer to this factor; change them first")
    await session.delete(factor)
    await _touch(session, user, loaded.formulation)
    return loaded.formulation


async def prioritise(
    session: AsyncSession,
    user: Principal,
    request: Request,
    formulation_id: uuid.UUID,
    factor_id: uuid.UUID,
    body: Prioritisation,
) -> Factor:
    loaded = await for_change(session, user, request, formulation_id)
    factor = _factor(loaded, factor_id)
    if not can_prioritise(FactorKind(factor.kind)):
        raise unprocessable(
            "path.factor_id",
            "prioritisation_only_for_perpetuating",
            f"the 4 Ps apply to perpetuating factors; this one is {factor.kind}",
        )
    four = FourPs(body.prerequisite, body.powerful, body.proximal, body.participant_goal)
    factor.prerequisite = four.prerequisite
    factor.powerful = four.powerful
    factor.proximal = four.proximal
    factor.participant_goal = four.participant_goal
    factor.priority = four.priority
    await _touch(session, user, loaded.formulation)
    return factor


def _views(factors: Sequence[Factor]) -> list[FactorView]:
    return [FactorView(f.id, FactorKind(f.kind), f.priority) for f in factors]


def _steps_view(formulation: Formulation, steps: Sequence[NextStep]) -> NextStepsView | None:
    if not formulation.next_steps_set:
        return None
    return NextStepsView(
        goal_factor_ids=tuple(formulation.goal_factor_ids),
        steps=tuple(StepView(tuple(s.addresses_factor_ids), tuple(s.builds_on_factor_ids)) for s in steps),
    )


def walk_back_of(loaded: Loaded) -> WalkBackResult:
    return walk_back(_views(loaded.factors), _steps_view(loaded.formulation, loaded.steps))


async def set_next_steps(
    session: AsyncSession,
    user: Principal,
    request: Request,
    formulation_id: uuid.UUID,
    body: NextStepsIn,
) -> Formulation:
    loaded = await for_change(session, user, request, formulation_id)
    view = NextStepsView(
        goal_factor_ids=tuple(body.overall_goal.factor_ids),
        steps=tuple(
            StepView(tuple(s.addresses_factor_ids), tuple(s.builds_on_factor_ids)) for s in body.steps
        ),
    )
    errors = check_links(_views(loaded.factors), view)
    if errors:
        first = errors[0]
        raise Problem(
            422,
            "Unprocessable Content",
            detail=first.detail,
            rule=first.rule,
            field=f"body.{first.field}",
            errors=[{"field": f"body.{e.field}", "rule": e.rule, "message": e.detail} for e in errors],
        )
    f = loaded.formulation
    f.summary = body.summary
    f.overall_goal = body.overall_goal.text
    f.goal_factor_ids = list(body.overall_goal.factor_ids)
    f.next_steps_set = True
    await session.execute(delete(NextStep).where(NextStep.formulation_id == f.id))
    for i, s in enumerate(body.steps):
        session.add(
            NextStep(
                formulation_id=f.id,
                position=i,
                text=s.text,
                addresses_factor_ids=list(s.addresses_factor_ids),
                builds_on_factor_ids=list(s.builds_on_factor_ids),
            )
        )
    await _touch(session, user, f)
    return f


async def complete(
    session: AsyncSession,
    user: Principal,
    request: Request,
    formulation_id: uuid.UUID,
    body: CompleteIn | None,
) -> Formulation:
    loaded = await for_change(session, user, request, formulation_id)
    result = walk_back_of(loaded)
    reason = body.override_reason if body else None
    decision = completion_decision(result, reason, user.role is Role.TEAM_MANAGER)
    if not decision.allowed:
        raise conflict(
            decision.rule or "walk_back_failed",
            "the next steps do not walk back to the presenting issues"
            if decision.rule == "walk_back_failed"
            else "only a team manager may override the walk-back",
            field="body.override_reason",
            problems=[p.as_dict() for p in result.problems],
        )
    f, family = loaded.formulation, loaded.family
    f.status = FormulationStatus.COMPLETED.value
    f.completed_on = today()
    f.completed_by = user.sub
    f.override_reason = reason.strip() if decision.overridden and reason else None
    for req in await repository.open_requests(session, family.id):
        req.resolved_by_formulation_id = f.id
    # The versions this one follows are history now: still readable and exportable, and a plan
    # the goals service opened on one keeps it (it learned the version from its own event).
    for earlier in await repository.for_family(session, family.id):
        if earlier.version < f.version and earlier.status == FormulationStatus.COMPLETED.value:
            earlier.status = FormulationStatus.SUPERSEDED.value
            await _touch(session, user, earlier)  # its GET shows the new status: a new ETag
    await _touch(session, user, f)
    await emit(
        session,
        "formulation.completed",
        subject_id=f.id,
        payload={
            "formulation_id": f.id,
            "family_id": family.id,
            "version": f.version,
            "previous_formulation_id": f.previous_id,
            "cluster_code": family.cluster_code,
            "team_id": family.team_id,
            "lead_worker_sub": family.lead_worker_sub,
            "factors": [
                {"factor_id": x.id, "kind": x.kind, "priority": x.priority, "driving": x.driving}
                for x in loaded.factors
            ],
            "completed_on": f.completed_on,
        },
    )
    return f


async def reformulate(session: AsyncSession, user: Principal, formulation_id: uuid.UUID) -> Formulation:
    """Open a new draft version from a completed one, copying its factors and next steps."""
    loaded = await load(session, user, formulation_id)
    source = loaded.formulation
    await visible_family(session, user, source.family_id, lock=True)
    await session.refresh(source)  # as of the family lock: a completion may have superseded it
    if source.status == FormulationStatus.DRAFT.value:
        raise conflict("formulation_not_completed", "only a completed formulation is re-formulated")
    ensure_open(loaded.family, field="path.formulation_id")
    await ensure_context_consent(session, source.family_id, source.context)
    existing = await repository.for_family(session, source.family_id)
    await _no_open_draft(existing)
    _ensure_latest(source, existing)
    new = Formulation(
        family_id=source.family_id,
        version=existing[-1].version + 1,
        previous_id=source.id,
        status=FormulationStatus.DRAFT.value,
        context=source.context,
        facilitator_sub=source.facilitator_sub,
        participants=list(source.participants),
        summary=source.summary,
        overall_goal=source.overall_goal,
        next_steps_set=source.next_steps_set,
        revision=1,
        created_by=user.sub,
    )
    session.add(new)
    await session.flush()
    ids: dict[uuid.UUID, uuid.UUID] = {}
    for x in loaded.factors:
        copy = Factor(
            id=uuid.uuid4(),
            formulation_id=new.id,
            position=x.position,
            kind=x.kind,
            text=x.text,
            driving=x.driving,
            prerequisite=x.prerequisite,
            powerful=x.powerful,
            proximal=x.proximal,
            participant_goal=x.participant_goal,
            priority=x.priority,
        )
        ids[x.id] = copy.id
        session.add(copy)
    new.goal_factor_ids = [ids[i] for i in source.goal_factor_ids if i in ids]
    for s in loaded.steps:
        session.add(
            NextStep(
                formulation_id=new.id,
                position=s.position,
                text=s.text,
                addresses_factor_ids=[ids[i] for i in s.addresses_factor_ids if i in ids],
                builds_on_factor_ids=[ids[i] for i in s.builds_on_factor_ids if i in ids],
            )
        )
    await session.flush()
    await audit.record(session, user, "create", "formulation", new.id)
    return new


def _ensure_latest(source: Formulation, existing: Sequence[Formulation]) -> None:
    """The versions form one chain: only the latest completed version is re-formulated, so an
    older one cannot fork it (and a superseded one is never the latest)."""
    done = [f for f in existing if f.status == FormulationStatus.COMPLETED.value]
    latest = done[-1] if done else None
    if latest is None or latest.id != source.id:
        raise conflict(
            "not_latest_version",
            "only the latest completed version is re-formulated"
            + (f": version {latest.version}" if latest else ""),
            field="path.formulation_id",
            latest_id=str(latest.id) if latest else None,
            latest_version=latest.version if latest else None,
        )


async def reflect(
    session: AsyncSession, user: Principal, formulation_id: uuid.UUID, body: ReflectionIn
) -> Reflection:
    loaded = await load(session, user, formulation_id)
    await _ensure_family_open(session, loaded.family)
    # A reflection on a group's formulation adds to what the group holds about the family.
    await ensure_context_consent(session, loaded.family.id, loaded.formulation.context)
    reflection = Reflection(
        formulation_id=loaded.formulation.id,
        way=body.way.value,
        note=body.note,
        recorded_by=user.sub,
    )
    session.add(reflection)
    await session.flush()
    await audit.record(session, user, "create", "reflection", reflection.id)
    return reflection
