"""Seed 004's GPU configuration endpoints, plus history and rollback.

``GET|PUT /api/system/gpu-config`` carry an ETag (the saved revision): a PUT with
``If-Match`` of an older revision is refused with 412, so concurrent editors
never lose each other's update. Mutating routes depend on ``require_token``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Body,
    Depends,
    Header,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
)
from pydantic import BaseModel, ConfigDict, Field

from gpuplan.api.auth import require_token
from gpuplan.api.errors import error_responses
from gpuplan.api.gpu_service import GpuConfigService
from gpuplan.api.schemas.gpu_config import (
    ApplyStarted,
    DetectAnswer,
    GpuConfigAnswer,
    HistoryAnswer,
    HistoryDetail,
    PreviewAnswer,
    SaveAnswer,
    StatusAnswer,
)
from gpuplan.api.state import get_state, require_host
from gpuplan.apply.edit import RequestedAssignment, config_from_request, gb
from gpuplan.placement.model import STRATEGIES, Strategy
from gpuplan.store.model import SavedConfig

router = APIRouter(
    prefix="/api/system/gpu-config", tags=["gpu-config"], responses=error_responses(503)
)


class GpuConfigUpdate(BaseModel):
    """Seed 004's PUT body."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: Strategy = Field(default="manual", description="Seed 004 strategy.")
    assignments: tuple[RequestedAssignment, ...] = Field(description="One per service.")


class RollbackRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    history_id: int | None = Field(
        default=None, description="Entry to go back to; null = the state applied before."
    )


def service(request: Request) -> GpuConfigService:
    gpu: GpuConfigService = request.app.state.gpu_config
    return gpu


Gpu = Annotated[GpuConfigService, Depends(service)]


def _etag(revision: int) -> str:
    return f'"{revision}"'


def _config_body(saved: SavedConfig) -> dict[str, Any]:
    return {
        "strategy": saved.config.strategy,
        "assignments": [
            {
                "service": s.service,
                "gpu_index": s.gpu_indices[0] if s.gpu_indices else None,
                "gpu_indices": list(s.gpu_indices),
                "vram_budget_override": (
                    None if s.vram_budget_override_mb is None else s.vram_budget_override_mb / 1024
                ),
                "vram_budget_mb": s.vram_budget_mb,
                "budget_adjusted": s.budget_adjusted,
                "model": s.model,
                "reason": s.reason,
                "enabled": s.enabled,
            }
            for s in saved.config.services
        ],
        "available_strategies": list(STRATEGIES),
        "revision": saved.revision,
        "updated_at": saved.updated_at.isoformat() if saved.updated_at else None,
        "updated_by": saved.updated_by,
    }


def _actor(request: Request) -> str:
    client = request.client.host if request.client else "unknown"
    return f"api:{client}"


def _host_or_none(request: Request) -> Any:
    return get_state(request).host


@router.get(
    "",
    summary="Current GPU assignments and the available strategies (seed 004)",
    response_model=GpuConfigAnswer,
)
def get_config(gpu: Gpu, response: Response) -> dict[str, Any]:
    saved = gpu.require_repo().saved()
    response.headers["ETag"] = _etag(saved.revision)
    return _config_body(saved)


