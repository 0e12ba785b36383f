"""Goals test helpers: completed formulations arrive as real events; everything else via HTTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from shared import clock, outbox
from tests.support import Backbone


def today() -> date:
    """The services' today (tests/conftest.py pins it for the length of each test)."""
    return clock.today()


def days_ago(n: int) -> date:
    return today() - timedelta(days=n)


@dataclass
class Formulation:
    """Ids of a formulation version the formulation service reported as completed."""

    id: uuid.UUID
    family_id: uuid.UUID
    version: int
    team_id: uuid.UUID
    cluster: str
    lead: str
    priority: list[uuid.UUID] = field(default_factory=list)  # priority perpetuating factors
    non_priority: list[uuid.UUID] = field(default_factory=list)  # perpetuating, not a priority
    protective: list[uuid.UUID] = field(default_factory=list)
    presenting: list[uuid.UUID] = field(default_factory=list)

    def plan_body(self, **extra: Any) -> dict[str, Any]:
        return {
            "family_id": str(self.family_id),
            "formulation_id": str(self.id),
            "formulation_version": self.version,
            "overall_goal": "The children feel safe and settled at home and go to school",
            "review_every_days": 7,
            **extra,
        }


async def complete_formulations(
    backbone: Backbone,
    n: int,
    *,
    team_id: uuid.UUID,
    cluster: str = "RES-1",
    lead: str = "worker-1",
    completed_on: date | None = None,
) -> list[Formulation]:
    """Emit `formulation.completed` from the formulation service's outbox (as it would).

    The caller then runs deliver_events() so the events travel relay -> arq -> goals consumer.
    """
    made = []
    async with backbone.sessionmakers["formulation"]() as session, session.begin():
        for _ in range(n):
            f = Formulation(
                id=uuid.uuid4(),
                family_id=uuid.uuid4(),
                version=1,
                team_id=team_id,
                cluster=cluster,
                lead=lead,
                priority=[uuid.uuid4(), uuid.uuid4()],
                non_priority=[uuid.uuid4()],
                protective=[uuid.uuid4(), uuid.uuid4()],
                presenting=[uuid.uuid4()],
            )
            factors = (
                [_factor(i, "perpetuating", True) for i in f.priority]
                + [_factor(i, "perpetuating", False) for i in f.non_priority]
                + [_factor(i, "protective", False) for i in f.protective]
                + [_factor(i, "presenting", False) for i in f.presenting]
            )
            await outbox.emit(
                session,
                "formulation.completed",
                subject_id=f.id,
                payload={
                    "formulation_id": f.id,
                    "family_id": f.family_id,
                    "version": f.version,
                    "cluster_code": cluster,
                    "team_id": team_id,
                    "lead_worker_sub": lead,
                    "factors": factors,
                    "completed_on": completed_on or days_ago(400),
                },
            )
            made.append(f)
    return made


def _factor(factor_id: uuid.UUID, kind: str, priority: bool) -> dict[str, Any]:
    return {"factor_id": factor_id, "kind": kind, "priority": priority, "driving": priority}


def goal_body(f: Formulation, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "text": "Mum and the children have a calm morning routine",
        "smart": {
            "specific": "Everyone is up, dressed and fed by 8:15 on school days",
            "measurable": "Mum scores the mornings each week",
            "achievable": "Mum already manages this at weekends",
            "realistic": "Grandma can help on Mondays",
            "target_date": (today() + timedelta(days=90)).isoformat(),
        },
        "code": "E5",
        "category": "education_outcomes",
        "addresses_factor_ids": [str(f.priority[0])],
        "builds_on_factor_ids": [str(f.protective[0])],
        "baseline": 3,
    }
    body.update(extra)
    return body


SUSTAINABILITY_PLAN = {
    "worked_on": "Morning routines and getting to school on time",
    "achieved": "The children have been on time every day for six weeks",
    "keep_going": "Keep the bedtime chart and the Sunday planning chat",
    "supports": [{"who": "School family support worker", "contact": "0113 000 0000"}],
    "look_out_for": "Late nights creeping back in the holidays",
}


async def open_plan(
    client: httpx.AsyncClient, headers: dict[str, str], f: Formulation, **extra: Any
) -> dict[str, Any]:
    r = await client.post("/v1/plans", json=f.plan_body(**extra), headers=headers)
    assert r.status_code == 201, r.text
    plan: dict[str, Any] = r.json()
    return plan


async def add_goal(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    plan_id: str,
    f: Formulation,
    **extra: Any,
) -> dict[str, Any]:
    r = await client.post(f"/v1/plans/{plan_id}/goals", json=goal_body(f, **extra), headers=headers)
    assert r.status_code == 201, r.text
    goal: dict[str, Any] = r.json()
    return goal


async def score(
    client: httpx.AsyncClient, headers: dict[str, str], goal_id: str, value: int, on: date
) -> None:
    r = await client.post(
        f"/v1/goals/{goal_id}/scores",
        json={"score": value, "recorded_on": on.isoformat()},
        headers=headers,
    )
    assert r.status_code == 201, r.text


def accepted_payload(
    family_id: uuid.UUID, team_id: uuid.UUID, on: date, *, lead: str = "worker-1"
) -> dict[str, Any]:
    """A `referral.accepted` payload: the family taken on by a RES team."""
    return {
        "referral_id": uuid.uuid4(),
        "family_id": family_id,
        "cluster_code": "RES-1",
        "team_id": team_id,
        "lead_worker_sub": lead,
        "support_type": "early_help",
        "accepted_on": on,
    }


async def emit_family_closed(backbone, family_id: uuid.UUID, reason: str, on: date) -> None:  # type: ignore[no-untyped-def]
    """family.closed as the formulation service's outbox emits it (deliver_events carries it)."""
    async with backbone.sessionmakers["formulation"]() as session, session.begin():
        await outbox.emit(
            session,
            "family.closed",
            subject_id=family_id,
            payload={"family_id": family_id, "cluster_code": "RES-1", "reason_code": reason, "closed_on": on},
        )
