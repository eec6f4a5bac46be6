"""Forwarding one OpenAI-style request to the backend the scheduler leases.

Bytes pass through: the request body goes to the backend as it came (only
``model`` is rewritten when the request named an alias or a role), and a
streamed (SSE) answer is relayed chunk by chunk as the backend sends it. When
the client goes away mid-stream the backend connection is closed at once, so
the engine stops generating. A backend that dies mid-answer gives the client a
clear error: a JSON error (502) before the first byte, an SSE ``error`` event
after it; the scheduler forgets the dead backend and the next request restarts it.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from gpuplan.api.errors import error_body
from gpuplan.errors import BackendFailedError
from gpuplan.serving.model import ServiceSpec
from gpuplan.serving.routing import resolve_service
from gpuplan.serving.scheduler import Backend, Scheduler

__all__ = ["forward", "new_backend_client"]

_PASS_REQUEST_HEADERS = ("content-type", "accept", "authorization", "openai-organization")
_PASS_RESPONSE_HEADERS = ("content-type", "cache-control")


def new_backend_client() -> httpx.AsyncClient:
    """One pooled client for every backend: no timeout on reads (generation can be slow).

    TCP_NODELAY: httpx writes headers and body separately, and without it Nagle's
    algorithm holds the body until the backend's delayed ACK — 40 ms per request.
    """
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=256)
    transport = httpx.AsyncHTTPTransport(
        limits=limits, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    )
    return httpx.AsyncClient(
        timeout=httpx.Timeout(connect=10.0, read=None, write=60.0, pool=None),
        transport=transport,
    )


def _service_for(name: str, scheduler: Scheduler, ranked: Any) -> tuple[ServiceSpec, bool]:
    spec = resolve_service(
        name, list(scheduler.services.values()), ranked_models=ranked, loaded=scheduler.running
    )
    return spec, name != spec.name


async def forward(
    request: Request,
    path: str,
    scheduler: Scheduler,
    client: httpx.AsyncClient,
    *,
    ranked: Any = None,
) -> Response:
    """Send ``request`` to ``path`` on the backend its ``model`` names; relay the answer."""
    started = time.monotonic()
    raw = await request.body()
    try:
        payload = json.loads(raw)
    except ValueError:
        return JSONResponse(error_body("RequestValidationError", "body is not JSON"), 400)
    if not isinstance(payload, dict):
        return JSONResponse(error_body("RequestValidationError", "body is not an object"), 400)
    name = payload.get("model")
    if not isinstance(name, str) or not name:
        message = "the request names no model: set `model` to a service name, alias or role:NAME"
        return JSONResponse(error_body("RequestValidationError", message), 400)
    spec, rename = _service_for(name, scheduler, ranked)
    if rename:
        payload["model"] = spec.name
        raw = json.dumps(payload).encode()
    endpoint = path.rsplit("/", 1)[-1]
    try:
        backend = await scheduler.acquire(spec.name)
    except Exception as error:
        scheduler.metrics.requests.labels(spec.name, endpoint, _status_of(error)).inc()
        raise
    headers = {k: v for k, v in request.headers.items() if k.lower() in _PASS_REQUEST_HEADERS}
    outgoing = client.build_request("POST", backend.url + path, content=raw, headers=headers)
    released = False

    def release() -> None:
        nonlocal released
        if not released:
            released = True
            scheduler.release(backend)
            scheduler.metrics.latency.labels(spec.name, endpoint).observe(
                time.monotonic() - started
            )

    try:
        upstream = await client.send(outgoing, stream=True)
    except httpx.TransportError as error:
        failure = await scheduler.failure(backend, error)
        release()
        scheduler.metrics.requests.labels(spec.name, endpoint, "502").inc()
        raise failure from error
    scheduler.metrics.requests.labels(spec.name, endpoint, str(upstream.status_code)).inc()
    reply_headers = {
        k: v for k, v in upstream.headers.items() if k.lower() in _PASS_RESPONSE_HEADERS
    }
    reply_headers["x-gpuplan-service"] = spec.name
    if "text/event-stream" not in upstream.headers.get("content-type", ""):
        try:
            body = await upstream.aread()
        except httpx.TransportError as error:
            failure = await scheduler.failure(backend, error)
            raise failure from error
        finally:
            await upstream.aclose()
            release()
        return Response(body, status_code=upstream.status_code, headers=reply_headers)
    return StreamingResponse(
        _relay(upstream, backend, scheduler, release),
        status_code=upstream.status_code,
        headers=reply_headers,
        background=BackgroundTask(_close, upstream, release),
    )


async def _relay(
    upstream: httpx.Response, backend: Backend, scheduler: Scheduler, release: Any
) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    except httpx.TransportError as error:
        failure: BackendFailedError = await scheduler.failure(backend, error)
        event = error_body(type(failure).__name__, failure.message, failure.hint)["error"]
        yield f"\n\ndata: {json.dumps({'error': event})}\n\n".encode()
    finally:  # also on client disconnect (cancellation): close the backend connection
        await upstream.aclose()
        release()


async def _close(upstream: httpx.Response, release: Any) -> None:
    await upstream.aclose()
    release()


def _status_of(error: Exception) -> str:
    from gpuplan.api.errors import status_for
    from gpuplan.errors import GpuplanError

    return str(status_for(error)) if isinstance(error, GpuplanError) else "500"
