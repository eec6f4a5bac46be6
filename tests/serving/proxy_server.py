"""Run a real `gpuplan serve --services FILE` on 127.0.0.1 for the proxy tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from gpuplan.serving.process import free_port


@dataclass
class ProxyServer:
    url: str
    process: subprocess.Popen[bytes]
    log_dir: Path
    output: Path

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(self.url + "/api/serving/status", timeout=10).json()
        return body


def write_profile(directory: Path, **fields: object) -> Path:
    profile: dict[str, object] = {
        "profile": "serving_test",
        "description": "Proxy tests: three models at once, short start-up bound.",
        "max_vram_mb": 10000,
        "max_concurrent_models": 3,
        "strategy": "concurrent_limited",
        "grace_period_seconds": 300,
        "autostart_timeout_seconds": 20,
    }
    profile.update(fields)
    path = directory / "serving_test.json"
    path.write_text(json.dumps(profile))
    return path


@contextmanager
def proxy_server(
    directory: Path,
    services: Sequence[dict[str, object]],
    *,
    extra_args: Sequence[str] = (),
    profile: dict[str, object] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[ProxyServer]:
    """`gpuplan serve` with ``services``; stopped (SIGTERM) afterwards."""
    directory.mkdir(parents=True, exist_ok=True)
    services_file = directory / "services.yaml"
    services_file.write_text(yaml.safe_dump({"services": list(services)}))
    port = free_port()
    log_dir = directory / "logs"
    output = directory / "serve.out"
    argv = [
        sys.executable, "-m", "gpuplan", "serve", "--hardware", "cpu",
        "--profile", str(write_profile(directory, **(profile or {}))),
        "--services", str(services_file), "--port", str(port), "--log-dir", str(log_dir),
        *extra_args,
    ]  # fmt: skip
    with output.open("wb") as out:
        process = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1", **(env or {})},
        )
    server = ProxyServer(f"http://127.0.0.1:{port}", process, log_dir, output)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gpuplan serve exited: {output.read_text()}")
            try:
                if httpx.get(server.url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gpuplan serve did not start: {output.read_text()}")
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
