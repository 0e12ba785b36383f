"""The goals service's declarative base; every table lives in the `goals` schema."""

from sqlalchemy.orm import DeclarativeBase

from shared.db import make_metadata

SCHEMA = "goals"


class Base(DeclarativeBase):
    metadata = make_metadata(SCHEMA)
