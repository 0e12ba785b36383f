"""The Children and Families Codes table, loaded once from package data.

The table is transcribed from Appendix 5 of the evaluation report; each sub-goal carries one code so
outcomes can be measured against the Children and Young People's Plan priorities.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class ChildrenFamiliesCode:
    code: str
    outcome: str
    priority_number: int | None
    priority: str

    @property
    def group(self) -> str:
        """Outcome group letter: S safe, E education, H health, F fun, C citizens, A adults."""
        return self.code[0]


@cache
def codes() -> tuple[ChildrenFamiliesCode, ...]:
    raw = resources.files(__package__).joinpath("children_families_codes.json").read_text("utf-8")
    return tuple(ChildrenFamiliesCode(**row) for row in json.loads(raw)["codes"])


@cache
def by_code() -> dict[str, ChildrenFamiliesCode]:
    return {c.code: c for c in codes()}


def is_valid_code(code: str) -> bool:
    return code in by_code()
