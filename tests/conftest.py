"""Shared test fixtures: where the real recorded data lives.

The recorded tool outputs and measured VRAM figures live in ``../shared/data``
beside the checkout (as in CI). ``GPUPLAN_SHARED_DATA`` points elsewhere. A
missing directory fails loudly: tests on real data must not silently skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# tiny_gguf, llama_backend, llama_server: a real llama.cpp server for tests that need one.
pytest_plugins = ["tests.support.llama_server"]


def _shared_data_dir() -> Path:
    override = os.environ.get("GPUPLAN_SHARED_DATA")
    path = Path(override) if override else REPO_ROOT.parent / "shared" / "data"
    if not path.is_dir():
        raise RuntimeError(
            f"recorded test data not found at {path}; set GPUPLAN_SHARED_DATA to the "
            "shared/data directory"
        )
    return path


SHARED_DATA = _shared_data_dir()
HARDWARE_DATA = SHARED_DATA / "hardware"
VRAM_DATA = SHARED_DATA / "vram"


# Where the data and the CI-installed services are, not settings of gpuplan itself.
_KEPT_ENV = frozenset({"GPUPLAN_SHARED_DATA", "GPUPLAN_REQUIRE_SERVICES", "GPUPLAN_LLAMA_SERVER"})


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's own GPUPLAN_* settings (CI's service variables stay)."""
    for key in list(os.environ):
        if key.startswith("GPUPLAN_") and key not in _KEPT_ENV:
            monkeypatch.delenv(key, raising=False)


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI output tests look for values, not line breaks: print them 200 columns wide.

    The layout at 80 and 120 columns is what tests/cli/test_golden_views.py checks.
    """
    from gpuplan.cli import _common

    monkeypatch.setattr(_common.console, "width", 200)


@pytest.fixture(autouse=True)
def _fresh_detection() -> None:
    """Detection is cached per process; a test must not see an earlier test's machine."""
    from gpuplan.hardware import detect

    detect.clear_cache()
