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


def test_ps_without_a_server_is_one_error_line() -> None:
    from gpuplan.serving.process import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["ps", "--url", url])
    assert result.exit_code == 1
    assert f"Error: cannot reach gpuplan serve at {url}" in result.output


def test_ps_formats_status_like_ollama_ps() -> None:
    from gpuplan.cli.ps import format_ps

    status = {
        "strategy": "concurrent_limited", "max_concurrent_models": 2, "queue_depth": 0,
        "queue_limit": 16,
        "services": [
            {"name": "chat", "model": "qwen3-8b", "state": "ready", "where": "GPU 0",
             "vram_estimate_mb": 6200, "vram_measured_mb": 5980, "rss_mb": 410, "in_flight": 1,
             "idle_seconds": 0.0, "keep_alive_left_seconds": 300.0, "pinned": False},
            {"name": "embed", "model": None, "state": "ready", "where": "CPU",
             "vram_estimate_mb": 900, "vram_measured_mb": None, "rss_mb": None, "in_flight": 0,
             "idle_seconds": 125.0, "keep_alive_left_seconds": None, "pinned": True},
        ],
    }  # fmt: skip
    lines = format_ps(status)
    assert lines[0].split() == ["NAME", "MODEL", "STATE", "WHERE", "MEMORY", "IDLE", "UNTIL"]
    assert "6200 MiB (5980 MiB used)" in lines[1] and "ready (1 busy)" in lines[1]
    assert lines[1].endswith("5 min")
    assert lines[2].split()[:2] == ["embed", "-"] and lines[2].endswith("pinned")
    assert lines[-1] == "2 loaded; strategy concurrent_limited, at most 2; queue 0/16"
