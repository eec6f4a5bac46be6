"""Hostile-input tests: run commands in process and read their one error line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from gpuplan.cli.main import app


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


Gpuplan = Callable[..., Run]


@pytest.fixture
def gpuplan() -> Gpuplan:
    """``gpuplan("plan", "-H", "RTX 4090")`` → exit code, stdout, stderr; never a traceback."""

    def run(*args: str, env: dict[str, str] | None = None) -> Run:
        result = CliRunner().invoke(app, list(args), env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"gpuplan {' '.join(args)} raised") from result.exception
        return Run(result.exit_code, result.stdout, result.stderr, result.exception)

    return run
