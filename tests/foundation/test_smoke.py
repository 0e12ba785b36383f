from sqlalchemy import text


async def test_health_and_cluster_event_reaches_consumers(
    formulation_client, goals_client, metrics_client, auth, deliver_events, backbone
):
    for client in (formulation_client, goals_client, metrics_client):
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
    r = await formulation_client.put(
        "/v1/clusters/RES-1",
        json={"name": "2gether", "res_start": "2017-01-01", "co_located": True},
        headers=auth("admin"),
    )
    assert r.status_code == 201, r.text
    assert r.headers["x-request-id"]
    handled = await deliver_events()
    assert handled == 2  # goals and metrics each consume cluster.upserted
    async with backbone.engines["goals"].connect() as conn:
        n = await conn.scalar(text("select count(*) from goals.processed_events"))
    assert n == 1
