"""Statistical disclosure control for published counts (shared by the goals and metrics services).

Rules (as in official children's services statistics):
- primary suppression: a count from 1 to ``threshold`` is shown as ``"c"``; 0 is never suppressed;
- secondary suppression: a line (a row or column together with its published total) in which exactly
  one cell is hidden would let a reader recover it by subtraction, so the next smallest non-zero
  visible cell of that line is hidden too, repeated until no line has a lone hidden cell.

``None`` means "not available" and passes through untouched; it never counts as a visible cell.
"""

from __future__ import annotations

from collections.abc import Sequence

SUPPRESSED = "c"

Cell = int | str | None


def _primary(value: int | None, threshold: int) -> bool:
    return value is not None and 1 <= value <= threshold


def _check(value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f"counts must be non-negative integers, got {value!r}")


def _protect_lines(
    values: list[int | None], hidden: list[bool], lines: list[list[int]], prefer: set[int]
) -> None:
    """Hide cells until no line has exactly one hidden cell (``prefer``: tried first on ties)."""
    changed = True
    while changed:
        changed = False
        for line in lines:
            if sum(hidden[k] for k in line) != 1:
                continue
            candidates = [k for k in line if not hidden[k] and values[k]]
            if not candidates:
                continue  # the line is all zeros apart from the hidden cell: nothing left to hide
            pick = min(candidates, key=lambda k: (values[k], k not in prefer, k))
            hidden[pick] = True
            changed = True


def suppress_line(
    values: Sequence[int | None], *, threshold: int = 5, total: int | None = None
) -> tuple[list[Cell], Cell]:
    """Suppress one line of counts and its published total; returns (cells, total as published)."""
    for v in values:
        _check(v)
    _check(total)
    known = sum(v for v in values if v is not None)
    if total is not None and total < known:
        raise ValueError(f"total {total} is less than the sum of the cells {known}")
    cells: list[int | None] = list(values)
    if total is not None:
        cells.append(total)
    hidden = [_primary(v, threshold) for v in cells]
    if total is not None:
        # The total is published, so the cells and the total form one line.
        _protect_lines(cells, hidden, [list(range(len(cells)))], set(range(len(values))))
    shown: list[Cell] = [SUPPRESSED if h else v for v, h in zip(cells, hidden, strict=True)]
    if total is None:
        return shown, None
    return shown[:-1], shown[-1]


def suppress_counts(
    values: Sequence[int | None], *, threshold: int = 5, total: int | None = None
) -> list[Cell]:
    """Suppress one line of counts. Pass ``total`` when a total of the line is published alongside
    (secondary suppression then applies); publish that total via :func:`suppress_line`, because a
    total of 1..threshold must itself be shown as ``"c"``."""
    return suppress_line(values, threshold=threshold, total=total)[0]


def suppress_table(rows: list[list[int]], *, threshold: int = 5) -> list[list[int | str]]:
    """Suppress a 2-D table of counts published with its margins.

    Returns the table as it should be published, WITH margins: each row gets its row total
    appended as a last column, and a last row of column totals (ending with the grand total) is
    added. Margins take part in suppression like any other cell.
    """
    if not rows:
        return []
    width = len(rows[0])
    if any(len(r) != width for r in rows):
        raise ValueError("all rows must have the same number of cells")
    for r in rows:
        for v in r:
            _check(v)
    n_rows, n_cols = len(rows) + 1, width + 1
    grid: list[list[int]] = [[*r, sum(r)] for r in rows]
    grid.append([sum(grid[i][j] for i in range(len(rows))) for j in range(n_cols)])
    flat: list[int | None] = [v for r in grid for v in r]
    hidden = [_primary(v, threshold) for v in flat]
    lines = [[i * n_cols + j for j in range(n_cols)] for i in range(n_rows)]
    lines += [[i * n_cols + j for i in range(n_rows)] for j in range(n_cols)]
    interior = {i * n_cols + j for i in range(n_rows - 1) for j in range(n_cols - 1)}
    _protect_lines(flat, hidden, lines, interior)
    out: list[list[int | str]] = []
    for i in range(n_rows):
        out.append([SUPPRESSED if hidden[i * n_cols + j] else grid[i][j] for j in range(n_cols)])
    return out
