"""Hardware routes: what the server plans for (gpuplan's own and seed 004's shape)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from gpuplan.api.state import get_state, require_host
from gpuplan.hardware import Host

router = APIRouter(tags=["hardware"])


@router.get("/v1/hardware", summary="The host as `gpuplan detect --json` prints it")
def hardware(host: Annotated[Host, Depends(require_host)]) -> dict[str, Any]:
    return host.model_dump(mode="json")


@router.post(
    "/v1/hardware/detect",
    summary="Detect again (re-scan the GPUs), then re-resolve the profile and model costs",
)
def redetect(request: Request) -> dict[str, Any]:
    get_state(request).start(refresh=True)
    return require_host(request).model_dump(mode="json")


@router.get("/api/system/gpus", summary="Detected GPUs in seed 004's shape")
def system_gpus(host: Annotated[Host, Depends(require_host)]) -> dict[str, Any]:
    return {
        "gpus": [
            {
                "index": gpu.index,
                "name": gpu.name,
                "vram_total_mb": gpu.vram_total_mb,
                "vram_used_mb": gpu.vram_used_mb,
                "compute_capability": gpu.compute_capability,
            }
            for gpu in host.gpus
        ]
    }
