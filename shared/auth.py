"""OAuth2 bearer JWTs: HS256 with a local secret in development, RS256 against a JWKS in production.

Every route declares who may call it with `allow(...)`; the route-authorization test walks the route
list and fails on any route without a guard.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import jwt
from fastapi import Request
from fastapi.security import HTTPBearer

from shared.errors import Problem
from shared.settings import ServiceSettings


class Role(StrEnum):
    PRACTITIONER = "practitioner"
    TEAM_MANAGER = "team_manager"
    RETHINK_FACILITATOR = "rethink_facilitator"
    ANALYST = "analyst"
    PARTNER_SYSTEM = "partner_system"
    SCHEDULER = "scheduler"
    ADMIN = "admin"


ALL_ROLES: tuple[Role, ...] = tuple(Role)


@dataclass(frozen=True)
class Principal:
    sub: str
    role: Role
    teams: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def in_team(self, team_id: object) -> bool:
        return str(team_id) in self.teams

    def in_cluster(self, cluster_code: str) -> bool:
        return cluster_code in self.clusters


# A front-end sends the same token with every call for its lifetime; verifying its signature once
# and keeping the claims briefly saves most of the per-request cost of authentication. Entries
# live at most this long (a key removed from the JWKS stops being honoured within it) and never
# past the token's own expiry.
VERIFIED_TOKEN_TTL_SECONDS = 60.0
VERIFIED_TOKEN_CACHE_SIZE = 4096


class Authenticator:
    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self._verified: dict[str, tuple[float, Principal]] = {}
        self._jwks: jwt.PyJWKClient | None = None
        if settings.env == "production":
            if not settings.jwks_url:
                raise RuntimeError("RETHINK_JWKS_URL is required in production")
            self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300)
            self._key: Any = None
        else:
            self._key = settings.dev_jwt_secret()

    async def verify(self, token: str) -> Principal:
        now = time.time()
        cached = self._verified.get(token)
        if cached is not None:
            if cached[0] > now:
                return cached[1]
            del self._verified[token]
        principal = await self._verify_signature(token)
        expires = float(principal.claims.get("exp", now))
        if len(self._verified) >= VERIFIED_TOKEN_CACHE_SIZE:
            # Drop the oldest half: cheap, and a flood of distinct tokens cannot grow memory.
            for stale in list(self._verified)[: VERIFIED_TOKEN_CACHE_SIZE // 2]:
                del self._verified[stale]
        self._verified[token] = (min(expires, now + VERIFIED_TOKEN_TTL_SECONDS), principal)
        return principal

    async def _verify_signature(self, token: str) -> Principal:
        try:
            if self._jwks is not None:
                # PyJWKClient fetches over blocking HTTP (cached); keep it off the event loop.
                signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
                claims = jwt.decode(
                    token,
                    signing_key.key,
                    algorithms=["RS256"],
                    audience=self.settings.jwt_audience,
                    issuer=self.settings.jwt_issuer,
                    options={"require": ["exp", "sub", "iss", "aud"]},
                )
            else:
                claims = jwt.decode(
                    token,
                    self._key,
                    algorithms=["HS256"],
                    audience=self.settings.jwt_audience,
                    issuer=self.settings.jwt_issuer,
                    options={"require": ["exp", "sub"]},
                )
        except (jwt.PyJWTError, ValueError) as exc:
            raise unauthorized(f"invalid token: {type(exc).__name__}") from None
        try:
            role = Role(str(claims.get("role")))
        except ValueError:
            raise unauthorized("token has no known role") from None
        return Principal(
            sub=str(claims["sub"]),
            role=role,
            teams=tuple(str(t) for t in claims.get("teams", []) or []),
            clusters=tuple(str(c) for c in claims.get("clusters", []) or []),
            claims=claims,
        )


def unauthorized(detail: str) -> Problem:
    return Problem(
        401,
        detail=detail,
        rule="authentication_required",
        headers={"WWW-Authenticate": 'Bearer realm="rethink"'},
    )


def issue_dev_token(
    settings: ServiceSettings,
    *,
    role: str,
    sub: str | None = None,
    teams: Sequence[str] = (),
    clusters: Sequence[str] = (),
    ttl_seconds: int = 12 * 3600,
) -> str:
    """A development token signed with the local secret (never valid in production)."""
    role = Role(role).value
    now = int(time.time())
    claims = {
        "sub": sub or f"{role}-dev",
        "role": role,
        "teams": list(teams),
        "clusters": list(clusters),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, settings.dev_jwt_secret(), algorithm="HS256")


_BEARER_DESCRIPTION = "A JWT from `rethink token` or your IdP"


async def authenticate(request: Request) -> Principal:
    """Verify the bearer token once per request and cache the principal on the request."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("a bearer token is required")
    principal = await request.app.state.authenticator.verify(token.strip())
    request.state.principal = principal
    return principal


class RoleGuard(HTTPBearer):
    """Dependency that authenticates and then checks the caller's role against a route's list.

    It is itself the OpenAPI bearer scheme (so /docs offers "Authorize"), rather than depending on
    a separate HTTPBearer: one dependency per request instead of two.
    """

    def __init__(self, roles: Sequence[Role]) -> None:
        if not roles:
            raise ValueError("a route must allow at least one role")
        super().__init__(auto_error=False, scheme_name="HTTPBearer", description=_BEARER_DESCRIPTION)
        self.roles = frozenset(Role(r) for r in roles)

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        principal = await authenticate(request)
        if principal.role not in self.roles:
            raise Problem(
                403,
                detail=f"role {principal.role.value} may not call this route",
                rule="role_not_allowed",
                allowed_roles=sorted(r.value for r in self.roles),
            )
        return principal


def allow(*roles: Role) -> RoleGuard:
    return RoleGuard(roles)
