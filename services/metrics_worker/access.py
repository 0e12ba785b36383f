"""Who may call what, and who sees unsuppressed figures."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query

from shared.auth import Principal, Role, allow
from shared.errors import Problem

ANALYST_ROLES = (Role.ANALYST, Role.ADMIN)
READER_ROLES = (
    Role.ANALYST,
    Role.ADMIN,
    Role.TEAM_MANAGER,
    Role.RETHINK_FACILITATOR,
    Role.PRACTITIONER,
    Role.PARTNER_SYSTEM,
)

Analyst = Annotated[Principal, Depends(allow(*ANALYST_ROLES))]
Reader = Annotated[Principal, Depends(allow(*READER_ROLES))]
Ingester = Annotated[Principal, Depends(allow(Role.PARTNER_SYSTEM, Role.ANALYST, Role.ADMIN))]
Scheduler = Annotated[Principal, Depends(allow(Role.SCHEDULER, Role.ADMIN))]
RecomputeReader = Annotated[Principal, Depends(allow(Role.SCHEDULER, Role.ADMIN, Role.ANALYST))]

Disclosure = Literal["published", "unsuppressed"]
DisclosureParam = Annotated[
    Disclosure | None,
    Query(
        description="`published` shows counts 1-5 as `c` with secondary suppression. Only "
        "analysts may ask for `unsuppressed` (their default); everyone else gets `published`."
    ),
]


def disclosure_for(user: Principal, asked: Disclosure | None) -> Disclosure:
    analyst = user.role in ANALYST_ROLES
    if asked == "unsuppressed" and not analyst:
        raise Problem(
            403,
            detail="only analysts may see unsuppressed figures; ask for disclosure=published",
            rule="disclosure_requires_analyst",
            field="query.disclosure",
        )
    return asked or ("unsuppressed" if analyst else "published")
