"""Hardware routes and the error shape, on the real app."""

from __future__ import annotations

from pathlib import Path

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


async def test_config_profile_is_the_cli_document(client_for: ClientFactory) -> None:
    async with client_for(hardware="RTX 4080") as client:
        body = (await client.get("/v1/config/profile")).json()
    assert {
        "active_profile",
        "detected_gpus",
        "total_usable_vram_mb",
        "available_profiles",
        "manual_override",
    } <= set(body)
    assert body["active_profile"]["name"] == "constrained_16gb"
    assert body["active_profile"]["max_vram_mb"] == 14000
    assert body["detected_gpus"][0]["name"] == "NVIDIA GeForce RTX 4080"
    assert body["manual_override"] is None
    assert "development" in body["available_profiles"]


async def test_config_profile_with_a_forced_profile(client_for: ClientFactory) -> None:
    async with client_for(hardware="RTX 4080", profile="balanced_24gb") as client:
        body = (await client.get("/v1/config/profile")).json()
    assert body["active_profile"]["name"] == "balanced_24gb"
    assert body["manual_override"] == "balanced_24gb"


async def test_unknown_profile_is_503_with_the_reason(client_for: ClientFactory) -> None:
    async with client_for(hardware="RTX 4080", profile="no_such_profile") as client:
        response = await client.get("/v1/config/profile")
        health = (await client.get("/health")).json()
    assert response.status_code == 503
    assert "profile management not initialized" in response.json()["detail"]
    assert "no_such_profile" in response.json()["detail"]
    assert health["status"] == "degraded"


async def test_cli_profile_show_json_prints_the_same_document(client_for: ClientFactory) -> None:
    import json

    from typer.testing import CliRunner

    from gpuplan.cli.main import app

    result = CliRunner().invoke(app, ["profile", "show", "--json", "--hardware", "2x RTX 4080"])
    assert result.exit_code == 0, result.output
    cli_doc = json.loads(result.stdout)
    async with client_for(hardware="2x RTX 4080") as client:
        api_doc = (await client.get("/v1/config/profile")).json()
    for key, value in api_doc.items():
        assert cli_doc[key] == value, key


async def test_redetect_reloads_profile_and_models(
    client_for: ClientFactory, tmp_path: Path
) -> None:
    from gpuplan.hardware import load_host

    box = tmp_path / "box.json"
    box.write_text(load_host("RTX 4080").model_dump_json())
    async with client_for(hardware=str(box)) as client:
        before = (await client.get("/v1/config/profile")).json()["active_profile"]["name"]
        box.write_text(load_host("RTX 4090").model_dump_json())
        response = await client.post("/v1/hardware/detect")
        after = (await client.get("/v1/config/profile")).json()["active_profile"]["name"]
        chosen = await client.get("/v1/models/select_by_role", params={"role": "chat"})
    assert response.status_code == 200
    assert response.json()["gpus"][0]["name"] == "NVIDIA GeForce RTX 4090"
    assert (before, after) == ("constrained_16gb", "balanced_24gb")
    assert chosen.json()["max_vram_mb"] == 22000


def test_redetection_swaps_one_snapshot_and_keeps_other_errors(tmp_path: Path) -> None:
    """Hardware, profile and models change together (one attribute store), and a re-detection
    forgets only its own steps' errors, not e.g. the store's."""
    from gpuplan.api.state import ServerSettings, ServerState
    from gpuplan.hardware import load_host

    box = tmp_path / "box.json"
    box.write_text(load_host("RTX 4080").model_dump_json())
    state = ServerState(ServerSettings(hardware=str(box)))
    state.start()
    first = state.loaded
    state.startup_errors["store"] = "no database"
    box.write_text(load_host("RTX 4090").model_dump_json())
    state.start(refresh=True)
    second = state.loaded
    assert second is not first and first.host is not None and second.host is not None
    assert (first.host.gpus[0].vram_total_mb, second.host.gpus[0].vram_total_mb) == (16376, 24564)
    assert state.host is second.host and state.resolution is second.resolution
    assert state.startup_errors == {"store": "no database"}
    box.write_text("{")
    state.start(refresh=True)
    assert state.loaded.host is None and state.resolution is None
    assert set(state.startup_errors) == {"store", "hardware"}
