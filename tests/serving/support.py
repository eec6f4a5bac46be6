"""Helpers for process tests: services that run the real fake backend."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

from gpuplan.serving.model import ServiceSpec

FAKE_BACKEND = Path(__file__).with_name("fake_backend.py")


def fake_cmd(name: str, *extra: str) -> list[str]:
    return [sys.executable, str(FAKE_BACKEND), "--port", "${PORT}", "--name", name, *extra]


def fake_service(name: str, *extra: str, **fields: object) -> ServiceSpec:
    data: dict[str, object] = {"name": name, "cmd": fake_cmd(name, *extra), "vram_mb": 1000}
    data.update(fields)
    return ServiceSpec.model_validate(data)


def alive(pid: int) -> bool:
    """Running (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    """Pids still alive after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [pid for pid in pids if alive(pid)]
        if not left:
            return []
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


def recorded_pids(directory: Path) -> list[int]:
    return [int(p.name) for p in directory.iterdir() if p.name.isdigit()]


def kill_leftovers(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, 9)
