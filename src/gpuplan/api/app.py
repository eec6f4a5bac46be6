"""The FastAPI application: start-up, error shape, and the route modules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from gpuplan import __version__
from gpuplan.api import errors
from gpuplan.api.routes import hardware, models, pages, profile
from gpuplan.api.state import ServerSettings, ServerState, get_state


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """An app that plans for ``settings.hardware`` (declared) or this machine."""
    state = ServerState(settings or ServerSettings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state.start()  # failures are kept; routes answer 503 with the reason
        yield

    app = FastAPI(
        title="gpuplan",
        version=__version__,
        summary="Which AI models can these GPUs serve, where does each go, how is each launched.",
        lifespan=lifespan,
    )
    app.state.gpuplan = state
    errors.install(app)
    app.include_router(hardware.router)
    app.include_router(profile.router)
    app.include_router(models.router)
    pages.install(app)

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
