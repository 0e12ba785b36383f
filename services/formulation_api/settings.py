"""Settings for the formulation service (environment prefix RETHINK_)."""

from pydantic import AliasChoices, Field

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    port: int = Field(default=8001, validation_alias=AliasChoices("RETHINK_FORMULATION_PORT"))
