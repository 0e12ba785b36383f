"""Demo data for `rethink dev --demo`, loaded through the services' own HTTP APIs.

The seven RES clusters with monthly CP-plan and CLA-start records whose before/after averages are
the report's Tables 1 and 2, and a few families taken from referral to a completed formulation and
an intervention plan with scored goals. Loading twice changes nothing (the records carry source ids,
and the families are only made when the demo team does not exist yet).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
from arq.connections import RedisSettings, create_pool
from fastapi import FastAPI

from shared import clock
from shared.auth import issue_dev_token
from shared.consumer import build_worker
from shared.db import create_engine, create_sessionmaker
from shared.registry import LoadedService, load
from shared.relay import Relay
from shared.settings import ServiceSettings

WINDOW = (date(2015, 4, 1), date(2020, 1, 1))
# RES start months as implied by the report's pre-RES month counts (Tables 1 and 2).
RES_STARTS = {
    "RES-1": date(2017, 1, 1),
    "RES-2": date(2018, 3, 1),
    "RES-3": date(2017, 10, 1),
    "RES-4": date(2018, 2, 1),
    "RES-5": date(2018, 2, 1),
    "RES-6": date(2017, 10, 1),
    "RES-7": date(2018, 5, 1),
}
# (children before RES, children from RES start) per cluster: Table 1 (CP plans), Table 2 (CLA).
REPORT_COUNTS = {
    "cp_plan_start": {
        "RES-1": (70, 118),
        "RES-2": (170, 137),
        "RES-3": (194, 145),
        "RES-4": (225, 207),
        "RES-5": (198, 150),
        "RES-6": (97, 64),
        "RES-7": (312, 179),
    },
    "cla_start": {
        "RES-1": (77, 113),
        "RES-2": (91, 57),
        "RES-3": (172, 121),
        "RES-4": (152, 100),
        "RES-5": (87, 70),
        "RES-6": (63, 43),
        "RES-7": (177, 89),
    },
}


def _months(first: date, last: date) -> list[date]:
    out, month = [], first
    while month <= last:
        out.append(month)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return out


def demo_records() -> list[dict[str, str]]:
    """Records spread evenly over each period's months (the remainder in the earliest months)."""
    records: list[dict[str, str]] = []
    for measure, clusters in REPORT_COUNTS.items():
        for cluster, (pre, post) in clusters.items():
            start = RES_STARTS[cluster]
            months = _months(*WINDOW)
            periods = ([m for m in months if m < start], pre), ([m for m in months if m >= start], post)
            for period_months, total in periods:
                base, extra = divmod(total, len(period_months))
                for i, month in enumerate(period_months):
                    for k in range(base + (1 if i < extra else 0)):
                        n = len(records)
                        records.append(
                            {
                                "type": measure,
                                "cluster": cluster,
                                "date": month.replace(day=1 + (k * 5) % 28).isoformat(),
                                "child_ref": f"demo-child-{n}",
                                "source_id": f"demo-{measure}-{n}",
                            }
                        )
    return records


@contextlib.asynccontextmanager
async def _clients(
    settings: dict[str, ServiceSettings], services: dict[str, LoadedService]
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    apps: dict[str, FastAPI] = {n: s.create_app(settings[n]) for n, s in services.items()}
    async with contextlib.AsyncExitStack() as stack:
        clients = {}
        for name, app in apps.items():
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            clients[name] = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url=f"http://{name}")
            )
        yield clients


async def _deliver(settings: dict[str, ServiceSettings], services: dict[str, LoadedService]) -> None:
    """Relay and consume events in-process, so later steps can rely on their effects."""
    for _ in range(5):
        moved = 0
        for name, svc in services.items():
            s = settings[name]
            engine = create_engine(s.require_database_url(), pool_size=2, max_overflow=0)
            redis = await create_pool(RedisSettings.from_dsn(s.require_redis_url()))
            try:
                moved += await Relay(
                    service=name, schema=svc.schema, engine=engine, redis=redis, queue_prefix=s.queue_prefix
                ).drain()
                worker = build_worker(
                    service=name,
                    schema=svc.schema,
                    handlers=svc.handlers,
                    sessionmaker=create_sessionmaker(engine, service=name, schema=svc.schema),
                    redis=redis,
                    queue_prefix=s.queue_prefix,
                    burst=True,
                    poll_delay=0.05,
                    functions=svc.functions,
                    extra_ctx={"settings": s, "engine": engine},
                )
                await worker.main()
                moved += worker.jobs_complete
            finally:
                await redis.aclose()
                await engine.dispose()
        if moved == 0:
            return


