"""Render the event catalogue as the Markdown table kept in docs/architecture.md.

`uv run python -m shared.catalogue_doc` rewrites those sections; a test fails when the document drifts.
"""

from __future__ import annotations

from pathlib import Path

from shared.events import CATALOGUE


def _fields(model: type) -> str:
    parts = []
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        annotation = getattr(field.annotation, "__name__", None) or str(field.annotation)
        annotation = annotation.replace("typing.", "").replace("shared.events.", "")
        annotation = annotation.replace("uuid.", "").replace("datetime.", "").replace(" | ", " or ")
        parts.append(f"`{name}`: {annotation}")
    return "; ".join(parts)


def render() -> str:
    lines = [
        "| event | producer | consumers | payload (ids, dates, codes, counts only) |",
        "|---|---|---|---|",
    ]
    for spec in CATALOGUE.values():
        lines.append(
            f"| `{spec.name}` v{spec.version} | {spec.producer} | {', '.join(spec.consumers)} | "
            f"{_fields(spec.payload)} |"
        )
    return "\n".join(lines)


def render_tables() -> str:
    from shared.registry import load_all

    lines = []
    for svc in load_all():
        names = sorted(t.name for t in svc.metadata.sorted_tables)
        lines.append(f"- **{svc.schema}**: " + ", ".join(f"`{n}`" for n in names))
    return "\n".join(lines)


def write(path: Path) -> None:
    """Replace the generated sections of the architecture document."""
    text = path.read_text()
    for marker, body in (("events", render()), ("tables", render_tables())):
        begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end)
        text = f"{head}{begin}\n{body}\n{end}{tail}"
    path.write_text(text)


if __name__ == "__main__":
    write(Path(__file__).resolve().parent.parent / "docs" / "architecture.md")
