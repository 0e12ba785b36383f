"""Bodies of the service-record and series routes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from services.metrics_worker.records import EARLIEST_RECORD_YEAR, RecordType
from shared import clock
from shared.schemas import RequestModel, ResponseModel

ClusterCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
ChildRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:@/-]{1,100}$")]
SourceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:@/-]{1,200}$")]


class ServiceEventIn(RequestModel):
    type: RecordType
    cluster: ClusterCode
    date: dt.date
    child_ref: ChildRef = Field(description="pseudonymous child reference, never a name or id")
    source_id: SourceId = Field(description="the partner system's record id; re-sending is a no-op")

    @field_validator("date")
    @classmethod
    def not_in_future(cls, value: dt.date) -> dt.date:
        if value > clock.today():
            raise ValueError("date is in the future")
        if value.year < EARLIEST_RECORD_YEAR:  # the importers' floor too
            raise ValueError(f"date is before {EARLIEST_RECORD_YEAR}")
        return value


class ServiceEventsIn(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {
                            "type": "cla_start",
                            "cluster": "RES-3",
                            "date": "2019-05-14",
                            "child_ref": "c-7f3a9e1b",
                            "source_id": "lcs:episode:88213",
                        }
                    ]
                }
            ]
        }
    )

    events: list[ServiceEventIn] = Field(min_length=1, max_length=5000)


class ServiceEventsOut(ResponseModel):
    accepted: int
    duplicates: int
    batch_id: uuid.UUID | None


class RecomputeOut(ResponseModel):
    run_id: uuid.UUID
    status: Literal["queued", "running", "done", "failed"]
    as_of: dt.datetime = Field(description="when this status was read")
    trigger: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    records: int | None = Field(None, description="raw records the counts were rebuilt from")
    cells: int | None = Field(None, description="monthly counts written")
    identical_to_incremental: bool | None = Field(
        None, description="the incrementally kept counts were already equal to the rebuild"
    )
