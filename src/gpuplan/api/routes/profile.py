"""Seed 001's profile route: the active deployment profile and the detected GPUs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from gpuplan.api.state import require_host, require_resolution
from gpuplan.hardware import Host
from gpuplan.profiles import Resolution, profile_document

router = APIRouter(tags=["profiles"])


@router.get(
    "/v1/config/profile",
    summary="Active deployment profile, detected GPUs and usable VRAM (seed 001)",
    responses={503: {"description": "Profile management not initialized"}},
)
def config_profile(
    host: Annotated[Host, Depends(require_host)],
    resolution: Annotated[Resolution, Depends(require_resolution)],
) -> dict[str, Any]:
    return profile_document(resolution, host).model_dump(mode="json")
