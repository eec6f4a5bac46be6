"""The proxy's routes when serving is not configured or its services file is broken."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpuplan.cli.main import app
from tests.api.conftest import ClientFactory

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_without_services_the_proxy_says_how_to_turn_it_on(client_for: ClientFactory) -> None:
    async with client_for(hardware="cpu") as client:
        for method, path in (("GET", "/v1/models"), ("POST", "/v1/chat/completions"),
                             ("GET", "/api/serving/status"), ("GET", "/metrics")):  # fmt: skip
            response = await client.request(method, path, json={"model": "x"})
            assert response.status_code == 503
            assert "start `gpuplan serve --services FILE`" in response.json()["detail"]


async def test_a_broken_services_file_is_kept_as_the_reason(
    client_for: ClientFactory, tmp_path: Path
) -> None:
    broken = tmp_path / "services.yaml"
    broken.write_text("services:\n  - name: x\n")
    async with client_for(hardware="cpu", services=str(broken)) as client:
        response = await client.get("/v1/models")
        assert response.status_code == 503
        assert "services[0] (x)" in response.json()["detail"]
        health = (await client.get("/health")).json()
        assert health["status"] == "degraded" and "serving" in health["errors"]


def test_serve_refuses_a_broken_services_file_in_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "services.yaml"
    broken.write_text("services: [{name: x, cmd: [a]}]\n")
    result = CliRunner().invoke(app, ["serve", "--services", str(broken)])
    assert result.exit_code == 1
    assert "Error:" in result.output and "neither vram_mb nor model" in result.output
