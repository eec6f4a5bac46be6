"""Every command's terminal view, frozen at 80 and 120 columns.

A view may change, but only on purpose: run with ``UPDATE_GOLDEN=1`` to
rewrite ``tests/cli/golden/*.txt`` and review the diff like code. Independent of
the frozen text, every view must fit its width and never cut a value with '…'.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpuplan.cli import _common
from gpuplan.cli.main import app

GOLDEN = Path(__file__).parent / "golden"
WIDTHS = (80, 120)
VIEWS: dict[str, tuple[str, ...]] = {
    "detect-a5500-a400": ("detect", "--hardware", "RTX A5500, RTX A400"),
    "detect-h100-mig": ("detect", "--hardware", "2x H100-80GB"),
    "hardware-catalog-amd": ("hardware", "catalog", "--vendor", "amd"),
    "hardware-show-4090": ("hardware", "show", "rtx4090"),
    "profile-list-4090": ("profile", "list", "--hardware", "RTX 4090"),
    "profile-show-h100-explain": ("profile", "show", "--hardware", "H100-80GB", "--explain"),
    "estimate-llama-8b": ("estimate", "llama-3.1-8b", "--context", "32768"),
    "fit-4090-chat": ("fit", "--hardware", "RTX 4090", "--role", "chat"),
    "select-caption-4080": ("select", "--role", "caption", "--hardware", "RTX 4080"),
    "select-explain-4080": (
        "select", "--role", "keywords", "--hardware", "RTX 4080", "--explain", "qwen3-vl-8b",
    ),
    "select-roles-2x4080": (
        "select", "--roles", "chat,embedding,caption", "--hardware", "2x RTX 4080",
    ),
    "select-roles-2x4090": (
        "select", "--roles", "chat,embedding,caption", "--hardware", "2x RTX 4090",
    ),
    "plan-a5500-a400": ("plan", "--hardware", "RTX A5500, RTX A400"),
    "plan-cpu": ("plan", "--hardware", "cpu"),
    "plan-seed004-services": (
        "plan", "--services", "examples/seed004-services.yml", "--hardware", "RTX A5500, RTX A400",
    ),
}  # fmt: skip


@pytest.fixture
def width(request: pytest.FixtureRequest) -> Iterator[int]:
    columns: int = request.param
    saved = _common.console.width
    _common.console.width = columns
    try:
        yield columns
    finally:
        _common.console.width = saved


def _render(args: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, list(args), env={"GPUPLAN_DEPLOYMENT_PROFILE": ""})
    assert result.exit_code == 0, result.output
    # Trailing spaces are padding, not content; keep files diff-friendly.
    return "\n".join(line.rstrip() for line in result.stdout.splitlines()) + "\n"


@pytest.mark.parametrize("width", WIDTHS, indirect=True, ids=lambda w: f"{w}col")
@pytest.mark.parametrize("view", sorted(VIEWS))
def test_view(view: str, width: int) -> None:
    text = _render(VIEWS[view])
    too_long = [line for line in text.splitlines() if len(line) > width]
    assert too_long == [], f"{view} at {width} columns"
    assert not re.search(r"\w…", text), f"{view} cuts a value at {width} columns"
    golden = GOLDEN / f"{view}.{width}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden.name}: run with UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8")
