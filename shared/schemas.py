"""Base pydantic models for request and response bodies."""

import types
from datetime import date
from typing import Annotated, Any, ClassVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


def _bare(annotation: Any) -> Any:
    """The type under ``Annotated[...]`` (kept by pydantic inside ``X | None``)."""
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation


def _is(annotation: Any, kind: type) -> bool:
    """``kind`` (or a subclass: datetime for date), or the same ``| None``, annotated or not."""
    annotation = _bare(annotation)
    if isinstance(annotation, type):
        return issubclass(annotation, kind)
    if get_origin(annotation) in (Union, types.UnionType):
        args = [_bare(a) for a in get_args(annotation) if a is not type(None)]
        return len(args) == 1 and isinstance(args[0], type) and issubclass(args[0], kind)
    return False


class RequestModel(BaseModel):
    """Input bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    # Per class, the fields lax mode would read too freely: name -> bool or date (worked out once
    # when the class is defined, not for every field of every request).
    _strict_kinds: ClassVar[dict[str, type]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._strict_kinds = {
            name: kind
            for name, field in cls.model_fields.items()
            for kind in (bool, date)
            if _is(field.annotation, kind)
        }

    @field_validator("*", mode="before")
    @classmethod
    def _no_lax_booleans_or_dates(cls, value: Any, info: ValidationInfo) -> Any:
        # Lax mode reads 0 and "no" as false, and a number as a date (seconds since 1970): a yes/no
        # answer must be a JSON boolean, and a date a string.
        if value is None or info.field_name is None:
            return value
        kind = cls._strict_kinds.get(info.field_name)
        if kind is bool and not isinstance(value, bool):
            raise PydanticCustomError("bool_type", "Input should be a JSON boolean (true or false)")
        if kind is date and not isinstance(value, str | date):  # date or datetime
            raise PydanticCustomError("date_type", "Input should be a date (YYYY-MM-DD) or an ISO 8601 time")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_nul_characters(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL: refuse it here as a 422 rather than fail as a 500.
        if _has_nul(value):
            raise PydanticCustomError("no_nul_character", "text must not contain NUL characters")
        return value


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ProblemError(BaseModel):
    """One failed check of a 422: which input, which rule, and a message for people."""

    field: str | None = Field(None, description="Where: `body.<name>`, `query.<name>`, `path.<name>`, …")
    rule: str = Field(description="The rule that was broken (e.g. `missing`, `less_than_equal`)")
    message: str = ""


class ProblemDocument(BaseModel):
    """An RFC 9457 problem document (`application/problem+json`), the body of every 4xx/5xx.

    Published in OpenAPI as the `Problem` schema. Members beyond these carry the rule's own data
    (e.g. `current_etag` on a 412).
    """

    model_config = ConfigDict(title="Problem", extra="allow")

    type: str = Field(description="A URI naming the problem kind: https://rethink.dev/problems/<rule>")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(None, description="The request path")
    rule: str | None = Field(None, description="The business or validation rule that was broken")
    field: str | None = Field(None, description="The input the problem concerns")
    errors: list[ProblemError] | None = Field(None, description="Every failed check (422)")
    request_id: str | None = Field(None, description="Quote it when reporting the problem")
