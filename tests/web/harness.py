"""A real `gpuplan serve` on 127.0.0.1 and Debian's chromium driven by Playwright.

Chromium comes from apt (`apt-get install -y chromium`, scripts/ci/30-chromium.sh),
never from `playwright install` (it downloads a browser, which fails here).
When chromium or Playwright is missing the browser tests skip with the reason —
unless ``GPUPLAN_REQUIRE_SERVICES=1`` (CI), where they fail.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from gpuplan.ports import free_port
from tests.conftest import REPO_ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path(os.environ.get("GPUPLAN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
WIDE, NARROW = 1280, 390
"""The two widths every state is looked at: a laptop and a phone."""


def missing(reason: str) -> None:
    """Skip, or fail when CI requires every service."""
    if os.environ.get("GPUPLAN_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (GPUPLAN_REQUIRE_SERVICES=1 forbids skipping)")
    pytest.skip(reason)


@dataclass
class Server:
    """A running `gpuplan serve`: its base URL and log."""

    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def gpuplan_executable() -> list[str]:
    return [sys.executable, "-m", "gpuplan"]


@contextlib.contextmanager
def serve(
    args: Sequence[str],
    *,
    workdir: Path,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 60.0,
) -> Iterator[Server]:
    """Start ``gpuplan serve ARGS --port FREE`` in ``workdir``; stop it afterwards."""
    port = free_port()
    log = workdir / f"serve-{port}.log"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GPUPLAN_")}
    if "GPUPLAN_SHARED_DATA" in os.environ:
        environ["GPUPLAN_SHARED_DATA"] = os.environ["GPUPLAN_SHARED_DATA"]
    environ["GPUPLAN_DATABASE_URL"] = f"sqlite:///{workdir / 'gpuplan.db'}"  # never the user's
    environ.update(env or {})
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*gpuplan_executable(), "serve", *args, "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(url=f"http://127.0.0.1:{port}", log=log, process=process)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise AssertionError(
                    f"gpuplan serve exited {process.returncode}:\n{server.log_text()}"
                )
            try:
                if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"gpuplan serve did not answer:\n{server.log_text()}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def shoot(page: Page, name: str) -> list[Path]:
    """Screenshots of the page as it is now, at 1280 and 390 px wide (full page)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size or {"width": WIDE, "height": 900}
    paths = []
    for label, width in (("wide", WIDE), ("narrow", NARROW)):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(150)  # let layout and transitions settle
        path = SCREENSHOTS / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        paths.append(path)
    page.set_viewport_size(before)
    return paths
