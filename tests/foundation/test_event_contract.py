"""What a consumer or the relay does with an event it does not understand: it keeps it where it can
be seen and replayed (dead_events, or the outbox), never records it as done. And a late, older
cluster.upserted never overwrites a newer one. Real arq workers, PostgreSQL and Redis."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from shared.consumer import UnknownEvent, apply_event, replay_dead_events
from shared.events import CATALOGUE, EventEnvelope
from shared.queues import queue_name
from shared.relay import HANDLE_EVENT
from tests.foundation.effects import handler_installed

pytestmark = pytest.mark.backbone


def _svc(backbone, name):  # type: ignore[no-untyped-def]
    return next(s for s in backbone.services if s.name == name)


async def _rows(backbone, svc: str, sql: str) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    async with backbone.engines[svc].connect() as conn:
        return [tuple(r) for r in await conn.execute(text(sql))]


def _cluster_event(code: str, **envelope: Any) -> EventEnvelope:
    return EventEnvelope(
        type="cluster.upserted",
        producer="formulation",
        subject_id=code,
        payload={"cluster_code": code, "res_start": "2019-01-01", "co_located": False},
        **envelope,
    )


async def _enqueue(backbone, data: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    await backbone.redis.enqueue_job(
        HANDLE_EVENT,
        data,
        _job_id=f"metrics:contract:{uuid.uuid4()}",
        _queue_name=queue_name(backbone.servers.queue_prefix, "metrics"),
    )


@pytest.mark.parametrize(
    "event",
    [
        EventEnvelope(type="plan.reopened", producer="goals", subject_id="x", payload={"secret": "no"}),
        _cluster_event("V2", version=2),
    ],
    ids=["unknown_type", "unknown_version"],
)
async def test_an_event_the_consumer_does_not_know_is_parked_not_marked_done(backbone, caplog, event):
    await _enqueue(backbone, event.model_dump(mode="json"))
    worker = backbone.worker("metrics", max_tries=3)
    with caplog.at_level(logging.WARNING, logger="rethink.consumer"):
        await worker.main()
    assert worker.jobs_failed == 0 and worker.jobs_retried == 0  # parked at once: a retry cannot help
    parked = await _rows(
        backbone, "metrics", "select event_id, event_type, error_type from metrics.dead_events"
    )
    assert parked == [(event.event_id, event.type, "UnknownEvent")]
    assert await _rows(backbone, "metrics", "select event_id from metrics.processed_events") == []
    assert await _rows(backbone, "metrics", "select code from metrics.clusters") == []
    warned = [r for r in caplog.records if r.name == "rethink.consumer" and r.levelno == logging.WARNING]
    assert warned and all("secret" not in r.getMessage() and "payload" not in r.__dict__ for r in warned)
    # still unknown: a replay keeps it parked; apply_event refuses it too rather than marking it done
    svc = _svc(backbone, "metrics")
    assert await replay_dead_events(backbone.sessionmakers["metrics"], "metrics", svc.handlers) == (0, 1)
    with pytest.raises(UnknownEvent):
        await apply_event(backbone.sessionmakers["metrics"], "metrics", svc.handlers, event)
    assert len(await _rows(backbone, "metrics", "select event_id from metrics.dead_events")) == 1


async def test_a_parked_unknown_event_is_applied_by_replay_after_an_upgrade(backbone):
    await _enqueue(backbone, _cluster_event("UPG-1", version=2).model_dump(mode="json"))
    await backbone.worker("metrics").main()
    svc = _svc(backbone, "metrics")
    real = svc.handlers["cluster.upserted"]
    upgraded = {**CATALOGUE}
    # the upgraded consumer knows version 2 of cluster.upserted
    from dataclasses import replace

    upgraded["cluster.upserted"] = replace(CATALOGUE["cluster.upserted"], version=2)
    with pytest.MonkeyPatch.context() as mp, handler_installed(svc, "cluster.upserted", real):
        mp.setattr("shared.consumer.CATALOGUE", upgraded)
        assert await replay_dead_events(backbone.sessionmakers["metrics"], "metrics", svc.handlers) == (1, 0)
    assert await _rows(backbone, "metrics", "select code from metrics.clusters") == [("UPG-1",)]
    assert await _rows(backbone, "metrics", "select event_id from metrics.dead_events") == []


@pytest.mark.parametrize("variant", ["unknown_producer", "bad_event_id", "not_a_mapping_payload"])
async def test_an_envelope_that_does_not_validate_is_parked_with_its_raw_data(backbone, variant):
    data = _cluster_event("RAW-1").model_dump(mode="json")
    if variant == "unknown_producer":
        data["producer"] = "referrals"
    elif variant == "bad_event_id":
        data["event_id"] = "not-a-uuid"
    else:
        data["payload"] = ["x"]
    await _enqueue(backbone, data)
    worker = backbone.worker("metrics", max_tries=3)
    await worker.main()
    assert worker.jobs_failed == 0 and worker.jobs_retried == 0
    parked = await _rows(
        backbone, "metrics", "select event_id, event_type, envelope, error_type from metrics.dead_events"
    )
    assert len(parked) == 1
    event_id, event_type, envelope, error = parked[0]
    assert (event_type, envelope, error) == ("cluster.upserted", data, "ValidationError")
    if variant == "bad_event_id":
        assert isinstance(event_id, uuid.UUID)  # a stable id made from the raw data
    else:
        assert str(event_id) == data["event_id"]
    assert await _rows(backbone, "metrics", "select code from metrics.clusters") == []
    # delivered again (a re-send): parked once, not twice
    await _enqueue(backbone, data)
    await backbone.worker("metrics").main()
    assert len(await _rows(backbone, "metrics", "select event_id from metrics.dead_events")) == 1


async def test_an_unknown_envelope_field_from_a_newer_relay_is_ignored(backbone):
    data = {**_cluster_event("EXT-1").model_dump(mode="json"), "trace_id": "abc"}
    await _enqueue(backbone, data)
    worker = backbone.worker("metrics")
    await worker.main()
    assert worker.jobs_failed == 0
    assert await _rows(backbone, "metrics", "select code from metrics.clusters") == [("EXT-1",)]
    assert await _rows(backbone, "metrics", "select event_id from metrics.dead_events") == []


async def test_relay_leaves_an_event_type_it_does_not_know_in_the_outbox(backbone, caplog):
    async with backbone.engines["formulation"].begin() as conn:
        await conn.execute(
            text(
                "insert into formulation.outbox (event_id, type, version, occurred_at, subject_id, payload) "
                "values (gen_random_uuid(), 'family.reopened', 1, now(), 'F-1', '{}'), "
                "(gen_random_uuid(), 'cluster.upserted', 1, now(), 'K-1', "
                """'{"cluster_code": "K-1", "res_start": null, "co_located": false}')"""
            )
        )
    relay = backbone.relay("formulation")
    with caplog.at_level(logging.ERROR, logger="rethink.relay"):
        assert await relay.drain() == 1  # the known event behind it still leaves
        assert await relay.drain() == 0
    pending = await _rows(
        backbone, "formulation", "select type from formulation.outbox where published_at is null"
    )
    assert pending == [("family.reopened",)]  # kept for a relay that knows it (after the upgrade)
    errors = [r for r in caplog.records if r.name == "rethink.relay" and r.levelno == logging.ERROR]
    assert len(errors) == 1 and getattr(errors[0], "event_type", None) == "family.reopened"


def test_every_catalogued_consumer_has_a_handler(services):  # type: ignore[no-untyped-def]
    handlers = {s.name: s.handlers for s in services}
    for spec in CATALOGUE.values():
        for consumer in spec.consumers:
            assert spec.name in handlers[consumer], f"{consumer} is sent {spec.name} but has no handler"
