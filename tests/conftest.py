"""Shared test fixtures: where the real recorded data lives.

The recorded tool outputs and measured VRAM figures live in ``../shared/data``
beside the checkout (as in CI). ``GPUPLAN_SHARED_DATA`` points elsewhere. A
missing directory fails loudly: tests on real data must not silently skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO_ROOT = Path(__file__).resolve().parent.parent

# Property tests check properties, not speed (speed is measured in bench/): on a loaded 2-core
# CI machine an example can take longer than hypothesis's 200 ms default deadline, which fails
# the test as DeadlineExceeded or "Flaky: unreliable test timings". Loaded before any test
# module, so every @settings(...) there inherits it.
settings.register_profile("gpuplan", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("gpuplan")

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


def _point_data_dirs_into(monkeypatch: pytest.MonkeyPatch, base: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(base / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(base / "state"))


@pytest.fixture(scope="session", autouse=True)
def _session_data_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test, and no server a module or session fixture starts, writes to or reads from
    the user's ~/.local/share/gpuplan or ~/.local/state.

    Without this, tests that build the app without a database URL (and the servers they
    start) shared one gpuplan.db, tuning.sqlite3 and gpu-assignments.yml in the real home
    with every other test, with earlier runs and with other checkouts on the machine.
    """
    with pytest.MonkeyPatch.context() as monkeypatch:
        _point_data_dirs_into(monkeypatch, tmp_path_factory.mktemp("xdg-session"))
        yield


@pytest.fixture(autouse=True)
def _private_data_dirs(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each test its own data directories: nothing one test saves there is seen by the next."""
    _point_data_dirs_into(monkeypatch, tmp_path_factory.mktemp("xdg"))


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
