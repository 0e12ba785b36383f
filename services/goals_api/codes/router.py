"""GET /v1/codes: the Children and Families Codes a sub-goal may carry."""

from __future__ import annotations

from services.goals_api.access import Anyone
from services.goals_api.codes.table import codes
from shared.http import APIRouter
from shared.schemas import ResponseModel

router = APIRouter(prefix="/v1/codes", tags=["codes"])


class CodeOut(ResponseModel):
    code: str
    outcome: str
    priority_number: int | None
    priority: str


class CodeList(ResponseModel):
    items: list[CodeOut]


@router.get("", response_model=CodeList, summary="Children and Families Codes (Appendix 5)")
async def list_codes(user: Anyone) -> CodeList:
    return CodeList(items=[CodeOut.model_validate(c) for c in codes()])
