"""Profile tests run on declared hardware and on catalogs built from temporary files.

No test reads the developer's ~/.config or the repository's own pyproject: HOME,
XDG_CONFIG_HOME and the working directory point into a temporary directory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gpuplan.hardware import load_host
from gpuplan.hardware.model import Host
from gpuplan.profiles import Catalog, Locations, load_catalog


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def builtins() -> Catalog:
    return load_catalog(Locations())


@pytest.fixture(scope="session")
def host() -> Callable[..., Host]:
    def make(spec: str, headroom_mb: int | None = None) -> Host:
        return load_host(spec, headroom_mb=headroom_mb)

    return make
