"""Consent records: what was consented, by whom, when, and withdrawal.

Group supervision needs the family's consent to share their information (section 3.6, domain
brief); a formulation "travels with the family" to a named agency only with consent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ConsentScope(StrEnum):
    GROUP_SUPERVISION = "group_supervision"
    SHARE_WITH_AGENCY = "share_formulation_with_agency"


@dataclass(frozen=True)
class ConsentView:
    scope: ConsentScope
    agency: str | None
    given_at: datetime
    withdrawn_at: datetime | None = None


def _same_agency(a: str | None, b: str | None) -> bool:
    return (a or "").strip().casefold() == (b or "").strip().casefold()


def same_consent(a: ConsentView, scope: ConsentScope, agency: str | None) -> bool:
    """Does record `a` consent to the same thing: the scope, and for sharing the same agency?"""
    return a.scope is scope and (
        scope is not ConsentScope.SHARE_WITH_AGENCY or _same_agency(a.agency, agency)
    )


def has_consent(
    records: Sequence[ConsentView], scope: ConsentScope, at: datetime, agency: str | None = None
) -> bool:
    """Is consent for `scope` (and `agency`, when sharing) given and not withdrawn at `at`?"""
    for rec in records:
        if rec.scope is not scope:
            continue
        if scope is ConsentScope.SHARE_WITH_AGENCY and not _same_agency(rec.agency, agency):
            continue
        if rec.given_at <= at and (rec.withdrawn_at is None or rec.withdrawn_at > at):
            return True
    return False
