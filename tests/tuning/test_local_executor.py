"""LocalExecutor's failure paths with stand-in engines: each becomes an outcome, in time."""

from __future__ import annotations

import time
from pathlib import Path

from gpuplan.tuning.factory import TaskContext, build_task
from gpuplan.tuning.local import LocalExecutor
from gpuplan.tuning.model import TaskConfig
from gpuplan.tuning.scoring import score_experiment
from tests.hardware.standins import make_tool


def config(timeout_s: float) -> TaskConfig:
    return build_task(
        TaskContext(
            model_name="tiny.gguf",
            base_runtime="llamacpp",
            deployment_mode="local",
            task_name="t",
            user_overrides={"optimization": {"timeout_per_iteration": timeout_s}},
        )
    ).config


def test_an_engine_that_never_gets_healthy_times_out(tmp_path: Path) -> None:
    hang = make_tool(tmp_path / "bin", "llama-server", "exec /bin/sleep 30")
    executor = LocalExecutor(llamacpp=("llama-server", (str(hang),)), log_dir=tmp_path)
    started = time.monotonic()
    outcome = executor(config(1.0), {"parallel": 1}, 1)
    assert time.monotonic() - started < 15  # stopped, not waited for
    assert outcome.error is not None and "before the per-iteration timeout" in outcome.error
    assert outcome.argv[0] == str(hang) and "--parallel" in outcome.argv
    assert score_experiment(
        outcome.levels, "minimize_latency", None, error=outcome.error
    ).status == ("failed")


def test_an_engine_that_exits_says_so_with_its_log(tmp_path: Path) -> None:
    dies = make_tool(
        tmp_path / "bin", "llama-server", 'echo "error: failed to load model tiny.gguf"; exit 3'
    )
    executor = LocalExecutor(llamacpp=("llama-server", (str(dies),)), log_dir=tmp_path)
    outcome = executor(config(30.0), {"parallel": 1}, 1)
    assert outcome.error is not None
    assert "exited with code 3 before it was ready" in outcome.error
    assert "failed to load model" in outcome.error


def test_a_missing_executable_is_an_outcome(tmp_path: Path) -> None:
    executor = LocalExecutor(llamacpp=("llama-server", (str(tmp_path / "absent"),)))
    outcome = executor(config(5.0), {"parallel": 1}, 1)
    assert outcome.error is not None and outcome.error.startswith("cannot start")
