"""What the proxy has loaded (``GET /api/serving/status``) and its Prometheus metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from gpuplan.api.errors import error_responses
from gpuplan.api.state import Serving, require_serving

router = APIRouter(tags=["serving"], responses=error_responses(503))

ServingDep = Annotated[Serving, Depends(require_serving)]


@router.get(
    "/api/serving/status",
    summary="Loaded services: where, memory (estimated, measured), idle, keep-alive, queue",
)
async def serving_status(serving: ServingDep) -> dict[str, Any]:
    scheduler = serving.scheduler
    config = scheduler.config
    return {
        "strategy": config.strategy,
        "max_concurrent_models": config.max_concurrent_models,
        "budget_mb": config.total_mb,
        "gpu_usable_mb": {str(k): v for k, v in config.gpu_usable_mb.items()},
        "queue_depth": scheduler.queue_depth,
        "queue_limit": config.queue_limit,
        "services": [entry.model_dump(mode="json") for entry in scheduler.status()],
        "available": list(scheduler.services),
        "last_errors": dict(scheduler.last_errors),
    }


@router.get("/metrics", summary="Prometheus metrics: requests, latency, loads, evictions, queue")
async def metrics(serving: ServingDep) -> Response:
    return Response(
        serving.scheduler.metrics.render(),
        media_type="text/plain; version=0.0.4; charset=utf-8",
    )
