"""Hardware routes and the error shape, on the real app."""

from __future__ import annotations

import pytest

from tests.api.conftest import ClientFactory

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_health_and_declared_hardware(client_for: ClientFactory) -> None:
    async with client_for(hardware="2x RTX 4090") as client:
        health = (await client.get("/health")).json()
        assert health["status"] == "ok"
        assert health["hardware_source"] == "declared"
        host = (await client.get("/v1/hardware")).json()
        assert [g["vram_total_mb"] for g in host["gpus"]] == [24564, 24564]
        assert host["total_usable_vram_mb"] == 2 * (24564 - 2048)
        seed_004 = (await client.get("/api/system/gpus")).json()
        assert set(seed_004["gpus"][0]) == {
            "index",
            "name",
            "vram_total_mb",
            "vram_used_mb",
            "compute_capability",
        }


async def test_bad_hardware_is_degraded_not_a_crash(client_for: ClientFactory) -> None:
    async with client_for(hardware="3x RTX 9999") as client:
        health = (await client.get("/health")).json()
        assert health["status"] == "degraded"
        assert "RTX 9999" in health["errors"]["hardware"]
        response = await client.get("/v1/hardware")
        assert response.status_code == 503
        body = response.json()
        assert body["detail"].startswith("hardware not initialized")
        assert body["error"]["type"] == "HTTPException"


async def test_openapi_documents_the_routes(client_for: ClientFactory) -> None:
    async with client_for(hardware="cpu") as client:
        spec = (await client.get("/openapi.json")).json()
        assert {"/health", "/v1/hardware", "/api/system/gpus"} <= set(spec["paths"])
        assert (await client.get("/docs")).status_code == 200
