"""The three services, loaded by name for the CLI, the worker, migrations and tests."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from sqlalchemy import MetaData

from shared.consumer import EventHandler
from shared.settings import ServiceSettings

PACKAGES = {
    "formulation": "services.formulation_api",
    "goals": "services.goals_api",
    "metrics": "services.metrics_worker",
}
SERVICE_NAMES = tuple(PACKAGES)


@dataclass
class LoadedService:
    name: str
    schema: str
    metadata: MetaData
    settings_cls: type[ServiceSettings]
    app_module: Any
    handlers: dict[str, EventHandler]
    functions: list[Any] = field(default_factory=list)
    cron_jobs: list[Any] = field(default_factory=list)

    def settings(self, **overrides: Any) -> ServiceSettings:
        return self.settings_cls(**overrides)

    def create_app(self, settings: ServiceSettings | None = None) -> FastAPI:
        return self.app_module.create_app(settings)


def load(name: str) -> LoadedService:
    if name not in PACKAGES:
        raise KeyError(f"unknown service {name!r}; choose from {', '.join(PACKAGES)}")
    pkg = PACKAGES[name]
    app_module = importlib.import_module(f"{pkg}.app")
    importlib.import_module(f"{pkg}.models")
    db = importlib.import_module(f"{pkg}.db")
    settings_mod = importlib.import_module(f"{pkg}.settings")
    consumers = importlib.import_module(f"{pkg}.consumers")
    try:
        tasks = importlib.import_module(f"{pkg}.tasks")
    except ModuleNotFoundError as exc:
        if exc.name != f"{pkg}.tasks":
            raise
        tasks = None
    return LoadedService(
        name=name,
        schema=db.SCHEMA,
        metadata=db.Base.metadata,
        settings_cls=settings_mod.Settings,
        app_module=app_module,
        handlers=dict(consumers.HANDLERS),
        functions=list(getattr(tasks, "FUNCTIONS", [])),
        cron_jobs=list(getattr(tasks, "CRON_JOBS", [])),
    )


def load_all() -> list[LoadedService]:
    return [load(n) for n in SERVICE_NAMES]
