from datetime import date

from pydantic import ConfigDict, Field

from services.formulation_api.inputs import PlannedDate, RequestModel
from shared.schemas import ResponseModel


class ClusterPut(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "Seacroft & Manston", "res_start": "2017-10-01", "co_located": True}]
        }
    )

    name: str = Field(min_length=1, max_length=200, examples=["Seacroft & Manston"])
    res_start: PlannedDate | None = Field(
        description="First month of the RES team's work (YYYY-MM-DD); null without RES",
        examples=["2017-10-01"],
    )
    co_located: bool = Field(False, description="RES team co-located with cluster services")


class ClusterOut(ResponseModel):
    code: str
    name: str
    res_start: date | None
    co_located: bool
    revision: int
