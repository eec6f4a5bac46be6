"""The process edge on its own: health, port ownership, stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
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


# A backend that leaves the watchdog's process group, so a signal to the group misses
# it and only the watchdog's forwarding can reach it: it logs what is forwarded.
_OUT_OF_GROUP = """
import os, signal, sys, time
log = sys.argv[1]
os.setpgid(0, 0)
signal.signal(signal.SIGTERM, lambda *_: (open(log, "a").write("TERM\\n"), sys.exit(0)))
open(log + ".pid", "w").write(str(os.getpid()))
time.sleep(60)
"""


@contextlib.asynccontextmanager
async def _out_of_group_backend(tmp_path: Path) -> AsyncIterator[tuple[BackendProcess, Path]]:
    log = tmp_path / "forwarded.log"
    argv = [sys.executable, "-c", _OUT_OF_GROUP, str(log)]
    process = BackendProcess.spawn(argv, {}, tmp_path / "backend.log")
    pid_file = log.with_name(log.name + ".pid")
    deadline = time.monotonic() + 20
    try:
        while not pid_file.exists():
            assert process.returncode is None and time.monotonic() < deadline, "never started"
            await asyncio.sleep(0.02)
        yield process, log
    finally:
        await process.stop(0)
        with contextlib.suppress(OSError, ValueError):  # outside the group: ours to end
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


async def test_the_watchdog_does_not_repeat_a_sigterm_sent_to_the_group(tmp_path: Path) -> None:
    """gpuplan's stop signals the whole group, backend included; the watchdog passing it
    on as well made a second SIGTERM, which llama-server answers by "terminating
    immediately" with status 1 (and a Python backend could die in its clean-up)."""
    async with _out_of_group_backend(tmp_path) as (process, log):
        await process.stop(1.0)
        assert process.returncode is not None
        assert not log.exists(), "the watchdog forwarded the group's SIGTERM"


async def test_a_sigterm_to_the_watchdog_alone_still_reaches_the_backend(tmp_path: Path) -> None:
    async with _out_of_group_backend(tmp_path) as (process, log):
        subprocess.run(["kill", "-TERM", str(process.pid)], check=True, timeout=30)
        deadline = time.monotonic() + 20
        while not log.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert log.read_text() == "TERM\n"
