"""GET /v1/las and GET /v1/rccs/presets: the reference data every client needs."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from service.auth import Principal, require_reader

router = APIRouter(tags=["reference"])


@router.get("/las", summary="The 153 English children's-services LAs")
def list_las(
    request: Request, _who: Annotated[Principal, Depends(require_reader)]
) -> list[dict[str, Any]]:
    las: list[dict[str, Any]] = request.app.state.service.reference.las
    return las


@router.get("/rccs/presets", summary="RCC lookups a scenario can name, and the pathfinders")
def rcc_presets(
    request: Request, _who: Annotated[Principal, Depends(require_reader)]
) -> dict[str, Any]:
    ref = request.app.state.service.reference
    presets: dict[str, dict[str, Any]] = {
        "dataset": {"description": "the dataset's own rccs.csv (the default)"},
    }
    for name, lookup in ref.presets.items():
        sizes = Counter(lookup.values())
        presets[name] = {
            "rccs": len(sizes),
            "members": {r: sorted(c for c, v in lookup.items() if v == r) for r in sorted(sizes)},
        }
    return {"presets": presets, "pathfinders": ref.pathfinders}
