"""The FastAPI application: start-up, error shape, and the route modules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from gpuplan import __version__
from gpuplan.api import errors
from gpuplan.api.auth import check_bind
from gpuplan.api.gpu_service import GpuConfigService
from gpuplan.api.routes import (
    gpu_config,
    hardware,
    models,
    pages,
    profile,
    proxy,
    serving,
    tuning,
)
from gpuplan.api.state import ServerSettings, ServerState, get_state


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """An app that plans for ``settings.hardware`` (declared) or this machine.

    Refuses (``GpuplanError``) to be built for a non-loopback bind without a token.
    """
    state = ServerState(settings or ServerSettings())
    check_bind(state.settings.bind_host, state.settings.token)
    gpu = GpuConfigService(
        database_url=state.settings.database_url,
        services_file=Path(state.settings.services) if state.settings.services else None,
        compose_file=Path(state.settings.compose_file) if state.settings.compose_file else None,
        runtime=state.settings.runtime,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state.start()  # failures are kept; routes answer 503 with the reason
        gpu.start(state.host)
        if gpu.error:
            state.startup_errors["store"] = gpu.error
        await state.start_serving()
        try:
            yield
        finally:
            await state.stop_serving()
            gpu.wait(timeout_s=60)

    app = FastAPI(
        title="gpuplan",
        version=__version__,
        summary="Which AI models can these GPUs serve, where does each go, how is each launched.",
        lifespan=lifespan,
    )
    app.state.gpuplan = state
    app.state.gpu_config = gpu
    errors.install(app)
    app.include_router(hardware.router)
    app.include_router(profile.router)
    app.include_router(models.router)
    app.include_router(gpu_config.router)
    pages.install(app)  # before the proxy, whose routes are broad
    app.include_router(tuning.router)
    app.include_router(proxy.router)
    app.include_router(serving.router)

    @app.get("/health", tags=["service"], summary="Liveness and what is loaded")
    def health() -> dict[str, Any]:
        current = get_state_from(app)
        return {
            "status": "ok" if not current.startup_errors else "degraded",
            "version": __version__,
            "hardware_source": current.host.source if current.host else None,
            "profile": current.resolution.name if current.resolution else None,
            "errors": current.startup_errors,
        }

    return app


def get_state_from(app: FastAPI) -> ServerState:
    state: ServerState = app.state.gpuplan
    return state


__all__ = ["create_app", "get_state"]
