"""Fixtures for the formulation service's API tests: a cluster, a RES team and its members."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

CLUSTER = "RES-1"
MEMBERS = [
    ("sw1", "Sam Worker", "social_worker"),
    ("sw2", "Sue Worker", "social_worker"),
    ("fsw1", "Fay Support", "family_support_worker"),
    ("tm1", "Tia Manager", "team_manager"),
]


@dataclass
class Org:
    client: httpx.AsyncClient
    auth: Callable[..., dict[str, str]]
    cluster: str
    team_id: str
    admin: dict[str, str]
    tm: dict[str, str]
    sw1: dict[str, str]
    partner: dict[str, str]
    referral_ids: list[str] = field(default_factory=list)

    def practitioner(self, sub: str) -> dict[str, str]:
        return self.auth("practitioner", sub, teams=[self.team_id])

    async def referral(self, headers: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "cluster_code": self.cluster,
            "source_code": "2A",
            "referring_organisation": "Park Primary School",
            "support_type": "early_help",
            "reason": "Attendance has dropped and there is conflict at home.",
            "family": {
                "reference_name": "The Example family",
                "members": [
                    {"kind": "adult", "name": "Alex Example", "birth_year": 1988},
                    {"kind": "child", "name": "Charlie Example", "birth_year": 2014},
                ],
            },
        }
        body.update(overrides)
        r = await self.client.post("/v1/referrals", json=body, headers=headers or self.partner)
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    async def conversation(self, referral_id: str) -> httpx.Response:
        return await self.client.post(
            f"/v1/referrals/{referral_id}/conversation",
            json={"notes": "Talked it through with the school lead."},
            headers=self.tm,
        )

    async def family(self, lead: str = "sw1") -> str:
        """A referral taken through conversation and acceptance; returns the family id."""
        ref = await self.referral()
        assert (await self.conversation(ref["id"])).status_code == 200
        r = await self.client.post(
            f"/v1/referrals/{ref['id']}/accept", json={"lead_worker_sub": lead}, headers=self.tm
        )
        assert r.status_code == 200, r.text
        return r.json()["family_id"]  # type: ignore[no-any-return]


@pytest_asyncio.fixture
async def org(
    formulation_client: httpx.AsyncClient, auth: Callable[..., dict[str, str]], backbone: Any
) -> Org:
    # `backbone` is requested up front so the per-test cleanup finds it already set up.
    c = formulation_client
    admin = auth("admin", "admin1")
    r = await c.put(
        f"/v1/clusters/{CLUSTER}",
        json={"name": "2gether", "res_start": "2017-01-01", "co_located": True},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    r = await c.post("/v1/teams", json={"cluster_code": CLUSTER, "name": "2gether RES"}, headers=admin)
    assert r.status_code == 201, r.text
    team_id = r.json()["id"]
    tm = auth("team_manager", "tm1", teams=[team_id])
    for sub, name, role in MEMBERS:
        r = await c.post(
            f"/v1/teams/{team_id}/members",
            json={"sub": sub, "name": name, "role": role, "fte": "1.0"},
            headers=tm,
        )
        assert r.status_code == 201, r.text
    return Org(
        client=c,
        auth=auth,
        cluster=CLUSTER,
        team_id=team_id,
        admin=admin,
        tm=tm,
        sw1=auth("practitioner", "sw1", teams=[team_id]),
        partner=auth("partner_system", "school-mis"),
    )


async def outbox(engine: AsyncEngine, event_type: str | None = None) -> list[dict[str, Any]]:
    """Events the formulation service has written to its outbox, oldest first."""
    sql = "select type, payload from formulation.outbox"
    params: dict[str, Any] = {}
    if event_type:
        sql += " where type = :t"
        params["t"] = event_type
    async with engine.connect() as conn:
        rows = (await conn.execute(text(sql + " order by id"), params)).all()
    return [{"type": t, "payload": p} for t, p in rows]


async def audit_rows(engine: AsyncEngine, action: str, resource_type: str) -> list[Any]:
    async with engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    text(
                        "select actor, resource_id from formulation.audit_log "
                        "where action = :a and resource_type = :r order by id"
                    ),
                    {"a": action, "r": resource_type},
                )
            ).all()
        )
