"""The metrics service's declarative base; every table lives in the `metrics` schema."""

from typing import TYPE_CHECKING

from shared.db import make_base

SCHEMA = "metrics"

if TYPE_CHECKING:  # make_base builds the class at run time; give mypy a static one
    from sqlalchemy.orm import DeclarativeBase

    class Base(DeclarativeBase):
        pass

else:
    Base = make_base(SCHEMA)
