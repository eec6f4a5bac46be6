"""`gpuplan serve` with seed 004's example files: the README's command really starts.

The example services are mostly containers Compose runs (no ``cmd``, no engine):
they are placed and managed through /api/system/gpu-config, and the proxy at /v1
serves only the one it can start (``ai-llm``: llama.cpp + a registry model).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from gpuplan.serving.process import free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_serve_starts_with_the_seed004_example_files(tmp_path: Path) -> None:
    port = free_port()
    output = tmp_path / "serve.out"
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    env.pop("GPUPLAN_DATABASE_URL", None)
    argv = [
        sys.executable, "-m", "gpuplan", "serve", "--hardware", "RTX A5500, RTX A400",
        "--services", str(EXAMPLES / "seed004-services.yml"),
        "--compose-file", str(EXAMPLES / "seed004-compose.yml"),
        "--port", str(port), "--log-dir", str(tmp_path / "logs"),
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with output.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"gpuplan serve exited: {output.read_text()}"
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"did not start: {output.read_text()}"
            time.sleep(0.2)
        models = httpx.get(url + "/v1/models", timeout=10)
        assert models.status_code == 200, models.text
        assert [m["id"] for m in models.json()["data"]] == ["ai-llm"]
        config = httpx.get(url + "/api/system/gpu-config/preview?strategy=vram_based", timeout=30)
        assert config.status_code == 200, config.text
        assert "ai-yolo26" in config.text
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    log = output.read_text()
    assert log.count("not proxied at /v1") == 1, log
    assert "ai-yolo26, ai-florence, ai-clip, ai-enrichment" in log
