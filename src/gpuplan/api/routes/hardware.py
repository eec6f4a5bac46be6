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


@router.get("/api/system/gpus", summary="Detected GPUs with current utilisation (seed 004)")
def system_gpus(host: Annotated[Host, Depends(require_host)]) -> dict[str, Any]:
    """Seed 004's shape; on an NVML host ``vram_used_mb`` is read now and
    ``utilization_percent`` is added, otherwise the detected snapshot is shown."""
    live: dict[int, tuple[int, int | None]] = {}
    if host.source == "nvml":
        from gpuplan.hardware.nvml import live_usage

        live = live_usage()
    gpus: list[dict[str, Any]] = []
    for gpu in host.gpus:
        entry: dict[str, Any] = {
            "index": gpu.index,
            "name": gpu.name,
            "vram_total_mb": gpu.vram_total_mb,
            "vram_used_mb": gpu.vram_used_mb,
            "compute_capability": gpu.compute_capability,
        }
        if gpu.index in live:
            entry["vram_used_mb"], entry["utilization_percent"] = live[gpu.index]
        gpus.append(entry)
    return {"gpus": gpus}
