"""The OpenAI-compatible proxy: each route names its path and hands the request on.

The three forwarding routes declare no response model on purpose: their answer is
the engine's own (OpenAI-shaped JSON, or a server-sent-event stream when the
request asks ``stream``), relayed byte for byte, so gpuplan has no schema of its
own to promise and re-validating it would break streaming. ``/v1/models`` is
gpuplan's own answer and is typed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from gpuplan.api.errors import error_responses
from gpuplan.api.forward import forward
from gpuplan.api.schemas.serving import ModelList
from gpuplan.api.state import Serving, require_serving

router = APIRouter(tags=["proxy"], responses=error_responses(400, 404, 503))

ServingDep = Annotated[Serving, Depends(require_serving)]


@router.post("/v1/chat/completions", summary="Chat completion on the service `model` names")
async def chat_completions(request: Request, serving: ServingDep) -> Response:
    """Relays the engine's own chat completion (JSON, or a stream): no gpuplan schema."""
    return await _forward(request, "/v1/chat/completions", serving)


@router.post("/v1/completions", summary="Text completion on the service `model` names")
async def completions(request: Request, serving: ServingDep) -> Response:
    """Relays the engine's own completion (JSON, or a stream): no gpuplan schema."""
    return await _forward(request, "/v1/completions", serving)


@router.post("/v1/embeddings", summary="Embeddings from the service `model` names")
async def embeddings(request: Request, serving: ServingDep) -> Response:
    """Relays the engine's own embeddings JSON: no gpuplan schema."""
    return await _forward(request, "/v1/embeddings", serving)


@router.get(
    "/v1/models",
    summary="Every service, by name, as OpenAI's model list",
    response_model=ModelList,
)
async def list_models(serving: ServingDep) -> dict[str, Any]:
    created = int(serving.started_at)
    return {
        "object": "list",
        "data": [
            {
                "id": spec.name,
                "object": "model",
                "created": created,
                "owned_by": "gpuplan",
                "aliases": list(spec.aliases),
                "loaded": spec.name in serving.scheduler.running,
            }
            for spec in serving.scheduler.services.values()
        ],
    }


async def _forward(request: Request, path: str, serving: Serving) -> Response:
    return await forward(
        request, path, serving.scheduler, serving.client, ranked=serving.ranked_models
    )


__all__ = ["router"]
