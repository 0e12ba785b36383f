"""Run as a separate process: a relay that dies (SIGKILL) after enqueueing, before recording progress."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from arq.connections import RedisSettings, create_pool

from services.formulation_api import models  # noqa: F401  (registers the schema's tables)
from shared.db import create_engine
from shared.relay import Relay
from shared.settings import asyncpg_url


class CrashingRelay(Relay):
    async def _enqueue(self, row: object) -> None:
        await super()._enqueue(row)
        self.enqueued = getattr(self, "enqueued", 0) + 1
        if self.enqueued == self.crash_after:
            os.kill(os.getpid(), signal.SIGKILL)


async def main(db_url: str, redis_url: str, prefix: str, crash_after: int) -> None:
    redis = await create_pool(RedisSettings.from_dsn(redis_url))
    relay = CrashingRelay(
        service="formulation",
        schema="formulation",
        engine=create_engine(asyncpg_url(db_url)),
        redis=redis,
        queue_prefix=prefix,
    )
    relay.crash_after = crash_after  # type: ignore[attr-defined]
    await relay.run_once()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
