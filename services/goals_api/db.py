"""The goals service's declarative base; every table lives in the `goals` schema."""

from typing import TYPE_CHECKING

from shared.db import make_base

SCHEMA = "goals"

if TYPE_CHECKING:
    # make_base returns type[DeclarativeBase], which mypy cannot use as a base class.
    from sqlalchemy.orm import DeclarativeBase

    class Base(DeclarativeBase):
        pass
else:
    Base = make_base(SCHEMA)
