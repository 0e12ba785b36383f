"""/docs and /openapi.json: every JSON request body carries an example the API accepts, every route
has a summary, every tag a description, and file uploads say what each part is."""

from __future__ import annotations

import json
import types
from typing import Any, Union, get_args, get_origin

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from shared.registry import SERVICE_NAMES, load

METHODS = {"get", "put", "post", "patch", "delete"}


@pytest.fixture(scope="module", params=SERVICE_NAMES)
def service(request: pytest.FixtureRequest) -> tuple[FastAPI, dict[str, Any]]:
    # Documentation only: no lifespan, so no database or Redis is needed.
    app = load(request.param).create_app()
    return app, app.openapi()


def _routes(app: FastAPI) -> dict[tuple[str, str], APIRoute]:
    """(method, path) -> the route as declared, walking into included routers."""
    found: dict[tuple[str, str], APIRoute] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            for method in context.methods or ():
                found[(method.lower(), str(context.path_format))] = route
    return found


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def _body_model(route: APIRoute) -> type[BaseModel]:
    assert route.body_field is not None
    annotation = route.body_field.field_info.annotation
    if get_origin(annotation) in (Union, types.UnionType):  # an optional body: `Model | None`
        (annotation,) = [a for a in get_args(annotation) if a is not type(None)]
    assert isinstance(annotation, type) and issubclass(annotation, BaseModel), annotation
    return annotation


def _ref_names(schema: dict[str, Any]) -> list[str]:
    """The component names a body schema points at (`$ref`, or `anyOf` with null for optional bodies)."""
    if "$ref" in schema:
        return [schema["$ref"].rsplit("/", 1)[-1]]
    return [name for option in schema.get("anyOf", []) for name in _ref_names(option)]


def test_every_json_request_body_has_examples_the_model_accepts(
    service: tuple[FastAPI, dict[str, Any]],
) -> None:
    app, document = service
    routes = _routes(app)
    components = document["components"]["schemas"]
    checked = 0
    problems: list[str] = []
    for method, path, op in _operations(document):
        content = op.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            continue
        where = f"{method.upper()} {path}"
        names = _ref_names(content["application/json"]["schema"])
        assert len(names) == 1, f"{where}: body schema is not one named model"
        model = _body_model(routes[(method, path)])
        assert model.__name__ == names[0], f"{where}: {model.__name__} published as {names[0]}"
        examples = components[names[0]].get("examples") or []
        if not examples:
            problems.append(f"{where} ({names[0]}): no example")
        for example in examples:
            model.model_validate(json.loads(json.dumps(example)))  # raises if the API would refuse it
            checked += 1
    assert problems == []
    assert checked > 0


def test_upload_routes_describe_the_route_and_every_part(service: tuple[FastAPI, dict[str, Any]]) -> None:
    _, document = service
    components = document["components"]["schemas"]
    problems: list[str] = []
    for method, path, op in _operations(document):
        content = op.get("requestBody", {}).get("content", {})
        if "multipart/form-data" not in content:
            continue
        where = f"{method.upper()} {path}"
        if not op.get("description"):
            problems.append(f"{where}: no description")
        (name,) = _ref_names(content["multipart/form-data"]["schema"])
        for part, schema in components[name]["properties"].items():
            if not schema.get("description"):
                problems.append(f"{where}: part {part!r} has no description")
    assert problems == []


def test_every_route_has_a_summary_and_every_tag_a_description(
    service: tuple[FastAPI, dict[str, Any]],
) -> None:
    app, document = service
    routes = _routes(app)
    declared = {tag["name"]: tag.get("description") for tag in document.get("tags", [])}
    problems: list[str] = []
    for method, path, op in _operations(document):
        where = f"{method.upper()} {path}"
        # FastAPI makes up a summary from the function name: ask for one given on the route.
        if not routes[(method, path)].summary:
            problems.append(f"{where}: no summary")
        if not op.get("tags"):
            problems.append(f"{where}: no tag")
        for tag in op.get("tags", []):
            if not declared.get(tag):
                problems.append(f"{where}: tag {tag!r} is not declared with a description")
    assert problems == []
    assert len(routes) == len(_operations(document))
