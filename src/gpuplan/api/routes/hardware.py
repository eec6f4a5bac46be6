"""Hardware routes: what the server plans for (gpuplan's own and seed 004's shape)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from gpuplan.api.auth import require_token
from gpuplan.api.errors import error_responses
from gpuplan.api.state import get_state, require_host
from gpuplan.hardware import Host

router = APIRouter(tags=["hardware"], responses=error_responses(503))


class SystemGpu(BaseModel):
    """One GPU in seed 004's ``/api/system/gpus`` shape."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int = Field(description="Device index.")
    name: str = Field(description="Product name.")
    vram_total_mb: int | None = Field(description="Total memory, MiB.")
    vram_used_mb: int | None = Field(description="Used memory, MiB.")
    compute_capability: str | None = Field(description="CUDA compute capability, e.g. '8.9'.")
    utilization_percent: int | None = Field(
        default=None, description="GPU utilisation now, %; present only on an NVML host."
    )


class SystemGpus(BaseModel):
    """Seed 004's GPU list."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gpus: list[SystemGpu] = Field(description="Detected GPUs, in index order.")


@router.get(
    "/v1/hardware",
    summary="The host as `gpuplan detect --json` prints it",
    response_model=Host,
)
def hardware(host: Annotated[Host, Depends(require_host)]) -> Host:
    return host


@router.post(
    "/v1/hardware/detect",
    summary="Detect again (re-scan the GPUs), then re-resolve the profile and model costs",
    response_model=Host,
    responses=error_responses(401, 403),
    dependencies=[Depends(require_token)],
)
def redetect(request: Request) -> Host:
    get_state(request).start(refresh=True)
    return require_host(request)


@router.get(
    "/api/system/gpus",
    summary="Detected GPUs with current utilisation (seed 004)",
    response_model=SystemGpus,
    response_model_exclude_unset=True,
)
def system_gpus(host: Annotated[Host, Depends(require_host)]) -> SystemGpus:
    """Seed 004's shape; on an NVML host ``vram_used_mb`` is read now and
    ``utilization_percent`` is added, otherwise the detected snapshot is shown."""
    live: dict[int, tuple[int, int | None]] = {}
    if host.source == "nvml":
        from gpuplan.hardware.nvml import live_usage

        live = live_usage()
    gpus = []
    for gpu in host.gpus:
        fields: dict[str, object] = {
            "index": gpu.index,
            "name": gpu.name,
            "vram_total_mb": gpu.vram_total_mb,
            "vram_used_mb": gpu.vram_used_mb,
            "compute_capability": gpu.compute_capability,
        }
        if gpu.index in live:
            fields["vram_used_mb"], fields["utilization_percent"] = live[gpu.index]
        gpus.append(SystemGpu.model_validate(fields))
    return SystemGpus(gpus=gpus)
