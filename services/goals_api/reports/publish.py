"""Disclosure control for published reports, on top of shared.disclosure.

Counts of 1-5 become "c" with secondary suppression (shared.disclosure). A percentage or mean is
hidden whenever a count it is built from is hidden, since it would let a reader work the count
back out; means over five or fewer responses are hidden too.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from services.goals_api.reports.aggregate import ActivityRow, CategoryRow, ClosureRow, Score15Summary
from shared.disclosure import SUPPRESSED, suppress_counts, suppress_line, suppress_table

THRESHOLD = 5
Cell = int | str | None


def hidden(*cells: Cell) -> bool:
    return any(c == SUPPRESSED for c in cells)


def pct(value: int | None, *cells: Cell) -> int | str | None:
    return SUPPRESSED if hidden(*cells) else value


def figure(value: Decimal | None, n: int, *cells: Cell) -> Decimal | str | None:
    """A mean or average over n units: hidden when n is a small number (1-5), or when a count it
    is over (``cells``) is hidden."""
    return SUPPRESSED if 1 <= n <= THRESHOLD or hidden(*cells) else value


def line(values: Sequence[int], total: int) -> tuple[list[Cell], Cell]:
    return suppress_line(list(values), threshold=THRESHOLD, total=total)


def single(value: int) -> Cell:
    return suppress_counts([value], threshold=THRESHOLD)[0]


def part(value: int, whole: int, shown_whole: Cell) -> Cell:
    """A count of some of a published count (goals improved reliably, of those improved): the rest
    is whole - value, so the two are one line against the whole. When the whole is itself hidden
    the part is too: shown, it would bound the hidden whole from below (all six improved goals
    improved reliably: improved is six)."""
    if shown_whole == SUPPRESSED:
        return SUPPRESSED
    return line([value, whole - value], whole)[0][0]


def activities(rows: Sequence[ActivityRow]) -> list[list[int | str]]:
    """Table 4 cells [det, unch, imp, no_score, total] per row, then a totals row."""
    grid = [[r.deteriorated, r.unchanged, r.improved, r.no_score] for r in rows]
    return suppress_table(grid, threshold=THRESHOLD)


def categories(rows: Sequence[CategoryRow]) -> list[list[int | str]]:
    """[improved, unchanged, deteriorated, no score, n] per category, then the totals row.

    The report's summary line (improved ... goals) is this table's totals row, so the two are
    suppressed as one table with its margins: hidden apart, one would give the other away by
    subtraction. With no goals the totals row is all zeros.
    """
    grid = [[r.improved, r.unchanged, r.deteriorated, r.no_score] for r in rows]
    return suppress_table(grid, threshold=THRESHOLD) or [[0, 0, 0, 0, 0]]


def closures(rows: Sequence[ClosureRow], total: int) -> tuple[list[Cell], Cell]:
    return line([r.count for r in rows], total)


def score15_change(s: Score15Summary) -> tuple[list[Cell], Cell]:
    """[fewer, more, unchanged] difficulties against paired members; unchanged is not published
    but is in the line, since paired - fewer - more gives it."""
    unchanged = s.paired - s.fewer_difficulties - s.more_difficulties
    return line([s.fewer_difficulties, s.more_difficulties, unchanged], s.paired)
