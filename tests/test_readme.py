"""The README's examples really work as shown: every `$ gpuplan …` line runs."""

from __future__ import annotations

import re
import shlex

import pytest
from typer.testing import CliRunner

from gpuplan.cli.main import app
from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLES = re.findall(r"^\$ gpuplan (.+)$", README, flags=re.MULTILINE)


def test_readme_has_examples() -> None:
    assert len(EXAMPLES) >= 15


@pytest.mark.parametrize("line", EXAMPLES)
def test_readme_example_runs(line: str) -> None:
    result = CliRunner().invoke(app, shlex.split(line))
    assert result.exit_code == 0, f"gpuplan {line}\n{result.output}"
    assert "Traceback" not in result.output


def test_readme_two_commands_are_the_ones_ci_runs() -> None:
    assert ".venv/bin/gpuplan plan" in README
    assert "\nscripts/check\n" in README
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/check" in ci


def test_every_command_is_in_the_readme_and_has_help() -> None:
    import typer.main

    group = typer.main.get_command(app)
    for name in group.commands:  # type: ignore[attr-defined]
        assert f"gpuplan {name}" in README, name
        result = CliRunner().invoke(app, [name, "--help"])
        assert result.exit_code == 0 and len(result.output) > 200, name
