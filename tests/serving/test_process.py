"""The process edge on its own: health, port ownership, stop."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gpuplan.errors import BackendStartError
from gpuplan.serving.process import BackendProcess, free_port, wait_healthy
from tests.serving.support import fake_cmd

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_health_counts_only_when_our_process_holds_the_port(tmp_path: Path) -> None:
    port = free_port()
    argv = [token.replace("${PORT}", str(port)) for token in fake_cmd("ours")]
    ours = BackendProcess.spawn(argv, {}, tmp_path / "ours.log")
    try:
        await wait_healthy(
            ours, f"http://127.0.0.1:{port}/health", timeout=20, name="ours", port=port
        )
        assert ours.listens_on(port) and not ours.listens_on(free_port())
    finally:
        await ours.stop(2)
    assert ours.returncode is not None


async def test_a_foreign_server_on_the_port_is_not_taken_for_the_backend(tmp_path: Path) -> None:
    port = free_port()
    argv = [token.replace("${PORT}", str(port)) for token in fake_cmd("foreign")]
    foreign = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        ours = BackendProcess.spawn(
            [sys.executable, "-c", "import time; time.sleep(30)"], {}, tmp_path / "ours.log"
        )
        with pytest.raises(BackendStartError, match=f"another program answers on port {port}"):
            await wait_healthy(
                ours, f"http://127.0.0.1:{port}/health", timeout=10, name="ours", port=port
            )
        assert ours.returncode is not None  # stopped, not left behind
    finally:
        foreign.kill()
        foreign.wait()
