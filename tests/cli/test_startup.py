"""Commands import what they need when they run: `gpuplan --help` loads no heavy library.

Timing lives in bench/bench_startup.py; this only checks which modules a
command pulls in, which is what makes it slow, and is exact on any machine.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("gguf", "numpy", "fastapi", "uvicorn", "sqlalchemy", "highspy", "optuna", "matplotlib")

PROBE = """
import json, sys
from gpuplan.cli.main import app
try:
    app(args=sys.argv[1:], prog_name="gpuplan", standalone_mode=False)
except SystemExit:
    pass
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(json.dumps(heavy), file=sys.stderr)
"""


def _heavy_modules(*args: str) -> list[str]:
    code = PROBE.format(heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    loaded: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("detect", "--help"),
        ("detect", "--hardware", "cpu", "--json"),
        ("hardware", "catalog", "--json"),
    ],
    ids=" ".join,
)
def test_command_imports_no_heavy_library(args: tuple[str, ...]) -> None:
    assert _heavy_modules(*args) == []


PYDANTIC_MODELS = ("pydantic.main",)
"""pydantic's model machinery: building one model costs more than the 2x start-up bound."""


@pytest.mark.parametrize(
    "args",
    [
        ("detect", "--hardware", "cpu", "--json"),
        ("detect", "--hardware", "2x RTX 4090", "--json"),
        ("detect", "--hardware", "RTX A5500, RTX A400"),
    ],
    ids=" ".join,
)
def test_detect_builds_no_pydantic_model(args: tuple[str, ...]) -> None:
    """Detection's records are plain dataclasses (gpuplan.records): pydantic stays unloaded."""
    code = PROBE.format(heavy=PYDANTIC_MODELS)
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []


def test_probe_sees_a_heavy_import() -> None:
    """The probe itself works: a command that reads GGUF files does load gguf."""
    assert "gguf" in _heavy_modules("discover", "--help") or "gguf" in _heavy_modules(
        "estimate", "--help"
    )
