"""arq functions of the metrics worker: the recompute job and its nightly cron."""

from __future__ import annotations

import uuid
from typing import Any

from arq import cron
from arq.worker import func
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.metrics_worker.series.service import recompute


async def recompute_series(
    ctx: dict[str, Any], trigger: str = "job", run_id: str | None = None
) -> dict[str, int]:
    """``run_id`` is the id ``POST /v1/recompute`` promised the caller; the run row gets it."""
    sessionmaker: async_sessionmaker[AsyncSession] = ctx["sessionmaker"]
    async with sessionmaker() as session, session.begin():
        run = await recompute(session, trigger=trigger, run_id=uuid.UUID(run_id) if run_id else None)
    return {"records": run.records, "cells": run.cells}


async def nightly_recompute(ctx: dict[str, Any]) -> dict[str, int]:
    return await recompute_series(ctx, trigger="cron")


# a rebuild over millions of records can outlast arq's 300 s default
FUNCTIONS = [func(recompute_series, name="metrics.recompute", timeout=1800)]
CRON_JOBS = [cron(nightly_recompute, hour={2}, minute={30}, run_at_startup=False, unique=True)]
