"""docker mode through a stand-in ``docker`` on PATH: the argv it gets, and its failures."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from gpuplan.tuning.factory import TaskContext, build_task
from gpuplan.tuning.local import DockerExecutor
from tests.hardware.standins import make_tool
from tests.support.llama_server import LlamaBackend


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
    assert "vllm/vllm-openai:v0.33.0 --model meta-llama/Llama-3.2-1B-Instruct" in calls[0]
    assert "--tensor-parallel-size 2" in calls[0] and "--tp-size" not in calls[0]
    assert json.loads(outcome.model_dump_json())["gpus"] == 2


_STAND_IN = '''#!{python}
"""docker stand-in: `run` starts the llama.cpp server image's entrypoint (llama-server)
as a local process on 127.0.0.1; `rm -f NAME` stops it."""
import os, signal, subprocess, sys
state, server = {state!r}, {server!r}
args = sys.argv[1:]
if args[:1] == ["rm"]:
    pid_file = os.path.join(state, args[-1] + ".pid")
    if os.path.exists(pid_file):
        os.kill(int(open(pid_file).read()), signal.SIGTERM)
    sys.exit(0)
assert args[0] == "run", args
name = args[args.index("--name") + 1]
rest, i = [], 1
while i < len(args):
    if args[i] in ("--name", "--gpus", "-p", "--shm-size"):
        i += 2
    elif args[i] in ("--rm", "-d"):
        i += 1
    else:
        rest = args[i + 1:]  # args[i] is the image
        break
rest = ["127.0.0.1" if a == "0.0.0.0" else a for a in rest]
log = open(os.path.join(state, name + ".log"), "wb")
proc = subprocess.Popen([server, *rest], stdout=log, stderr=subprocess.STDOUT)
open(os.path.join(state, name + ".pid"), "w").write(str(proc.pid))
print("0123456789ab")
'''


def test_docker_mode_runs_a_real_engine_through_the_stand_in(
    tmp_path: Path, tiny_gguf: Path, llama_backend: LlamaBackend
) -> None:
    import sys

    import pytest

    from gpuplan.tuning.persist import TuningStore
    from gpuplan.tuning.runner import run_task
    from tests.support.llama_server import free_port

    if llama_backend.kind != "llama-server":
        pytest.skip(
            "the stand-in plays the llama.cpp server image, whose entrypoint is llama-server"
        )
    docker = tmp_path / "docker"
    docker.write_text(
        _STAND_IN.format(
            python=sys.executable, state=str(tmp_path), server=llama_backend.command[0]
        )
    )
    docker.chmod(0o755)
    store = TuningStore(tmp_path / "db.sqlite3")
    build = build_task(
        TaskContext(
            model_name=str(tiny_gguf),
            base_runtime="llamacpp",
            deployment_mode="docker",
            task_name="dock-real",
            user_overrides={
                "deployment": {"port": free_port()},
                "parameters": {"parallel": [1, 2], "ctx-size": [1024]},
                "optimization": {"timeout_per_iteration": 60},
                "benchmark": {"traffic_scenarios": ["D(8,6)"], "max_requests_per_iteration": 3},
            },
        )
    )
    store.create_task(build.config)
    result = run_task(store, "dock-real", DockerExecutor(str(docker)))
    assert [e.score.status for e in result.experiments] == ["ok", "ok"], [
        e.outcome.error for e in result.experiments
    ]
    assert all('"device=0"' in e.outcome.argv for e in result.experiments)
    assert result.best is not None
    for exp in result.experiments:
        (level,) = exp.outcome.levels
        assert level.failed == 0 and level.ttft_mean_s is not None and level.ttft_mean_s > 0
