"""What a self-hoster reads says it in their words: seeds stay in docs and provenance."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from gpuplan.cli.main import app

SEED = re.compile(r"\bseed 00\d", re.IGNORECASE)


@pytest.mark.parametrize(
    "args",
    [
        ("plan", "--hardware", "cpu"),
        ("plan", "--hardware", "RTX A5500, RTX A400"),
        ("apply", "--help"),
        ("tune", "--help"),
        ("plan", "--help"),
        ("serve", "--help"),
        ("--help",),
    ],
)
def test_no_seed_jargon_in_views_and_help(args: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, list(args), env={"GPUPLAN_DEPLOYMENT_PROFILE": ""})
    assert result.exit_code == 0, result.output
    assert not SEED.search(result.output), SEED.findall(result.output)


def test_render_says_warning_for_placement_warnings_as_apply_does() -> None:
    args = ["render", "assignments", "--services", "examples/seed004-services.yml"]
    result = CliRunner().invoke(app, [*args, "--hardware", "RTX A5500, RTX A400"])
    assert result.exit_code == 0, result.output
    assert "Warning: ai-enrichment VRAM budget (6.8 GB) exceeds GPU 1" in result.output
    assert "Note:" not in result.output
