"""OAuth2 bearer JWTs: HS256 with a local secret in development, RS256 against a JWKS in production.

Every route declares who may call it with `allow(...)`; the route-authorization test walks the route
list and fails on any route without a guard.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import jwt
from fastapi import Request
from fastapi.security import HTTPBearer

from shared.errors import Problem
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)


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
        return canonical_team_id(team_id) in self.teams

    def in_cluster(self, cluster_code: str) -> bool:
        return cluster_code in self.clusters

    @property
    def scope_fingerprint(self) -> str:
        """Digest of what decides this principal's access (role, teams, clusters), to tell whether
        two tokens of the same sub may see the same things."""
        scope = [self.role.value, sorted(self.teams), sorted(self.clusters)]
        return hashlib.sha256(json.dumps(scope).encode()).hexdigest()


def canonical_team_id(team_id: object) -> str | None:
    """A team id in the one form the principal holds (lower-case hyphenated UUID); None if it is
    not a team id."""
    try:
        return str(team_id if isinstance(team_id, uuid.UUID) else uuid.UUID(str(team_id)))
    except ValueError:
        return None


# A front-end sends the same token with every call for its lifetime; verifying its signature once
# and keeping the claims briefly saves most of the per-request cost of authentication. Entries
# live at most this long and never past the token's own expiry. So a key removed from the JWKS
# stops verifying new tokens once the key set is refreshed (RETHINK_JWKS_LIFESPAN_SECONDS, 300 s by
# default), and a token verified with it just before then is honoured at most this much longer.
VERIFIED_TOKEN_TTL_SECONDS = 60.0
VERIFIED_TOKEN_CACHE_SIZE = 4096


class _JwksClient(jwt.PyJWKClient):
    """Keys come from the cached JWK set only (never a per-kid cache that outlives it), and an
    unreachable IdP keeps the last set it published rather than refusing every token."""

    _last_good: Any = None

    def fetch_data(self) -> Any:
        try:
            data = super().fetch_data()
        except jwt.PyJWKClientConnectionError:
            if self._last_good is None:
                raise
            log.warning("jwks unreachable; keeping the last key set", extra={"jwks_url": self.uri})
            # Cached again for a lifespan, so only one request per lifespan waits on the IdP.
            if self.jwk_set_cache is not None:
                self.jwk_set_cache.put(self._last_good)
            return self._last_good
        self._last_good = data
        return data


class Authenticator:
    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self._verified: dict[str, tuple[float, Principal]] = {}
        self._jwks: jwt.PyJWKClient | None = None
        if settings.env == "production":
            if not settings.jwks_url:
                raise RuntimeError("RETHINK_JWKS_URL is required in production")
            # No cache_keys: PyJWT's per-kid cache has no expiry, so a key rotated out of the set
            # would verify new tokens until a restart. A lookup in the cached set is cheap.
            self._jwks = _JwksClient(settings.jwks_url, lifespan=settings.jwks_lifespan_seconds)
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
        teams = []
        for team in _string_list(claims, "teams"):
            canonical = canonical_team_id(team)
            if canonical is None:
                raise unauthorized("token claim teams holds a value that is not a team id (a UUID)")
            teams.append(canonical)
        return Principal(
            sub=str(claims["sub"]),
            role=role,
            teams=tuple(dict.fromkeys(teams)),
            clusters=tuple(dict.fromkeys(_string_list(claims, "clusters"))),
            claims=claims,
        )


def _string_list(claims: dict[str, Any], name: str) -> list[str]:
    """A list-of-strings claim; absent or null is empty, anything else is refused, not guessed at."""
    value = claims.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise unauthorized(f"token claim {name} must be a list of strings")
    return value


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