def _ok(r: httpx.Response) -> Any:
    if r.status_code >= 400:
        raise RuntimeError(
            f"demo step failed: {r.request.method} {r.request.url.path} {r.status_code} {r.text[:300]}"
        )
    return r.json()


async def load_demo_async(**overrides: Any) -> str:
    services = {n: load(n) for n in ("formulation", "goals", "metrics")}
    settings = {n: s.settings(**overrides) for n, s in services.items()}
    tok = settings["formulation"]

    def headers(
        role: str, sub: str | None = None, teams: list[str] | None = None, clusters: list[str] | None = None
    ) -> dict[str, str]:
        token = issue_dev_token(tok, role=role, sub=sub, teams=teams or [], clusters=clusters or [])
        return {"Authorization": f"Bearer {token}"}

    admin = headers("admin")
    async with _clients(settings, services) as api:
        for code, start in RES_STARTS.items():
            _ok(
                await api["formulation"].put(
                    f"/v1/clusters/{code}",
                    headers=admin,
                    json={"name": f"Cluster {code}", "res_start": start.isoformat(), "co_located": False},
                )
            )
        await _deliver(settings, services)
        records = demo_records()
        accepted = 0
        analyst = headers("analyst")
        for i in range(0, len(records), 5000):
            body = _ok(
                await api["metrics"].post(
                    "/v1/service-events", headers=analyst, json={"events": records[i : i + 5000]}
                )
            )
            accepted += body["accepted"]
        families = await _demo_families(api, headers)
        await _deliver(settings, services)  # the goals service learns of the completed formulations
        for family in families:
            await _demo_plan(api, *family)
        await _deliver(settings, services)
    return (
        f"Demo data: {len(RES_STARTS)} RES clusters, {accepted} new service records "
        f"(Tables 1 and 2), {len(families)} new families with formulations and plans."
    )


