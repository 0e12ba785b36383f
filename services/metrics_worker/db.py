"""The metrics service's declarative base; every table lives in the `metrics` schema."""

from sqlalchemy.orm import DeclarativeBase

from shared.db import make_metadata

SCHEMA = "metrics"


class Base(DeclarativeBase):
    metadata = make_metadata(SCHEMA)
