"""Seed 001's GET /v1/models/select_by_role on the real app."""

from __future__ import annotations

import pytest

from tests.api.conftest import ClientFactory

pytestmark = pytest.mark.anyio

SEED_001_MODEL_FIELDS = {
    "id",
    "name",
    "backend",
    "quantization",
    "vram_estimate_mb",
    "role_priority",
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_select_by_role_has_seed_001_shape(client_for: ClientFactory) -> None:
    async with client_for(hardware="RTX 4080") as client:
        response = await client.get("/v1/models/select_by_role", params={"role": "keywords"})
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("role", "profile", "max_vram_mb", "top_n")} == {
        "role": "keywords",
        "profile": "constrained_16gb",
        "max_vram_mb": 14000,
        "top_n": 3,
    }
    assert body["model_selection_bias"] == "vram_efficient"
    assert 1 <= len(body["models"]) <= 3
    for model in body["models"]:
        assert set(model) >= SEED_001_MODEL_FIELDS
        assert model["vram_estimate_mb"] <= 14000
    priorities = [m["role_priority"] for m in body["models"]]
    assert priorities == sorted(priorities, reverse=True)


async def test_top_n_limits_and_the_cli_agrees(client_for: ClientFactory) -> None:
    import json

    from typer.testing import CliRunner

    from gpuplan.cli.main import app

    async with client_for(hardware="RTX 4090") as client:
        response = await client.get(
            "/v1/models/select_by_role", params={"role": "chat", "top_n": 5}
        )
    body = response.json()
    assert len(body["models"]) == 5
    result = CliRunner().invoke(
        app, ["select", "--role", "chat", "--top-n", "5", "--hardware", "RTX 4090", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == body


async def test_invalid_role_is_400_with_the_known_roles(client_for: ClientFactory) -> None:
    async with client_for(hardware="RTX 4090") as client:
        response = await client.get("/v1/models/select_by_role", params={"role": "captions"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "UnknownRoleError"
    assert "caption" in error["hint"]


async def test_missing_role_and_bad_top_n_are_422(client_for: ClientFactory) -> None:
    async with client_for(hardware="RTX 4090") as client:
        missing = await client.get("/v1/models/select_by_role")
        bad = await client.get("/v1/models/select_by_role", params={"role": "chat", "top_n": 0})
    assert missing.status_code == 422 and "role" in missing.json()["detail"]
    assert bad.status_code == 422


async def test_uninitialized_profile_management_is_503(client_for: ClientFactory) -> None:
    async with client_for(hardware="RTX 4090", profile="nope") as client:
        response = await client.get("/v1/models/select_by_role", params={"role": "chat"})
    assert response.status_code == 503
    assert response.json()["detail"].startswith("profile management not initialized")
