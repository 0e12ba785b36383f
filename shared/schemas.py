"""Base pydantic models for request and response bodies."""

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    """Input bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
