"""The formulation service's declarative base; every table lives in the `formulation` schema."""

from shared.db import make_base

SCHEMA = "formulation"
Base = make_base(SCHEMA)
