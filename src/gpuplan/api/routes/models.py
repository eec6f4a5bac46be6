"""Seed 001's role selection route: the best models for a task role under the profile."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from gpuplan.api.state import require_selector
from gpuplan.models.registry import ROLES
from gpuplan.selection.select import DEFAULT_TOP_N, RoleSelector, select_by_role_response

router = APIRouter(tags=["models"])


@router.get(
    "/v1/models/select_by_role",
    summary="Best models for a task role within the active profile's VRAM budget (seed 001)",
    responses={
        400: {"description": "Invalid role name"},
        500: {"description": "No active profile"},
        503: {"description": "Profile management not initialized"},
    },
)
def select_by_role(
    selector: Annotated[RoleSelector, Depends(require_selector)],
    role: Annotated[str, Query(description=f"Task role: {', '.join(ROLES)}.")],
    top_n: Annotated[int, Query(ge=1, le=100, description="How many models to return.")] = (
        DEFAULT_TOP_N
    ),
) -> dict[str, Any]:
    return select_by_role_response(selector, role, top_n).model_dump(mode="json")
