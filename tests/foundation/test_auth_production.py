"""Production mode: RS256 tokens verified against a JWKS URL, with issuer and audience."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.errors import Problem
from tests.support import client_for, make_token, settings_for

ISSUER, AUDIENCE = "https://idp.example.test/", "rethink-api"


@pytest.fixture(scope="module")
def idp():  # type: ignore[no-untyped-def]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "k1", "use": "sig", "alg": "RS256"})
    body = json.dumps({"keys": [jwk]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield key, f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()


def _token(key, **overrides) -> str:  # type: ignore[no-untyped-def]
    claims = {
        "sub": "u-42",
        "role": "analyst",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": int(time.time()) + 600,
        "teams": [],
        "clusters": [],
    }
    claims.update(overrides)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


def _production_settings(svc, servers, jwks_url, **extra):  # type: ignore[no-untyped-def]
    return settings_for(
        svc,
        servers,
        env="production",
        jwks_url=jwks_url,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_secret=None,
        **extra,
    )


async def test_rs256_against_jwks(idp, servers, services):
    key, jwks_url = idp
    svc = next(s for s in services if s.name == "formulation")
    app = svc.create_app(_production_settings(svc, servers, jwks_url))
    async with app.router.lifespan_context(app), client_for(app, "prod") as client:
        ok = await client.get("/v1/clusters", headers={"Authorization": f"Bearer {_token(key)}"})
        assert ok.status_code == 200, ok.text
        for bad in (
            _token(key, aud="other"),
            _token(key, iss="https://evil/"),
            _token(key, exp=int(time.time()) - 10),
            make_token("admin"),
        ):
            r = await client.get("/v1/clusters", headers={"Authorization": f"Bearer {bad}"})
            assert r.status_code == 401, bad
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged = await client.get("/v1/clusters", headers={"Authorization": f"Bearer {_token(other_key)}"})
        assert forged.status_code == 401


def test_production_requires_jwks(servers, services):
    svc = next(s for s in services if s.name == "formulation")
    with pytest.raises(RuntimeError, match="JWKS"):
        svc.create_app(settings_for(svc, servers, env="production", jwks_url=None))


async def test_verified_tokens_are_reused_only_until_they_expire(idp, servers, services, monkeypatch):
    key, jwks_url = idp
    svc = next(s for s in services if s.name == "formulation")
    settings = _production_settings(svc, servers, jwks_url)
    from shared.auth import Authenticator

    authenticator = Authenticator(settings)
    calls = 0
    verify = authenticator._verify_signature

    async def counting(token: str):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return await verify(token)

    monkeypatch.setattr(authenticator, "_verify_signature", counting)
    token = _token(key, exp=int(time.time()) + 2)
    first = await authenticator.verify(token)
    second = await authenticator.verify(token)
    assert first == second and first.sub == "u-42"
    assert calls == 1  # the signature was checked once
    await asyncio.sleep(max(0.0, int(first.claims["exp"]) - time.time()) + 0.05)  # past its exp
    with pytest.raises(Problem) as refused:
        await authenticator.verify(token)
    assert refused.value.status == 401
    assert calls == 2


def _jwk(key, kid: str) -> dict:  # type: ignore[no-untyped-def]
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
    return jwk  # type: ignore[no-any-return]


@pytest.fixture
def rotating_idp():  # type: ignore[no-untyped-def]
    """A JWKS endpoint whose published keys (or outage: None) the test changes as it goes."""
    published: dict[str, list[dict] | None] = {"keys": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if published["keys"] is None:
                self.send_response(503)
                self.end_headers()
                return
            body = json.dumps(published).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield published, f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()


def _signed(key, kid: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    claims = {"sub": "u-7", "role": "analyst", "iss": ISSUER, "aud": AUDIENCE}
    token = jwt.encode(
        {**claims, "exp": int(time.time()) + 600, "jti": uuid.uuid4().hex},
        key,
        algorithm="RS256",
        headers={"kid": kid},
    )
    return {"Authorization": f"Bearer {token}"}


LIFESPAN = 0.5  # RETHINK_JWKS_LIFESPAN_SECONDS for these tests, instead of 300


async def test_a_key_removed_from_the_jwks_is_refused_once_the_set_is_refreshed(
    rotating_idp, servers, services
):
    """The IdP rotates a (say, leaked) key out: new tokens signed with it stop verifying within the
    JWK set's lifespan, without a restart."""
    published, jwks_url = rotating_idp
    old, new = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    published["keys"] = [_jwk(old, "old"), _jwk(new, "new")]
    svc = next(s for s in services if s.name == "formulation")
    app = svc.create_app(_production_settings(svc, servers, jwks_url, jwks_lifespan_seconds=LIFESPAN))
    async with app.router.lifespan_context(app), client_for(app, "prod") as client:
        assert (await client.get("/v1/clusters", headers=_signed(old, "old"))).status_code == 200
        published["keys"] = [_jwk(new, "new")]
        await asyncio.sleep(LIFESPAN + 0.3)
        refused = await client.get("/v1/clusters", headers=_signed(old, "old"))
        assert refused.status_code == 401, refused.text
        assert refused.json()["rule"] == "authentication_required"
        assert (await client.get("/v1/clusters", headers=_signed(new, "new"))).status_code == 200


async def test_an_unreachable_idp_keeps_the_last_key_set(rotating_idp, servers, services):
    published, jwks_url = rotating_idp
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    published["keys"] = [_jwk(key, "k1")]
    svc = next(s for s in services if s.name == "formulation")
    app = svc.create_app(_production_settings(svc, servers, jwks_url, jwks_lifespan_seconds=LIFESPAN))
    async with app.router.lifespan_context(app), client_for(app, "prod") as client:
        assert (await client.get("/v1/clusters", headers=_signed(key, "k1"))).status_code == 200
        published["keys"] = None  # the IdP is down past the set's lifespan
        await asyncio.sleep(LIFESPAN + 0.3)
        kept = await client.get("/v1/clusters", headers=_signed(key, "k1"))
        assert kept.status_code == 200, kept.text
        unknown = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        assert (await client.get("/v1/clusters", headers=_signed(unknown, "k2"))).status_code == 401


def test_the_jwks_lifespan_must_be_positive(servers, services):
    svc = next(s for s in services if s.name == "formulation")
    with pytest.raises(ValueError, match="jwks_lifespan_seconds"):
        _production_settings(svc, servers, "http://127.0.0.1:1/jwks.json", jwks_lifespan_seconds=0)
