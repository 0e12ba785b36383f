"""`cluster.upserted` keeps the goals service's copy of a cluster, newest event wins."""

from sqlalchemy import text

from shared.consumer import apply_event


async def test_cluster_upserts_applied_in_reverse_order_keep_the_newer(formulation_client, auth, backbone):
    admin = auth("admin")
    for res_start in ("2019-01-01", "2020-06-01"):
        body = {"name": "Ord", "res_start": res_start, "co_located": res_start > "2020"}
        r = await formulation_client.put("/v1/clusters/ORD-2", json=body, headers=admin)
        assert r.status_code in (200, 201), r.text
    older, newer = await backbone.outbox_envelopes("formulation", "cluster.upserted")
    goals = next(s for s in backbone.services if s.name == "goals")
    # the newer event first (the older one was retried, or taken by a slower worker)
    for event in (newer, older):
        assert await apply_event(backbone.sessionmakers["goals"], "goals", goals.handlers, event)
    async with backbone.engines["goals"].connect() as conn:
        rows = (
            await conn.execute(text("select code, res_start::text, co_located from goals.clusters"))
        ).all()
    assert [tuple(r) for r in rows] == [("ORD-2", "2020-06-01", True)]
