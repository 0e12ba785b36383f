"""Portable JSON and printable HTML of a formulation and its next steps (it travels with
the family)."""

from __future__ import annotations

from html import escape
from typing import Any

from services.formulation_api.formulations.rules import FactorKind

HEADINGS = {
    FactorKind.PRESENTING: "Presenting: the problem now",
    FactorKind.PREDISPOSING: "Predisposing: what made this more likely",
    FactorKind.PRECIPITATING: "Precipitating: what triggered it",
    FactorKind.PERPETUATING: "Perpetuating: what keeps it going",
    FactorKind.PROTECTIVE: "Protective: strengths and resources",
    FactorKind.PREDICTIVE: "Predictive: what is likely to happen next",
}


def document(
    formulation: dict[str, Any], family_name: str, recipient: str, agency: str | None
) -> dict[str, Any]:
    factors = formulation["factors"]
    by_id = {f["id"]: f for f in factors}
    return {
        "format": "rethink.formulation/1",
        "recipient": {"type": recipient, "agency": agency},
        "family": {"id": formulation["family_id"], "name": family_name},
        "formulation": {
            "id": formulation["id"],
            "version": formulation["version"],
            "previous_id": formulation["previous_id"],
            "status": formulation["status"],
            "context": formulation["context"],
            "completed_on": formulation["completed_on"],
            "summary": formulation["summary"],
            "factors": {
                kind.value: [
                    {
                        "id": f["id"],
                        "text": f["text"],
                        "driving": f["driving"],
                        "priority": f["priority"],
                    }
                    for f in factors
                    if f["kind"] == kind.value
                ]
                for kind in FactorKind
            },
        },
        "next_steps": {
            "overall_goal": {
                "text": formulation["overall_goal"]["text"],
                "linked_factors": [
                    by_id[i]["text"] for i in formulation["overall_goal"]["factor_ids"] if i in by_id
                ],
            },
            "steps": [
                {
                    "text": s["text"],
                    "addresses": [by_id[i]["text"] for i in s["addresses_factor_ids"] if i in by_id],
                    "builds_on": [by_id[i]["text"] for i in s["builds_on_factor_ids"] if i in by_id],
                }
                for s in formulation["steps"]
            ],
        },
    }


def html(doc: dict[str, Any]) -> str:
    """A self-contained page that prints on A4; every value is escaped."""
    e = escape
    f = doc["formulation"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Rethink Formulation v{f['version']} - {e(doc['family']['name'])}</title>",
        "<style>body{font-family:sans-serif;max-width:48em;margin:2em auto}"
        "section{break-inside:avoid;border:1px solid #999;padding:.5em 1em;margin:.5em 0}"
        ".driving{text-decoration:underline}.priority{font-weight:bold}"
        "@page{size:A4;margin:15mm}</style></head><body>",
        f"<h1>Rethink Formulation: {e(doc['family']['name'])}</h1>",
        f"<p>Version {f['version']}, {e(str(f['context']))}, completed {e(str(f['completed_on']))}.</p>",
    ]
    if doc["recipient"]["agency"]:
        parts.append(f"<p>Shared with {e(doc['recipient']['agency'])} with the family's consent.</p>")
    for kind in FactorKind:
        parts.append(f"<section><h2>{e(HEADINGS[kind])}</h2><ul>")
        for factor in f["factors"][kind.value]:
            cls = " ".join(
                c for c, on in (("driving", factor["driving"]), ("priority", factor["priority"])) if on
            )
            parts.append(f"<li class='{cls}'>{e(factor['text'])}</li>")
        parts.append("</ul></section>")
    if f["summary"]:
        parts.append(f"<section><h2>What we think is going on</h2><p>{e(f['summary'])}</p></section>")
    ns = doc["next_steps"]
    goal = ns["overall_goal"]["text"] or ""
    parts.append(f"<section><h2>Overall goal</h2><p>{e(goal)}</p></section>")
    parts.append("<section><h2>Next steps</h2><ol>")
    for step in ns["steps"]:
        addresses = ", ".join(e(t) for t in step["addresses"])
        builds = ", ".join(e(t) for t in step["builds_on"])
        parts.append(
            f"<li>{e(step['text'])}<br><small>Addresses: {addresses}. Builds on: {builds}.</small></li>"
        )
    parts.append("</ol></section></body></html>")
    return "".join(parts)
