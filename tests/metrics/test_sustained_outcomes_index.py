"""Sustained outcomes find the closed RES plans through a partial index, not a scan of every
service record; statutory records (the bulk of every import) are not in that index."""

from typing import Any

from sqlalchemy import event, text

CLOSED_INDEX = "ix_service_records_res_closed"


async def _insert(backbone, type_: str, n: int, start: int) -> None:  # type: ignore[no-untyped-def]
    async with backbone.engines["metrics"].begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO metrics.service_records (source_id, type, cluster_code, occurred_on, child_ref)"
                " SELECT 's' || i, :type, 'RES-1', DATE '2018-01-01' + (i % 700), 'c' || (i % 300)"
                " FROM generate_series(CAST(:start AS int), CAST(:stop AS int)) AS i"
            ),
            {"type": type_, "start": start, "stop": start + n - 1},
        )


async def _index_size(backbone) -> int:  # type: ignore[no-untyped-def]
    async with backbone.engines["metrics"].connect() as conn:
        size = await conn.scalar(text(f"SELECT pg_relation_size('metrics.{CLOSED_INDEX}')"))
    return int(size)


def _index_names(node: dict[str, Any]) -> set[tuple[str, str]]:
    found = set()
    if "Index Name" in node:
        found.add((node.get("Alias", ""), node["Index Name"]))
    for child in node.get("Plans", []):
        found |= _index_names(child)
    return found


async def test_closed_plans_are_found_through_a_partial_index(metrics_client, auth, backbone, apps):
    await _insert(backbone, "res_referral_received", 200, 0)
    await _insert(backbone, "cla_start", 2000, 1000)
    await _insert(backbone, "res_plan_closed", 200, 5000)

    captured: list[tuple[str, Any]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "res_plan_closed" in statement:
            captured.append((statement, parameters))

    engine = apps["metrics"].state.engine.sync_engine
    event.listen(engine, "after_cursor_execute", keep)
    try:
        r = await metrics_client.get(
            "/v1/metrics/sustained-outcomes",
            params={"from": "2018-01", "to": "2018-06"},
            headers=auth("analyst"),
        )
    finally:
        event.remove(engine, "after_cursor_execute", keep)
    assert r.status_code == 200, r.text
    assert sum(row["plans_closed"] for row in r.json()["rows"]) > 0
    ((statement, parameters),) = captured
    # The test table is small, so the planner would scan it anyway: forbid that, and the outer
    # scan of closed plans must still have an index it can use (the predicate must match).
    async with backbone.engines["metrics"].connect() as conn:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        result = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
        plan = result.scalar_one()[0]["Plan"]
    assert ("c", CLOSED_INDEX) in _index_names(plan), plan

    # A statutory import adds nothing to the index; closed RES plans do.
    size = await _index_size(backbone)
    await _insert(backbone, "cla_start", 5000, 10000)
    assert await _index_size(backbone) == size
    await _insert(backbone, "res_plan_closed", 2000, 20000)
    assert await _index_size(backbone) > size
