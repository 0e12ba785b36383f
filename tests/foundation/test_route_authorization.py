"""Walks every route of every service: no route but health, metrics and docs answers without a token,
and every role outside a route's list gets 403."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.routing import APIRoute

from shared.app import PUBLIC_PATHS
from shared.auth import ALL_ROLES, RoleGuard
from shared.registry import SERVICE_NAMES, load


def _guards(dependant) -> list[RoleGuard]:  # type: ignore[no-untyped-def]
    found = []
    for dep in dependant.dependencies:
        if isinstance(dep.call, RoleGuard):
            found.append(dep.call)
        found += _guards(dep)
    return found


def _routes(service: str) -> list[tuple[str, str, RoleGuard | None]]:
    app = load(service).app_module.SPEC
    rows = []
    for router in app.routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                guards = _guards(route.dependant)
                for method in sorted(route.methods):
                    rows.append((method, route.path, guards[0] if guards else None))
    return rows


ROUTES = [(svc, m, p, g) for svc in SERVICE_NAMES for (m, p, g) in _routes(svc)]


def _concrete(path: str) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if "code" in name or name in {"cluster"}:
            return "RES-1"
        return str(uuid.uuid4())

    return re.sub(r"\{([^}:]+)(?::[^}]*)?\}", fill, path)


def test_every_route_declares_roles() -> None:
    missing = [f"{svc} {m} {p}" for svc, m, p, g in ROUTES if g is None and p not in PUBLIC_PATHS]
    assert ROUTES, "no routes found"
    assert missing == []


@pytest.mark.parametrize(
    ("service", "method", "path", "guard"), ROUTES, ids=[f"{s}:{m}:{p}" for s, m, p, _ in ROUTES]
)
async def test_route_refuses_anonymous_and_other_roles(
    apps, auth, service: str, method: str, path: str, guard: RoleGuard
) -> None:
    from tests.support import client_for

    url = _concrete(path)
    async with client_for(apps[service], service) as client:
        anon = await client.request(method, url, json={})
        assert anon.status_code == 401, (url, anon.text)
        assert anon.headers["content-type"].startswith("application/problem+json")
        for role in ALL_ROLES:
            if role in guard.roles:
                continue
            denied = await client.request(method, url, json={}, headers=auth(role.value))
            assert denied.status_code == 403, (url, role, denied.text)
            assert denied.json()["rule"] == "role_not_allowed"


async def test_public_operational_routes_answer_without_token(apps) -> None:
    from tests.support import client_for

    for service, app in apps.items():
        async with client_for(app, service) as client:
            for path in ("/healthz", "/openapi.json", "/metrics", "/docs"):
                r = await client.get(path)
                assert r.status_code == 200, (service, path)
