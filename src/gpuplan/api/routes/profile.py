"""Seed 001's profile route: the active deployment profile and the detected GPUs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from gpuplan.api.errors import error_responses
from gpuplan.api.state import require_host, require_resolution
from gpuplan.hardware import Host
from gpuplan.profiles import ProfileDocument, Resolution, profile_document

router = APIRouter(tags=["profiles"])


@router.get(
    "/v1/config/profile",
    summary="Active deployment profile, detected GPUs and usable VRAM (seed 001)",
    response_model=ProfileDocument,
    responses=error_responses(503),
)
def config_profile(
    host: Annotated[Host, Depends(require_host)],
    resolution: Annotated[Resolution, Depends(require_resolution)],
) -> ProfileDocument:
    return profile_document(resolution, host)
