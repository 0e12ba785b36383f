"""Caseload limits: RES teams hold no waiting list, so capacity is checked at allocation.

Section 3.4: a social worker works with up to four families at a time, a family support worker
with eight. Limits are per role and configurable per team.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


class MemberRole(StrEnum):
    SOCIAL_WORKER = "social_worker"
    FAMILY_SUPPORT_WORKER = "family_support_worker"
    TEAM_MANAGER = "team_manager"


DEFAULT_LIMITS: dict[MemberRole, int] = {
    MemberRole.SOCIAL_WORKER: 4,
    MemberRole.FAMILY_SUPPORT_WORKER: 8,
}

# Team managers supervise; they are not lead workers.
LEAD_ROLES = frozenset({MemberRole.SOCIAL_WORKER, MemberRole.FAMILY_SUPPORT_WORKER})


def team_limits(overrides: Mapping[str, int] | None) -> dict[MemberRole, int]:
    """The team's limits: defaults, replaced by any per-team override (keys are role values)."""
    limits = dict(DEFAULT_LIMITS)
    for key, value in (overrides or {}).items():
        role = MemberRole(key)
        if role not in LEAD_ROLES:
            raise ValueError(f"{key} does not hold a caseload")
        if value < 0:
            raise ValueError("a caseload limit cannot be negative")
        limits[role] = value
    return limits


@dataclass(frozen=True)
class WorkerLoad:
    sub: str
    role: MemberRole
    open_families: int


@dataclass(frozen=True)
class CapacityCheck:
    ok: bool
    rule: str | None
    full_caseloads: list[dict[str, object]]
    available: list[str]


def check_allocation(
    lead_sub: str, workers: Sequence[WorkerLoad], limits: Mapping[MemberRole, int]
) -> CapacityCheck:
    """Can `lead_sub` take one more family? Names every full caseload when not."""
    eligible = [w for w in workers if w.role in LEAD_ROLES]
    full: list[dict[str, object]] = [
        {
            "sub": w.sub,
            "role": w.role.value,
            "open_families": w.open_families,
            "limit": limits[w.role],
        }
        for w in eligible
        if w.open_families >= limits[w.role]
    ]
    available = [w.sub for w in eligible if w.open_families < limits[w.role]]
    target = next((w for w in eligible if w.sub == lead_sub), None)
    if target is None:
        rule = "not_a_lead_worker_in_team"
        return CapacityCheck(False, rule, full, available)
    if target.sub in available:
        return CapacityCheck(True, None, full, available)
    rule = "no_capacity_in_team" if not available else "caseload_full"
    return CapacityCheck(False, rule, full, available)
