"""docs/architecture.md must list every event type and every table as they are now."""

from pathlib import Path

from shared.catalogue_doc import render, render_tables

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def test_event_catalogue_in_doc_is_current() -> None:
    assert render() in DOC.read_text(), "regenerate with: uv run python -m shared.catalogue_doc"


def test_table_list_in_doc_is_current() -> None:
    assert render_tables() in DOC.read_text(), "regenerate with: uv run python -m shared.catalogue_doc"
