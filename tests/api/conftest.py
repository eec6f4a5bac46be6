"""The real app, in process, over httpx's ASGI transport (no sockets)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest

from gpuplan.api import create_app
from gpuplan.api.state import ServerSettings

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def client_for() -> ClientFactory:
    """``async with client_for(hardware="2x RTX 4090") as client: …`` runs start-up too."""

    @asynccontextmanager
    async def factory(**settings: object) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(ServerSettings(**settings))  # type: ignore[arg-type]
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://127.0.0.1"
            ) as client:
                yield client

    return factory