@router.put(
    "",
    summary="Save assignments to the database and sync config/gpu-assignments.yml",
    response_model=SaveAnswer,
    dependencies=[Depends(require_token)],
    responses=error_responses(400, 401, 403, 412),
)
def put_config(
    request: Request,
    gpu: Gpu,
    response: Response,
    update: Annotated[GpuConfigUpdate, Body()],
    if_match: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    repo = gpu.require_repo()
    expected: int | None = None
    if if_match is not None and if_match.strip() != "*":
        try:
            expected = int(if_match.strip().removeprefix("W/").strip('"'))
        except ValueError:
            raise HTTPException(
                status_code=412, detail=f"If-Match {if_match!r} is not an ETag of this resource"
            ) from None
    from gpuplan.apply.engine import render_mirror

    config, warnings = config_from_request(
        update.strategy,
        update.assignments,
        host=_host_or_none(request),
        services=gpu.load_services(),
    )
    saved, history_id = repo.save(
        config,
        actor=_actor(request),
        expected_revision=expected,
        mirror=(gpu.mirror_file(), render_mirror),
        warnings=warnings,
    )
    response.headers["ETag"] = _etag(saved.revision)
    return {
        "success": True,
        "warnings": warnings,
        "revision": saved.revision,
        "history_id": history_id,
    }


@router.post(
    "/apply",
    summary="Apply the saved configuration: recreate the services whose GPUs changed",
    response_model=ApplyStarted,
    status_code=202,
    dependencies=[Depends(require_token)],
    responses=error_responses(400, 401, 403, 409),
)
def apply(request: Request, gpu: Gpu) -> dict[str, Any]:
    result = gpu.start_apply(_actor(request), _host_or_none(request))
    return {"success": True, **result.model_dump(mode="json"), "status": f"{router.prefix}/status"}


@router.get(
    "/status",
    summary="Restart progress per service and container health",
    response_model=StatusAnswer,
)
def status(gpu: Gpu) -> dict[str, Any]:
    return gpu.status()


@router.post(
    "/detect",
    summary="Re-scan the GPUs and update gpu_devices",
    response_model=DetectAnswer,
    dependencies=[Depends(require_token)],
    responses=error_responses(401, 403),
)
def detect(request: Request, gpu: Gpu) -> dict[str, Any]:
    state = get_state(request)
    state.start(refresh=True)
    host = require_host(request)
    devices = gpu.require_repo().record_devices(host.gpus)
    present = {g.index for g in host.gpus}
    return {
        "gpus": [
            {
                "index": g.index,
                "name": g.name,
                "vram_total_mb": g.vram_total_mb,
                "vram_used_mb": g.vram_used_mb,
                "compute_capability": g.compute_capability,
            }
            for g in host.gpus
        ],
        "devices": [
            {**d.model_dump(mode="json"), "present": d.gpu_index in present} for d in devices
        ],
    }


@router.get(
    "/preview",
    summary="The auto-assignment for a strategy and its diff to the current",
    response_model=PreviewAnswer,
    responses=error_responses(409),
)
def preview(
    request: Request,
    gpu: Gpu,
    strategy: Annotated[Strategy, Query(description="Seed 004 strategy.")] = "vram_based",
) -> dict[str, Any]:
    host = require_host(request)
    services = gpu.load_services()
    if services is None:
        raise HTTPException(
            status_code=409,
            detail="this server has no services file to place: start it with "
            "`gpuplan serve --services services.yml` (or GPUPLAN_SERVICES)",
        )
    from gpuplan.apply import diff_configs
    from gpuplan.apply.services import config_from_placement
    from gpuplan.placement import place

    saved = gpu.require_repo().saved()
    if strategy == "manual":  # manual places nothing itself: preview the saved pins
        pins = {s.service: s.gpu_indices for s in saved.config.services if s.gpu_indices}
        services = tuple(
            svc.model_copy(update={"gpu": pins[svc.name][0]}) if svc.name in pins else svc
            for svc in services
        )
    placement = place(services, host, strategy=strategy)
    config = config_from_placement(placement, services)
    diff = diff_configs(saved.config, config)
    return {
        "strategy": strategy,
        "assignments": [
            {
                "service": s.service,
                "gpu_index": s.gpu_indices[0] if s.gpu_indices else None,
                "gpu_indices": list(s.gpu_indices),
                "vram_budget_mb": s.vram_budget_mb,
                "vram_budget": gb(s.vram_budget_mb),
                "budget_adjusted": s.budget_adjusted,
                "reason": s.reason,
            }
            for s in config.services
        ],
        "warnings": list(placement.warnings),
        "gpus": [fill.model_dump(mode="json") for fill in placement.gpus],
        "diff": {
            "changed": [{"service": c.service, "description": c.describe()} for c in diff.changed],
            "unchanged": list(diff.unchanged),
        },
        "current_revision": saved.revision,
    }


@router.get(
    "/history",
    summary="Every saved, applied and rolled-back configuration",
    response_model=HistoryAnswer,
)
def history(gpu: Gpu, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> dict[str, Any]:
    from gpuplan.apply.report import history_rows

    return {"history": history_rows(gpu.require_repo(), limit)}


@router.get(
    "/history/{history_id}",
    summary="One history entry with its rendered files",
    response_model=HistoryDetail,
    responses=error_responses(404),
)
def history_entry(
    gpu: Gpu, history_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="History id.")]
) -> dict[str, Any]:
    entry = gpu.require_repo().entry(history_id)
    return entry.model_dump(mode="json")


@router.post(
    "/rollback",
    summary="Apply an earlier configuration again (default: the one applied before)",
    response_model=ApplyStarted,
    status_code=202,
    dependencies=[Depends(require_token)],
    responses=error_responses(400, 401, 403, 404, 409),
)
def rollback(
    request: Request, gpu: Gpu, body: Annotated[RollbackRequest | None, Body()] = None
) -> dict[str, Any]:
    history_id = body.history_id if body else None
    if history_id is None:
        repo = gpu.require_repo()
        current = repo.last_applied()
        earlier = repo.last_applied(before=current.id) if current else None
        if earlier is None:
            raise HTTPException(
                status_code=409, detail="there is no earlier applied state to roll back to"
            )
        history_id = earlier.id
    result = gpu.start_apply(_actor(request), _host_or_none(request), history_id=history_id)
    return {"success": True, **result.model_dump(mode="json"), "status": f"{router.prefix}/status"}
