"""What the proxy has loaded (``GET /api/serving/status``) and its Prometheus metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from gpuplan.api.errors import error_responses, json_error_responses
from gpuplan.api.schemas.serving import ServingStatus
from gpuplan.api.state import Serving, require_serving

router = APIRouter(tags=["serving"], responses=error_responses(503))

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"

ServingDep = Annotated[Serving, Depends(require_serving)]


@router.get(
    "/api/serving/status",
    summary="Loaded services: where, memory (estimated, measured), idle, keep-alive, queue",
    response_model=ServingStatus,
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


@router.get(
    "/metrics",
    summary="Prometheus metrics: requests, latency, loads, evictions, queue",
    response_class=PlainTextResponse,
    responses={
        200: {
            "description": "Prometheus text exposition format 0.0.4",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **json_error_responses(422, 500, 503),
    },
)
async def metrics(serving: ServingDep) -> PlainTextResponse:
    """Prometheus' text exposition format, not JSON: so it has no response model.

    Scrapers read ``text/plain; version=0.0.4``; the OpenAPI document says that
    content type (and no ``application/json``) instead of a schema.
    """
    return PlainTextResponse(serving.scheduler.metrics.render(), media_type=PROMETHEUS_TEXT)
