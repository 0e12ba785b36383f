"""The sustainability plan as a copy to print and leave with the family (Appendix 5, step 16).

Plain text by default; `format=html` gives a self-contained page (escaped, print-friendly).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from services.goals_api.goals.models import Goal
from services.goals_api.plans.models import Plan


@dataclass(frozen=True)
class Printable:
    overall_goal: str
    dates: str
    goals: list[str]
    sections: list[tuple[str, list[str]]]  # (heading, lines) for (a)-(e) in order


def build(plan: Plan, goals: list[Goal]) -> Printable:
    sp: dict[str, Any] = plan.sustainability_plan or {}
    if plan.closed_on:
        dates = f"Plan dates: {plan.opened_on:%d/%m/%Y} to {plan.closed_on:%d/%m/%Y}"
    else:
        dates = f"Plan opened: {plan.opened_on:%d/%m/%Y}"
    goal_lines = []
    for g in goals:
        latest = "no score yet" if g.latest_score is None else f"now {g.latest_score} out of 10"
        goal_lines.append(f"{g.text} (started at {g.baseline} out of 10, {latest})")
    supports = [f"{s['who']}: {s['contact']}" for s in sp.get("supports", [])]
    sections = [
        ("a) What we worked on", [sp.get("worked_on") or ""]),
        ("b) What we achieved", [sp.get("achieved") or ""]),
        ("c) How we will keep going", [sp.get("keep_going") or ""]),
        ("d) Who can help, and how to contact them", supports),
        ("e) What to look out for", [sp.get("look_out_for") or ""]),
    ]
    return Printable(plan.overall_goal, dates, goal_lines, sections)


def as_text(p: Printable) -> str:
    lines = ["Our sustainability plan", "=======================", "", f"Our overall goal: {p.overall_goal}"]
    lines += [p.dates, "", "The goals we worked on:"]
    lines += [f"- {g}" for g in p.goals]
    for heading, body in p.sections:
        bullet = "   - " if heading.startswith("d)") else "   "
        lines += ["", heading, *(f"{bullet}{b}" for b in body)]
    return "\n".join([*lines, ""])


_STYLE = (
    "body{font-family:sans-serif;max-width:40em;margin:2em auto;line-height:1.5}"
    "h2{margin-top:1.5em;font-size:1.1em}@media print{body{margin:0}}"
)


def as_html(p: Printable) -> str:
    def items(values: list[str]) -> str:
        return "<ul>" + "".join(f"<li>{escape(v)}</li>" for v in values) + "</ul>"

    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        f"<title>Our sustainability plan</title><style>{_STYLE}</style></head><body>",
        "<h1>Our sustainability plan</h1>",
        f"<p><strong>Our overall goal:</strong> {escape(p.overall_goal)}</p>",
        f"<p>{escape(p.dates)}</p>",
        "<h2>The goals we worked on</h2>",
        items(p.goals),
    ]
    for heading, body in p.sections:
        content = items(body) if heading.startswith("d)") else "".join(f"<p>{escape(b)}</p>" for b in body)
        parts += [f"<h2>{escape(heading)}</h2>", content]
    parts.append("</body></html>")
    return "\n".join(parts)
