"""SVG line chart of one cluster's monthly series, RES start marked, before/after averages drawn."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from xml.sax.saxutils import escape, quoteattr

from services.metrics_worker.months import format_month

WIDTH, HEIGHT = 800, 360
LEFT, RIGHT, TOP, BOTTOM = 50, 20, 40, 50


def series_svg(
    title: str,
    months: Sequence[date],
    counts: Sequence[int | None],
    res_start: date | None,
    pre_average: float | None,
    post_average: float | None,
    as_of: datetime | None = None,
) -> str:
    if len(months) != len(counts) or not months:
        raise ValueError("one count per month, at least one month")
    top = max([*(c for c in counts if c is not None), pre_average or 0, post_average or 0, 1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(months) - 1, 1)

    def x(i: float) -> float:
        return round(LEFT + i * step, 2)

    def y(v: float) -> float:
        return round(TOP + plot_h - v / top * plot_h, 2)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label={quoteattr(title)}>',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="24" font-family="sans-serif" font-size="14">{escape(title)}</text>',
        f'<line class="axis" x1="{LEFT}" y1="{y(0)}" x2="{x(len(months) - 1)}" y2="{y(0)}" stroke="#333"/>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{y(0)}" stroke="#333"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" font-size="10">{top:g}</text>',
        f'<text x="{LEFT - 6}" y="{y(0) + 4}" text-anchor="end" font-size="10">0</text>',
    ]
    for i, m in enumerate(months):
        if m.month in (1, 4, 7, 10) or i == 0:
            parts.append(
                f'<text x="{x(i)}" y="{y(0) + 16}" text-anchor="middle" font-size="9">'
                f"{format_month(m)}</text>"
            )
    # A hidden (suppressed) month breaks the line rather than being drawn as zero.
    runs: list[list[str]] = [[]]
    for i, v in enumerate(counts):
        if v is None:
            runs.append([])
        else:
            runs[-1].append(f"{x(i)},{y(v)}")
    for run in (r for r in runs if r):
        points = " ".join(run)
        parts.append(f'<polyline class="series" fill="none" stroke="#1f77b4" points="{points}"/>')
    split = next((i for i, m in enumerate(months) if res_start and m >= res_start), None)
    if res_start is not None and split is not None:
        parts.append(
            f'<line class="res-start" x1="{x(split)}" y1="{TOP}" x2="{x(split)}" y2="{y(0)}" '
            'stroke="#d62728" stroke-dasharray="4 3"/>'
            f'<text x="{x(split) + 4}" y="{TOP + 10}" font-size="10" fill="#d62728">'
            f"RES start {format_month(res_start)}</text>"
        )
    pre_end = (split if split is not None else len(months)) - 1
    for cls, avg, a, b in (
        ("pre-average", pre_average, 0, pre_end),
        ("post-average", post_average, split, len(months) - 1),
    ):
        if avg is None or a is None or b < a:
            continue
        parts.append(
            f'<line class="{cls}" x1="{x(a)}" y1="{y(avg)}" x2="{x(b)}" y2="{y(avg)}" '
            f'stroke="#2ca02c" stroke-width="2"><title>{cls} {avg:.2f}</title></line>'
        )
    if as_of is not None:
        stamp = as_of.isoformat(timespec="seconds")
        parts.append(
            f'<text class="as-of" x="{WIDTH - RIGHT}" y="{HEIGHT - 8}" text-anchor="end" '
            f'font-size="9" fill="#555">data as of {escape(stamp)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)
