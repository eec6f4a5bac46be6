"""The FastAPI application: start-up, error shape, guards, docs, and the route modules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from gpuplan import __version__
from gpuplan.api import docs, errors
from gpuplan.api.auth import check_bind
from gpuplan.api.errors import error_responses
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
from gpuplan.api.security import HostOriginGuard
from gpuplan.api.state import ServerSettings, ServerState, get_state

__all__ = ["Health", "create_app", "get_state"]


class Health(BaseModel):
    """What /health says: alive, and what is loaded or why not."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: str = Field(description="'ok', or 'degraded' when something failed to load.")
    version: str = Field(description="gpuplan version.")
    hardware_source: str | None = Field(description="Where the hardware came from, if loaded.")
    profile: str | None = Field(description="Active deployment profile, if resolved.")
    errors: dict[str, str] = Field(
        description="What failed to load (hardware, profile, models, store)."
    )


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """An app that plans for ``settings.hardware`` (declared) or this machine.

    Refuses (``GpuplanError``) to be built for a non-loopback bind without a token.
    """
    settings = settings or ServerSettings()
    state = ServerState(settings)
    check_bind(settings.bind_host, settings.token)
    gpu = GpuConfigService(
        database_url=settings.database_url,
        services_file=Path(settings.services) if settings.services else None,
        compose_file=Path(settings.compose_file) if settings.compose_file else None,
        runtime=settings.runtime,
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
        docs_url=None,
        redoc_url=None,
        responses=error_responses(422, 500),
    )
    app.state.gpuplan = state
    app.state.gpu_config = gpu
    app.add_middleware(
        HostOriginGuard, bind_host=settings.bind_host, allowed_hosts=settings.allowed_hosts
    )
    errors.install(app)
    docs.install(app)
    app.include_router(hardware.router)
    app.include_router(profile.router)
    app.include_router(models.router)
    app.include_router(gpu_config.router)
    pages.install(app)  # before the proxy, whose routes are broad
    app.include_router(tuning.router)
    app.include_router(proxy.router)
    app.include_router(serving.router)

    @app.get(
        "/health", tags=["service"], summary="Liveness and what is loaded", response_model=Health
    )
    def health() -> Health:
        problems = dict(state.startup_errors)
        return Health(
            status="ok" if not problems else "degraded",
            version=__version__,
            hardware_source=state.host.source if state.host else None,
            profile=state.resolution.name if state.resolution else None,
            errors=problems,
        )

    return app