async def _demo_families(api: dict[str, httpx.AsyncClient], headers: Any) -> list[tuple[Any, ...]]:
    f = api["formulation"]
    partner = headers("partner_system", "demo-school")
    mine = _ok(await f.get("/v1/referrals", headers=partner))
    if mine["items"] if isinstance(mine, dict) else mine:
        return []  # the demo families were made on an earlier run
    team = _ok(
        await f.post(
            "/v1/teams", headers=headers("admin"), json={"cluster_code": "RES-3", "name": "Demo RES team"}
        )
    )
    team_id = team["id"]
    tm = headers("team_manager", "demo-tm", [team_id])
    for sub, name, role in (
        ("demo-sw", "Sam Worker", "social_worker"),
        ("demo-fsw", "Fay Support", "family_support_worker"),
        ("demo-tm", "Tia Manager", "team_manager"),
    ):
        _ok(
            await f.post(
                f"/v1/teams/{team_id}/members",
                headers=tm,
                json={"sub": sub, "name": name, "role": role, "fte": "1.0"},
            )
        )
    sw = headers("practitioner", "demo-sw", [team_id])
    made: list[tuple[Any, ...]] = []
    for n, (adult, child) in enumerate((("Alex Demo", "Charlie Demo"), ("Jo Sample", "Riley Sample"))):
        ref = _ok(
            await f.post(
                "/v1/referrals",
                headers=partner,
                json={
                    "cluster_code": "RES-3",
                    "source_code": "2A",
                    "route": "school_via_cluster_lead",
                    "referring_organisation": "Demo Primary School",
                    "support_type": "early_help",
                    "reason": "Attendance has dropped; arguments at home in the mornings.",
                    "family": {
                        "reference_name": f"Demo family {n + 1}",
                        "members": [
                            {"kind": "adult", "name": adult, "birth_year": 1988},
                            {"kind": "child", "name": child, "birth_year": 2014},
                        ],
                    },
                },
            )
        )
        _ok(
            await f.post(
                f"/v1/referrals/{ref['id']}/conversation",
                headers=tm,
                json={"notes": "Spoke with the cluster lead; RES is the right offer."},
            )
        )
        family_id = _ok(
            await f.post(f"/v1/referrals/{ref['id']}/accept", headers=tm, json={"lead_worker_sub": "demo-sw"})
        )["family_id"]
        form = _ok(
            await f.post(
                f"/v1/families/{family_id}/formulations",
                headers=sw,
                json={"context": "with_family", "participants": [{"role": "mother"}, {"role": "school"}]},
            )
        )
        fid = form["id"]

        async def etag(fid: str = fid) -> str:
            return (await f.get(f"/v1/formulations/{fid}", headers=sw)).headers["etag"]

        async def factor(kind: str, text: str, fid: str = fid) -> str:
            return str(
                _ok(
                    await f.post(
                        f"/v1/formulations/{fid}/factors",
                        headers={**sw, "If-Match": await etag()},
                        json={"kind": kind, "text": text, "driving": False},
                    )
                )["id"]
            )

        presenting = await factor("presenting", "Missing two days of school a week")
        await factor("precipitating", "Move to a new house in the summer")
        perpetuating = await factor("perpetuating", "Morning arguments about getting ready")
        protective = await factor("protective", "Grandmother lives nearby and helps")
        _ok(
            await f.put(
                f"/v1/formulations/{fid}/factors/{perpetuating}/prioritisation",
                headers={**sw, "If-Match": await etag()},
                json={"prerequisite": True, "powerful": True, "proximal": True, "participant_goal": True},
            )
        )
        _ok(
            await f.put(
                f"/v1/formulations/{fid}/next-steps",
                headers={**sw, "If-Match": await etag()},
                json={
                    "summary": "Mornings have become a battle since the move.",
                    "overall_goal": {"text": "School every day, calmly", "factor_ids": [presenting]},
                    "steps": [
                        {
                            "text": "Agree a morning routine; Nan helps twice a week",
                            "addresses_factor_ids": [perpetuating],
                            "builds_on_factor_ids": [protective],
                        }
                    ],
                },
            )
        )
        _ok(await f.post(f"/v1/formulations/{fid}/complete", headers={**sw, "If-Match": await etag()}))
        made.append((sw, family_id, fid, perpetuating, protective))
    return made


async def _demo_plan(
    api: dict[str, httpx.AsyncClient],
    sw: dict[str, str],
    family_id: str,
    formulation_id: str,
    perpetuating: str,
    protective: str,
) -> None:
    """An open plan with one scored SMART sub-goal (the formulation event is delivered by now)."""
    g = api["goals"]
    plan = _ok(
        await g.post(
            "/v1/plans",
            headers=sw,
            json={
                "family_id": family_id,
                "formulation_id": formulation_id,
                "formulation_version": 1,
                "overall_goal": "School every day, calmly",
                "review_every_days": 7,
            },
        )
    )
    today = clock.today()
    goal = _ok(
        await g.post(
            f"/v1/plans/{plan['id']}/goals",
            headers=sw,
            json={
                "text": "Calm mornings before school",
                "code": "E1",
                "category": "education_outcomes",
                "smart": {
                    "specific": "Out of the door by 8.15 without shouting",
                    "measurable": "Family scores mornings 0-10 each week",
                    "achievable": "Routine agreed with Mum and Charlie",
                    "realistic": "Nan helps on Tuesdays and Thursdays",
                    "target_date": (today + timedelta(days=84)).isoformat(),
                },
                "addresses_factor_ids": [perpetuating],
                "builds_on_factor_ids": [protective],
                "baseline": 3,
            },
        )
    )
    for score in (4, 6):  # scores cannot predate the plan, which opens today
        _ok(
            await g.post(
                f"/v1/goals/{goal['id']}/scores",
                headers=sw,
                json={"score": score, "recorded_on": today.isoformat()},
            )
        )


def load_demo(database_url: str, redis_url: str, **overrides: Any) -> str:
    """Blocking entry point for the CLI (runs before the services start)."""
    return asyncio.run(load_demo_async(database_url=database_url, redis_url=redis_url, **overrides))
