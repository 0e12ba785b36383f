"""Token claims the scoping relies on: `teams` and `clusters` must be lists of strings, team ids UUIDs.

A malformed claim is the IdP's (or a forger's) mistake, so it is a 401 naming the claim, never a
500 and never a guess (a string is not a list of its characters).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.support import TEST_SECRET


def _bearer(**claims: Any) -> dict[str, str]:
    import jwt

    now = int(time.time())
    base = {
        "sub": "u-1",
        "role": "admin",
        "iss": "rethink-dev",
        "aud": "rethink",
        "iat": now,
        "exp": now + 600,
    }
    base.update(claims)
    return {"Authorization": "Bearer " + jwt.encode(base, TEST_SECRET, algorithm="HS256")}


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("teams", 5),
        ("teams", True),
        ("teams", {"a": 1}),
        ("teams", "abc"),
        ("teams", str(uuid.uuid4())),  # one id, not a list of one
        ("teams", [1]),
        ("teams", [None]),
        ("teams", ["not-a-team-id"]),
        ("clusters", 5),
        ("clusters", "RES-1"),
        ("clusters", [1]),
        ("clusters", [["RES-1"]]),
    ],
)
async def test_a_malformed_list_claim_is_a_401_naming_it(formulation_client, claim, value):
    r = await formulation_client.get("/v1/clusters", headers=_bearer(**{claim: value}))
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["rule"] == "authentication_required"
    assert claim in r.json()["detail"]


@pytest.mark.parametrize("claims", [{}, {"teams": None, "clusters": None}, {"teams": [], "clusters": []}])
async def test_absent_or_empty_list_claims_mean_none(formulation_client, claims):
    r = await formulation_client.get("/v1/clusters", headers=_bearer(**claims))
    assert r.status_code == 200, r.text


async def test_team_ids_are_normalised_once(apps):
    """However the IdP spells a team id, the principal holds its canonical form, so membership
    checks and database filters agree."""
    from shared.auth import Authenticator

    team = uuid.uuid4()
    authenticator: Authenticator = apps["formulation"].state.authenticator
    token = _bearer(teams=[str(team).upper(), "{" + str(team) + "}"])["Authorization"].split()[1]
    principal = await authenticator.verify(token)
    assert principal.teams == (str(team),)
    assert principal.in_team(team) and principal.in_team(str(team).upper())
