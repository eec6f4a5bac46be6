"""The FastAPI application: start-up, error shape, guards, docs, and the route modules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from gpuplan import __version__
from gpuplan.api import docs, errors
from gpuplan.api.errors import error_responses
from gpuplan.api.routes import hardware, models, profile
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
    errors: dict[str, str] = Field(description="What failed to load (hardware, profile, models).")


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """An app that plans for ``settings.hardware`` (declared) or this machine."""
    settings = settings or ServerSettings()
    state = ServerState(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state.start()  # failures are kept; routes answer 503 with the reason
        yield

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
    app.add_middleware(
        HostOriginGuard, bind_host=settings.bind_host, allowed_hosts=settings.allowed_hosts
    )
    errors.install(app)
    docs.install(app)
    app.include_router(hardware.router)
    app.include_router(profile.router)
    app.include_router(models.router)

    @app.get(
        "/health", tags=["service"], summary="Liveness and what is loaded", response_model=Health
    )
    def health() -> Health:
        current = state.current
        return Health(
            status="ok" if not current.errors else "degraded",
            version=__version__,
            hardware_source=current.host.source if current.host else None,
            profile=current.resolution.name if current.resolution else None,
            errors=dict(current.errors),
        )

    return app
