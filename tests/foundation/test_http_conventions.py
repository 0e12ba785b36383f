"""Problem documents, validation, body limits, idempotency, pagination, CORS, metrics, OpenAPI."""

from __future__ import annotations

import base64
import json

from sqlalchemy import text

CLUSTER = {"name": "Inner East", "res_start": "2017-10-01", "co_located": False}


async def _count(backbone, sql: str) -> int:
    async with backbone.engines["formulation"].connect() as conn:
        return int(await conn.scalar(text(sql)) or 0)


async def _nothing_stored(backbone) -> None:
    assert await _count(backbone, "select count(*) from formulation.clusters") == 0
    assert await _count(backbone, "select count(*) from formulation.outbox") == 0
    assert await _count(backbone, "select count(*) from formulation.audit_log") == 0


async def test_malformed_json_is_422_problem(formulation_client, auth, backbone):
    r = await formulation_client.put(
        "/v1/clusters/RES-3",
        content=b'{"name": "x",',
        headers={**auth("admin"), "content-type": "application/json"},
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 422 and body["rule"] == "json_invalid"
    # The whole body is at fault, not a member: "body", with the position in the message.
    assert body["field"] == "body" and body["errors"][0]["field"] == "body"
    assert "13" in body["errors"][0]["message"]
    await _nothing_stored(backbone)


async def test_undecodable_json_is_the_same_422_as_malformed_json(formulation_client, auth, backbone):
    """Bodies FastAPI cannot even decode (not UTF-8; nested too deep) are malformed JSON too."""
    headers = {**auth("admin"), "content-type": "application/json"}
    for content in (
        b'{"name": "\xff\xfe", "res_start": null, "co_located": false}',
        b"[" * 50_000 + b"]" * 50_000,
    ):
        r = await formulation_client.put("/v1/clusters/RES-3", content=content, headers=headers)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert (body["rule"], body["field"]) == ("json_invalid", "body")
        assert body["errors"] == [{"field": "body", "rule": "json_invalid", "message": body["detail"]}]
    await _nothing_stored(backbone)


async def test_unknown_method_is_405_with_a_rule_and_every_allowed_method(formulation_client, auth):
    r = await formulation_client.delete("/v1/clusters/RES-3", headers=auth("admin"))
    assert r.status_code == 405 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["rule"] == "method_not_allowed"
    # GET and PUT are both routes of this path; Starlette names only the first it tried.
    assert {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "PUT"}
    r = await formulation_client.post("/healthz")
    assert (r.status_code, r.json()["rule"], r.headers["allow"]) == (405, "method_not_allowed", "GET")
    r = await formulation_client.get("/v1/nowhere")
    assert (r.status_code, r.json()["rule"]) == (404, "not_found")


async def test_wrong_type_names_field_and_rule(formulation_client, auth, backbone):
    r = await formulation_client.put(
        "/v1/clusters/RES-3", json={**CLUSTER, "res_start": "not-a-date"}, headers=auth("admin")
    )
    assert r.status_code == 422
    body = r.json()
    assert body["field"] == "body.res_start"
    assert body["errors"][0]["rule"].startswith("date")
    await _nothing_stored(backbone)


async def test_unknown_field_rejected(formulation_client, auth, backbone):
    r = await formulation_client.put(
        "/v1/clusters/RES-3", json={**CLUSTER, "colour": "blue"}, headers=auth("admin")
    )
    assert r.status_code == 422
    assert {"field": "body.colour", "rule": "extra_forbidden"}.items() <= r.json()["errors"][0].items()
    await _nothing_stored(backbone)


async def test_oversize_body_is_413(formulation_client, auth, backbone):
    big = {**CLUSTER, "name": "x" * 2_000_000}
    r = await formulation_client.put("/v1/clusters/RES-3", json=big, headers=auth("admin"))
    assert r.status_code == 413
    assert r.json()["rule"] == "body_too_large"
    await _nothing_stored(backbone)


async def test_oversize_chunked_body_is_413(formulation_client, auth, backbone):
    async def chunks():  # streamed: no Content-Length for the middleware to judge up front
        yield b'{"name": "'
        for _ in range(12):
            yield b"x" * 100_000
        yield b'", "res_start": null, "co_located": false}'

    r = await formulation_client.put(
        "/v1/clusters/RES-3",
        content=chunks(),
        headers={**auth("admin"), "content-type": "application/json", "X-Request-ID": "chunked-0001"},
    )
    assert r.status_code == 413 and "content-length" not in r.request.headers
    assert r.headers["content-type"] == "application/problem+json"
    assert (r.json()["rule"], r.json()["request_id"]) == ("body_too_large", "chunked-0001")
    assert r.headers["x-request-id"] == "chunked-0001"
    await _nothing_stored(backbone)


async def test_not_found_and_bad_path_are_problems(formulation_client, auth):
    r = await formulation_client.get("/v1/clusters/NOPE", headers=auth("analyst"))
    assert r.status_code == 404 and r.json()["rule"] == "not_found"
    r = await formulation_client.get("/v1/clusters/bad%20code", headers=auth("analyst"))
    assert r.status_code == 422 and r.json()["field"] == "path.code"
    r = await formulation_client.get("/v1/nowhere")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


async def test_invalid_token_is_401(formulation_client):
    r = await formulation_client.get("/v1/clusters", headers={"Authorization": "Bearer abc.def.ghi"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")


async def test_request_id_echoed_and_generated(formulation_client, auth):
    r = await formulation_client.get(
        "/v1/clusters", headers={**auth("admin"), "X-Request-ID": "abc12345-req"}
    )
    assert r.headers["x-request-id"] == "abc12345-req"
    r2 = await formulation_client.get("/v1/clusters", headers=auth("admin"))
    assert len(r2.headers["x-request-id"]) == 32


async def test_write_is_audited_with_request_id(formulation_client, auth, backbone):
    r = await formulation_client.put(
        "/v1/clusters/RES-3",
        json=CLUSTER,
        headers={**auth("admin", sub="admin-7"), "X-Request-ID": "req-audit-0001"},
    )
    assert r.status_code == 201
    async with backbone.engines["formulation"].connect() as conn:
        row = (
            await conn.execute(
                text(
                    "select actor, role, action, resource_type, resource_id, request_id "
                    "from formulation.audit_log"
                )
            )
        ).one()
    assert tuple(row) == ("admin-7", "admin", "create", "cluster", "RES-3", "req-audit-0001")


async def test_audit_log_refuses_update_and_delete(formulation_client, auth, backbone):
    await formulation_client.put("/v1/clusters/RES-3", json=CLUSTER, headers=auth("admin"))
    for sql in (
        "update formulation.audit_log set actor = 'x'",
        "delete from formulation.audit_log",
        "truncate formulation.audit_log",
    ):
        async with backbone.engines["formulation"].connect() as conn:
            try:
                await conn.execute(text(sql))
            except Exception as exc:
                assert "append-only" in str(exc)
            else:
                raise AssertionError(f"{sql} was allowed")
    assert await _count(backbone, "select count(*) from formulation.audit_log") == 1


async def test_cursor_pagination_walks_all_items(formulation_client, auth):
    for i in range(5):
        await formulation_client.put(f"/v1/clusters/C-{i}", json=CLUSTER, headers=auth("admin"))
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await formulation_client.get("/v1/clusters", params=params, headers=auth("analyst"))).json()
        seen += [c["code"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"C-{i}" for i in range(5)]
    bad = await formulation_client.get("/v1/clusters", params={"cursor": "zzz"}, headers=auth("analyst"))
    assert bad.status_code == 422 and bad.json()["rule"] == "cursor_invalid"


def _cursor(values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


async def test_tampered_cursor_is_422_naming_the_cursor(formulation_client, auth):
    some_id = "00000000-0000-0000-0000-000000000000"
    tampered = {
        "/v1/clusters": [
            _cursor(["\u0000", "x"]),  # PostgreSQL text cannot hold NUL
            _cursor(["\ud800", "x"]),  # a lone surrogate is not UTF-8
            _cursor(["RES-1", 2]),  # encode_cursor writes strings only
            _cursor(["a", "b", "c"]),
            "%%%",
        ],
        "/v1/teams": [
            _cursor(["9999-12-31T23:59:59-05:00", some_id]),  # past datetime.max in UTC
            _cursor(["0001-01-01T00:00:00+05:00", some_id]),  # before datetime.min in UTC
            _cursor(["2020-01-01T00:00:00", some_id]),  # no offset: not one we wrote
            _cursor(["2020-01-01T00:00:00+00:00", "nope"]),
        ],
    }
    for path, cursors in tampered.items():
        for cursor in cursors:
            r = await formulation_client.get(path, params={"cursor": cursor}, headers=auth("admin"))
            assert r.status_code == 422, (path, cursor, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert (r.json()["field"], r.json()["rule"]) == ("query.cursor", "cursor_invalid")
    far = _cursor(["9999-12-31T23:59:59+00:00", some_id])  # odd but valid: an empty page
    r = await formulation_client.get("/v1/teams", params={"cursor": far}, headers=auth("admin"))
    assert r.status_code == 200 and r.json()["items"] == []


async def test_metrics_expose_requests_and_backbone_lag(formulation_client, auth):
    await formulation_client.put("/v1/clusters/RES-3", json=CLUSTER, headers=auth("admin"))
    text_body = (await formulation_client.get("/metrics")).text
    assert 'rethink_http_requests_total{method="PUT",route="/v1/clusters/{code}"' in text_body
    assert 'rethink_outbox_pending_events{service="formulation"} 1.0' in text_body
    assert "rethink_consumer_queue_depth" in text_body
    assert "rethink_http_request_duration_seconds_bucket" in text_body


async def test_openapi_documents_routes_tags_and_security(apps):
    from tests.support import client_for

    for name, app in apps.items():
        async with client_for(app, name) as client:
            spec = (await client.get("/openapi.json")).json()
        assert spec["openapi"].startswith("3.")
        assert spec["info"]["title"].startswith("Rethink")
        assert "HTTPBearer" in spec.get("components", {}).get("securitySchemes", {}) or name != "formulation"
        assert any(t["name"] == "operations" for t in spec["tags"])


async def test_openapi_describes_errors_as_problem_documents(apps):
    from shared.app import PUBLIC_PATHS
    from tests.support import client_for

    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for name, app in apps.items():
        async with client_for(app, name) as client:
            spec = (await client.get("/openapi.json")).json()
        schemas = spec["components"]["schemas"]
        assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
        members = set(schemas["Problem"]["properties"])
        assert {"type", "title", "status", "detail", "rule", "field", "errors", "request_id"} <= members
        checked = 0
        for path, operations in spec["paths"].items():
            if path in PUBLIC_PATHS:
                continue
            for method, operation in operations.items():
                responses = operation["responses"]
                codes = ["401", "403", "422", "4XX", "5XX"] + (["404"] if "{" in path else [])
                for code in codes:
                    assert responses[code]["content"] == problem, (name, method, path, code)
                checked += 1
        assert checked > 5, name


async def test_upload_routes_take_larger_bodies_than_json_routes(metrics_client, auth):
    big = b"x" * 1_200_000  # over the JSON limit, under the upload limit
    r = await metrics_client.post(
        "/v1/imports/ssda903", files={"episodes": ("e.csv", big)}, headers=auth("analyst")
    )
    assert r.status_code != 413  # reached the route (which then judges the file itself)
    r = await metrics_client.post(
        "/v1/service-events", content=big, headers={**auth("analyst"), "content-type": "application/json"}
    )
    assert r.status_code == 413


async def test_cluster_put_creates_then_updates(formulation_client, auth, backbone):
    first = await formulation_client.put("/v1/clusters/RES-3", json=CLUSTER, headers=auth("admin"))
    second = await formulation_client.put(
        "/v1/clusters/RES-3", json={**CLUSTER, "name": "Renamed"}, headers=auth("admin")
    )
    assert (first.status_code, first.json()["revision"]) == (201, 1)
    assert (second.status_code, second.json()["revision"], second.json()["name"]) == (200, 2, "Renamed")
    assert await _count(backbone, "select count(*) from formulation.outbox") == 2
    async with backbone.engines["formulation"].connect() as conn:
        actions = (await conn.execute(text("select action from formulation.audit_log order by id"))).scalars()
        assert list(actions) == ["create", "update"]


async def test_nul_character_is_a_422_naming_the_field(formulation_client, auth, backbone):
    r = await formulation_client.put(
        "/v1/clusters/RES-3", json={**CLUSTER, "name": "Inner\u0000East"}, headers=auth("admin")
    )
    assert r.status_code == 422
    assert (r.json()["field"], r.json()["rule"]) == ("body.name", "no_nul_character")
    await _nothing_stored(backbone)


async def test_responses_are_never_cached_nor_sniffed(formulation_client, auth, backbone):
    for r in (
        await formulation_client.get("/v1/clusters", headers=auth("practitioner")),  # 200
        await formulation_client.get("/v1/clusters"),  # 401 problem
        await formulation_client.get("/healthz"),
    ):
        assert r.headers["cache-control"] == "no-store", r.url
        assert r.headers["x-content-type-options"] == "nosniff", r.url


async def test_yes_no_and_dates_are_not_read_from_numbers(formulation_client, auth, backbone):
    admin = auth("admin")
    for body, field in (
        ({**CLUSTER, "co_located": 0}, "body.co_located"),
        ({**CLUSTER, "co_located": "false"}, "body.co_located"),
        ({**CLUSTER, "res_start": 1767225600}, "body.res_start"),  # 2026-01-01 in seconds: not a date
        ({**CLUSTER, "res_start": "1970-01-01"}, "body.res_start"),  # before 2000: a typing error
        ({**CLUSTER, "res_start": "2099-01-01"}, "body.res_start"),  # beyond any plan
    ):
        r = await formulation_client.put("/v1/clusters/LAX-1", json=body, headers=admin)
        assert r.status_code == 422, (body, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], r.text
    await _nothing_stored(backbone)


async def test_an_unreadable_form_body_is_a_422_naming_the_body(metrics_client, auth):
    r = await metrics_client.post(
        "/v1/imports/ssda903",
        content=b"--x\r\n",
        headers={**auth("analyst"), "Content-Type": "multipart/form-data"},
    )
    assert r.status_code == 422, r.text
    assert (r.json()["rule"], r.json()["field"]) == ("form_invalid", "body")


def test_optional_annotated_dates_and_times_are_not_read_from_numbers():
    from pydantic import ValidationError

    from services.formulation_api.families.schemas import ConsentIn

    try:
        ConsentIn.model_validate({"scope": "group_supervision", "given_by": "Parent", "given_at": 1767225600})
    except ValidationError as exc:
        assert [(e["type"], e["loc"]) for e in exc.errors()] == [("date_type", ("given_at",))]
    else:
        raise AssertionError("a number was read as a time")
