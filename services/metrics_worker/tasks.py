"""arq functions of the metrics worker: the recompute job and its nightly cron."""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.worker import func
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.metrics_worker.series.service import recompute


async def recompute_series(ctx: dict[str, Any], trigger: str = "job") -> dict[str, int]:
    sessionmaker: async_sessionmaker[AsyncSession] = ctx["sessionmaker"]
    async with sessionmaker() as session, session.begin():
        run = await recompute(session, trigger=trigger)
    return {"records": run.records, "cells": run.cells}


async def nightly_recompute(ctx: dict[str, Any]) -> dict[str, int]:
    return await recompute_series(ctx, trigger="cron")


FUNCTIONS = [func(recompute_series, name="metrics.recompute")]
CRON_JOBS = [cron(nightly_recompute, hour={2}, minute={30}, run_at_startup=False, unique=True)]
