"""Test runs that share a PostgreSQL and a Redis server leave each other's data alone.

arq's job keys are global (arq:job:<id>, arq:result:<id>, ...), so each run claims a Redis logical
database of its own and deletes keys only there; runs on the same database as others delete only
their own queue prefix."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
import redis

from shared.embedded import env_urls
from tests.support import (
    CLAIM_KEY,
    Servers,
    claim_redis_database,
    clean_redis,
    redis_url_db,
    redis_url_with_db,
)

pytestmark = pytest.mark.backbone


def _given_url(servers: Servers) -> str:
    """The URL the run was given (other programs' database), or its private server's."""
    return env_urls()[1] or servers.redis_url


def _keys(url: str, *names: str) -> set[str]:
    with redis.Redis.from_url(url) as client:
        return {n for n in names if client.exists(n)}


def _job_keys(job: str) -> list[str]:
    return [f"arq:{kind}:{job}" for kind in ("job", "result", "in-progress", "retry")]


def test_each_run_claims_a_redis_database_of_its_own(servers):
    given = _given_url(servers)
    first = claim_redis_database(given)
    second = claim_redis_database(given)
    assert first is not None and second is not None
    try:
        taken = {redis_url_db(given), redis_url_db(servers.redis_url)}
        assert first.db != second.db and not {first.db, second.db} & taken
        assert first.holds() and second.holds()
        with first.client() as client:
            client.set("arq:job:first-run-job", b"x")
    finally:
        first.release()
        second.release()
    # released: its keys are gone and the next run may claim it
    assert _keys(first.url, "arq:job:first-run-job", CLAIM_KEY) == set()


async def test_clean_up_deletes_this_runs_keys_and_no_one_elses(servers):
    other_run = claim_redis_database(_given_url(servers))  # another run on the same server
    assert other_run is not None
    job = f"job-{uuid.uuid4().hex}"
    ours = [f"{servers.queue_prefix}:events:goals", *_job_keys(job)]
    theirs = ["rethink-test-other:events:goals", f"{servers.queue_prefix}0:events:goals", *_job_keys(job)]
    try:
        for url, names in ((servers.redis_url, ours), (other_run.url, theirs)):
            with redis.Redis.from_url(url) as client:
                for name in names:
                    client.set(name, b"x")
        await clean_redis(servers)
        assert _keys(servers.redis_url, *ours) == set()
        assert _keys(other_run.url, *theirs) == set(theirs)
    finally:
        other_run.release()


async def test_on_a_shared_database_clean_up_keeps_to_its_queue_prefix(servers):
    """No database could be claimed: the run shares the given one, and arq's keys there may be anyone's."""
    shared_url = redis_url_with_db(_given_url(servers), redis_url_db(_given_url(servers)))
    sharing = dataclasses.replace(servers, redis_url=shared_url, redis_claim=None, redis_process=None)
    assert not sharing.redis_is_private
    job = f"job-{uuid.uuid4().hex}"
    ours = [f"{servers.queue_prefix}:events:goals", f"{servers.queue_prefix}:fault-pg:events:goals"]
    others = ["rethink-test-other:events:goals", f"{servers.queue_prefix}0:events:goals", *_job_keys(job)]
    with redis.Redis.from_url(shared_url) as client:
        try:
            for name in ours + others:
                client.set(name, b"x")
            await clean_redis(sharing)
            assert _keys(shared_url, *ours) == set()
            assert _keys(shared_url, *others) == set(others)
        finally:
            client.delete(*ours, *others)
