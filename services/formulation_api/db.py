"""The formulation service's declarative base; every table lives in the `formulation` schema."""

from sqlalchemy.orm import DeclarativeBase

from shared.db import make_metadata

SCHEMA = "formulation"


class Base(DeclarativeBase):
    metadata = make_metadata(SCHEMA)
