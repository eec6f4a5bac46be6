"""docker mode through a stand-in ``docker`` on PATH: the argv it gets, and its failures."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from gpuplan.tuning.factory import TaskContext, build_task
from gpuplan.tuning.local import DockerExecutor
from tests.hardware.standins import make_tool


def test_docker_run_gets_gpu_requests_and_failure_is_an_outcome(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    docker = make_tool(
        tmp_path / "bin",
        "docker",
        f'/usr/bin/printf "%s\\n" "$*" >> {shlex.quote(str(log))}\n'
        'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2\n'
        "exit 1",
    )
    config = build_task(
        TaskContext(
            model_name="meta-llama/Llama-3.2-1B-Instruct",
            base_runtime="vllm",
            deployment_mode="docker",
            profiles=["balanced"],
            task_name="dock",
        )
    ).config
    outcome = DockerExecutor(str(docker))(
        config, {"tensor-parallel-size": 2, "gpu-memory-utilization": 0.9}, 1
    )
    assert outcome.error is not None
    assert outcome.error == (
        "docker run failed: Cannot connect to the Docker daemon at unix:///var/run/docker.sock."
    )
    calls = log.read_text().splitlines()
    assert calls[0].startswith('run --rm -d --name dock-exp1 --gpus "device=0,1" -p 8000:8000')
    assert "vllm/vllm-openai:v0.11.0 --model meta-llama/Llama-3.2-1B-Instruct" in calls[0]
    assert "--tensor-parallel-size 2" in calls[0] and "--tp-size" not in calls[0]
    assert json.loads(outcome.model_dump_json())["gpus"] == 2
