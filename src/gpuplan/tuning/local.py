"""Executors that really start a runtime (edge: processes, sockets, ``docker``).

``LocalExecutor`` starts the runtime's server as a child process on 127.0.0.1, waits for
its health path, sends one unmeasured warm-up request per traffic scenario, drives every
scenario × concurrency level, then stops it
(SIGTERM, then SIGKILL) — all within ``timeout_per_iteration``. ``DockerExecutor`` does
the same through ``docker run`` with a GPU device request and ``docker rm -f``. Any
failure (executable missing, exit before ready, timeout) becomes the outcome's
``error``: a failed experiment is a result, never an exception that ends the task.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gpuplan.ports import free_port
from gpuplan.tuning.commands import LlamaCppServer, docker_argv, gpus_for, local_launch
from gpuplan.tuning.experiment import ExperimentOutcome
from gpuplan.tuning.loadgen import run_level_sync
from gpuplan.tuning.metrics import LevelMetrics, level_metrics
from gpuplan.tuning.model import ParamValue, TaskConfig
from gpuplan.tuning.space import parse_traffic

__all__ = ["DockerExecutor", "LocalExecutor", "find_llamacpp", "free_port", "wait_healthy"]


def find_llamacpp() -> tuple[LlamaCppServer, tuple[str, ...]] | None:
    """llama.cpp's ``llama-server`` (``GPUPLAN_LLAMA_SERVER``, PATH, the venv), else
    llama-cpp-python's ``python -m llama_cpp.server``, else None."""
    venv_bin = Path(sys.executable).parent / "llama-server"
    for candidate in (
        os.environ.get("GPUPLAN_LLAMA_SERVER"),
        shutil.which("llama-server"),
        str(venv_bin) if venv_bin.exists() else None,
    ):
        if candidate and os.access(candidate, os.X_OK):
            return "llama-server", (candidate,)
    try:
        if importlib.util.find_spec("llama_cpp.server") is not None:
            return "llama_cpp.server", (sys.executable, "-m", "llama_cpp.server")
    except ModuleNotFoundError:
        pass
    return None


def wait_healthy(
    url: str, deadline: float, process: subprocess.Popen[bytes] | None = None
) -> str | None:
    """None once ``url`` answers 200; otherwise why not (process exited, or time ran out)."""
    import httpx

    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                return f"exited with code {process.returncode} before it was ready"
            try:
                if client.get(url).status_code == 200:
                    return None
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    return f"not healthy at {url} before the per-iteration timeout"


def _drive(
    config: TaskConfig, base_url: str, deadline: float
) -> tuple[list[LevelMetrics], str | None]:
    bench = config.benchmark
    model = bench.model_name or config.model.id_or_path
    levels: list[LevelMetrics] = []
    for scenario in bench.traffic_scenarios:
        traffic = parse_traffic(scenario)
        # One unmeasured request first: the engine's first request pays for lazy
        # allocations and caches, which would otherwise land in the first level's tail.
        run_level_sync(
            base_url,
            model,
            traffic,
            1,
            max_requests=1,
            max_time_s=max(0.0, deadline - time.monotonic()),
            extra_body=bench.additional_params,
            request_timeout_s=max(1.0, deadline - time.monotonic()),
        )
        for concurrency in bench.num_concurrency:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return levels, "per-iteration timeout reached during load"
            records = run_level_sync(
                base_url,
                model,
                traffic,
                concurrency,
                max_requests=bench.max_requests_per_iteration,
                max_time_s=min(bench.max_time_per_iteration, remaining),
                request_rate=bench.request_rate,
                extra_body=bench.additional_params,
                request_timeout_s=max(1.0, remaining),
                seed=config.optimization.seed,
            )
            levels.append(level_metrics(traffic.scenario, concurrency, records))
    return levels, None


def _stop(process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(grace_s)


class LocalExecutor:
    """Runs each experiment as a process on this machine."""

    def __init__(
        self,
        *,
        llamacpp: tuple[LlamaCppServer, tuple[str, ...]] | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.llamacpp = llamacpp or find_llamacpp()
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="gpuplan-tune-"))

    def __call__(
        self, config: TaskConfig, params: dict[str, ParamValue], index: int
    ) -> ExperimentOutcome:
        started = time.monotonic()
        deadline = started + config.optimization.timeout_per_iteration
        configured = int(config.deployment.get("port", 0) or 0)
        port = configured or free_port()
        if config.base_runtime == "llamacpp" and self.llamacpp is None:
            return self._failed(
                config,
                params,
                [],
                started,
                "llama.cpp is not installed (neither llama-server nor llama-cpp-python[server])",
            )
        launch = local_launch(
            config,
            params,
            port,
            llamacpp=self.llamacpp or ("llama-server", ("llama-server",)),
            python=sys.executable,
        )
        argv = list(launch.argv)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"experiment-{index}.log"
        try:
            with log_path.open("wb") as log:
                process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        except OSError as exc:
            return self._failed(config, params, argv, started, f"cannot start {argv[0]}: {exc}")
        host = str(config.deployment.get("host", "127.0.0.1"))
        base_url = f"http://{host}:{port}"
        try:
            problem = wait_healthy(base_url + launch.health_path, deadline, process)
            if problem:
                tail = log_path.read_text(errors="replace")[-300:].strip().replace("\n", " | ")
                return self._failed(config, params, argv, started, f"{argv[0]} {problem}: {tail}")
            levels, error = _drive(config, base_url, deadline)
        finally:
            _stop(process)
        return ExperimentOutcome(
            params=params,
            mode="local",
            argv=argv,
            gpus=gpus_for(config.base_runtime, params),
            levels=levels,
            error=error,
            duration_s=time.monotonic() - started,
            notes=list(launch.notes),
        )

    @staticmethod
    def _failed(
        config: TaskConfig,
        params: dict[str, ParamValue],
        argv: list[str],
        started: float,
        error: str,
    ) -> ExperimentOutcome:
        return ExperimentOutcome(
            params=params,
            mode=config.deployment_mode,
            argv=argv,
            gpus=gpus_for(config.base_runtime, params),
            error=error,
            duration_s=time.monotonic() - started,
        )


class DockerExecutor:
    """Runs each experiment as a container with exactly its GPUs (``--gpus device=…``)."""

    def __init__(self, docker: str = "docker") -> None:
        self.docker = docker

    def __call__(
        self, config: TaskConfig, params: dict[str, ParamValue], index: int
    ) -> ExperimentOutcome:
        started = time.monotonic()
        deadline = started + config.optimization.timeout_per_iteration
        name = f"{config.task_name}-exp{index}"
        gpus = gpus_for(config.base_runtime, params)
        argv = list(docker_argv(config, params, name, list(range(gpus))))
        argv[0] = self.docker
        try:
            run = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return LocalExecutor._failed(config, params, argv, started, f"docker: {exc}")
        if run.returncode != 0:
            why = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
            return LocalExecutor._failed(
                config, params, argv, started, f"docker run failed: {why[0]}"
            )
        port = int(config.deployment.get("port", 8000)) or 8000
        base_url = f"http://127.0.0.1:{port}"
        try:
            problem = wait_healthy(base_url + "/health", deadline)
            if problem:
                return LocalExecutor._failed(config, params, argv, started, problem)
            levels, error = _drive(config, base_url, deadline)
        finally:
            subprocess.run([self.docker, "rm", "-f", name], capture_output=True, check=False)
        return ExperimentOutcome(
            params=params,
            mode="docker",
            argv=argv,
            gpus=gpus,
            levels=levels,
            error=error,
            duration_s=time.monotonic() - started,
        )
