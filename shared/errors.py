"""RFC 9457 problem details, raised by domain code and rendered by the app factory."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

PROBLEM_JSON = "application/problem+json"
_TITLES = {422: "Unprocessable Content", 413: "Content Too Large"}  # RFC 9110 names


class Problem(Exception):
    """An error that becomes an application/problem+json response.

    `rule` names the business or validation rule that was broken and `field` the input it concerns,
    so that API clients can act on the error without parsing prose.
    """

    def __init__(
        self,
        status: int,
        title: str | None = None,
        *,
        detail: str | None = None,
        rule: str | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.status = status
        self.title = title or _TITLES.get(status) or HTTPStatus(status).phrase
        self.detail = detail
        self.rule = rule
        self.field = field
        self.headers = headers
        self.extra = extra
        super().__init__(detail or self.title)

    def body(self, instance: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": f"https://rethink.dev/problems/{self.rule or self.status}",
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            doc["detail"] = self.detail
        if instance:
            doc["instance"] = instance
        if self.rule:
            doc["rule"] = self.rule
        if self.field:
            doc["field"] = self.field
        doc.update(self.extra)
        return doc


def not_found(resource: str, resource_id: object) -> Problem:
    return Problem(
        404,
        f"{resource.title()} not found",
        detail=f"no {resource} {resource_id}",
        rule="not_found",
    )


def conflict(rule: str, detail: str, **extra: Any) -> Problem:
    return Problem(409, "Conflict", detail=detail, rule=rule, **extra)


def unprocessable(field: str, rule: str, detail: str, **extra: Any) -> Problem:
    return Problem(
        422,
        "Unprocessable Content",
        detail=detail,
        rule=rule,
        field=field,
        errors=[{"field": field, "rule": rule, "message": detail}],
        **extra,
    )


def forbidden(detail: str, rule: str = "forbidden") -> Problem:
    return Problem(403, "Forbidden", detail=detail, rule=rule)
