"""Seed 001's role selection route: the best models for a task role under the profile."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from gpuplan.api.errors import error_responses
from gpuplan.api.state import require_selector
from gpuplan.models.registry import ROLES
from gpuplan.selection.select import (
    DEFAULT_TOP_N,
    RoleSelector,
    SelectByRoleResponse,
    select_by_role_response,
)

router = APIRouter(tags=["models"])


@router.get(
    "/v1/models/select_by_role",
    summary="Best models for a task role within the active profile's VRAM budget (seed 001)",
    response_model=SelectByRoleResponse,
    responses=error_responses(400, 503),
)
def select_by_role(
    selector: Annotated[RoleSelector, Depends(require_selector)],
    role: Annotated[
        str,
        Query(
            description=f"Task role: {', '.join(ROLES)}. Another name is 400 (seed 001).",
            json_schema_extra={"enum": list(ROLES)},
        ),
    ],
    top_n: Annotated[int, Query(ge=1, le=100, description="How many models to return.")] = (
        DEFAULT_TOP_N
    ),
) -> SelectByRoleResponse:
    return select_by_role_response(selector, role, top_n)
