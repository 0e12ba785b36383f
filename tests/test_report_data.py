"""The tests' copy of the report's printed tables must match the shared original when it is present."""

import json
from pathlib import Path

COPY = Path(__file__).resolve().parent / "data" / "evaluation_tables.json"
ORIGINAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "evaluation_tables.json"


def test_copy_matches_shared_original() -> None:
    copy = json.loads(COPY.read_text())
    assert copy["table_1_cp_plans"]["rows"] and copy["table_2_cla_starts"]["rows"]
    if ORIGINAL.exists():  # CI lays shared/ beside the clone; a bare clone still has the copy
        assert copy == json.loads(ORIGINAL.read_text())


def test_packaged_unit_cost_breakdown_matches_shared_original() -> None:
    packaged = Path(__file__).resolve().parents[1] / "services" / "metrics_worker" / "data"
    csv = packaged / "cp_plan_unit_cost_breakdown.csv"
    assert csv.read_text().startswith("step,activity,practitioner,hours")
    original = ORIGINAL.parent / "cp_plan_unit_cost_breakdown.csv"
    if original.exists():
        assert csv.read_text() == original.read_text()
