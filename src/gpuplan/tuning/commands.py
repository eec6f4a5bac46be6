"""How one experiment's runtime is started, per mode: argv lists and manifests (pure).

``local``: the runtime's own server command on this machine; ``docker``: ``docker run``
with a GPU device request (``--gpus "device=0,1"``) and the same engine flags;
``ome``: a Kubernetes Deployment + Service requesting ``nvidia.com/gpu``. Flags are the
runtime's own (``--tp-size`` for SGLang, ``--tensor-parallel-size`` for vLLM,
``--tp_size`` for trtllm-serve, ``--parallel`` for llama-server); a boolean ``True``
is a bare flag, ``False`` is omitted (vLLM: ``--no-…``). llama-cpp-python's
``python -m llama_cpp.server`` spells its flags differently and interrupts a running
stream when a new request arrives unless ``--interrupt_requests False``; it is the
fallback when llama.cpp's ``llama-server`` is not installed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gpuplan.tuning.model import ParamValue, TaskConfig
from gpuplan.tuning.runtimes import Runtime, tp_flag

__all__ = ["Launch", "LlamaCppServer", "docker_argv", "gpus_for", "local_launch", "ome_manifest"]

LlamaCppServer = Literal["llama-server", "llama_cpp.server"]

_PY_LLAMA_FLAGS = {"ctx-size": "--n_ctx", "batch-size": "--n_batch", "threads": "--n_threads"}


@dataclass(frozen=True)
class Launch:
    """A command to start, where it will answer, and what was left out and why."""

    argv: tuple[str, ...]
    port: int
    health_path: str
    env: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def gpus_for(runtime: Runtime, params: Mapping[str, ParamValue]) -> int:
    """GPUs an experiment uses: its tensor-parallel size (1 without one)."""
    flag = tp_flag(runtime)
    value = params.get(flag) if flag else None
    return int(value) if isinstance(value, int | float) and value >= 1 else 1


def _flags(runtime: Runtime, params: Mapping[str, ParamValue]) -> list[str]:
    argv: list[str] = []
    for name, value in params.items():
        flag = f"--{name}"
        if value is True:
            argv.append(flag)
        elif value is False:
            if runtime == "vllm":
                argv.append(f"--no-{name}")
        else:
            argv += [flag, str(value)]
    return argv


def _engine_args(
    config: TaskConfig, params: Mapping[str, ParamValue], host: str, port: int
) -> list[str]:
    """The engine's own arguments after its executable (shared by local and docker)."""
    model = config.model.id_or_path
    runtime = config.base_runtime
    head: dict[Runtime, list[str]] = {
        "sglang": ["--model-path", model, "--host", host, "--port", str(port)],
        "vllm": [model, "--host", host, "--port", str(port)],
        "tensorrt-llm": [model, "--host", host, "--port", str(port)],
        "llamacpp": [_llama_model_flag(model), model, "--host", host, "--port", str(port)],
    }
    return head[runtime] + _flags(runtime, params)


_HF_REPO = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(:[\w.-]+)?$")
"""'owner/repo' or 'owner/repo:Q4_K_M': what llama-server downloads with --hf-repo."""


def _llama_model_flag(model: str) -> str:
    """--model for a GGUF file or path, --hf-repo for a Hugging Face repo id (llama-server
    would read 'meta-llama/Llama-3.2-1B-Instruct' as a relative path and fail)."""
    looks_local = (
        model.endswith(".gguf") or model.startswith((".", "/", "~")) or Path(model).exists()
    )
    return "--hf-repo" if not looks_local and _HF_REPO.match(model) else "--model"


def local_launch(
    config: TaskConfig,
    params: Mapping[str, ParamValue],
    port: int,
    *,
    llamacpp: tuple[LlamaCppServer, tuple[str, ...]] = ("llama-server", ("llama-server",)),
    python: str = "python3",
) -> Launch:
    """The runtime as a process on 127.0.0.1 (``deployment.host``)."""
    host = str(config.deployment.get("host", "127.0.0.1"))
    runtime = config.base_runtime
    alias = config.benchmark.model_name or config.model.id_or_path
    if runtime == "llamacpp":
        kind, command = llamacpp
        if kind == "llama-server":
            argv = [*command, *_engine_args(config, params, host, port), "--alias", alias]
            return Launch(tuple(argv), port, "/health")
        notes: list[str] = []
        argv = [*command, "--model", config.model.id_or_path, "--host", host, "--port", str(port)]
        argv += ["--model_alias", alias, "--interrupt_requests", "False"]
        for name, value in params.items():
            if name in _PY_LLAMA_FLAGS:
                argv += [_PY_LLAMA_FLAGS[name], str(value)]
            else:
                notes.append(f"llama_cpp.server has no --{name}; {name}={value} not applied")
        return Launch(tuple(argv), port, "/v1/models", notes=tuple(notes))
    executable: dict[Runtime, list[str]] = {
        "sglang": [python, "-m", "sglang.launch_server"],
        "vllm": ["vllm", "serve"],
        "tensorrt-llm": ["trtllm-serve"],
    }
    argv = [*executable[runtime], *_engine_args(config, params, host, port)]
    if runtime != "sglang":
        argv += ["--served-model-name", alias] if runtime == "vllm" else []
    return Launch(tuple(argv), port, "/health")


def docker_argv(
    config: TaskConfig, params: Mapping[str, ParamValue], name: str, gpu_ids: list[int]
) -> tuple[str, ...]:
    """``docker run`` with a GPU device request for exactly the experiment's GPUs."""
    deployment = config.deployment
    port = int(deployment.get("port", 8000)) or 8000
    image = str(deployment.get("image", ""))
    devices = ",".join(str(i) for i in gpu_ids)
    runtime = config.base_runtime
    inner: dict[Runtime, list[str]] = {
        "sglang": ["python3", "-m", "sglang.launch_server"],
        "vllm": [],  # vllm/vllm-openai's entrypoint is the API server: arguments only
        "tensorrt-llm": ["trtllm-serve"],
        "llamacpp": [],  # the llama.cpp server image's entrypoint is llama-server
    }
    engine = _engine_args(config, params, "0.0.0.0", port)
    if runtime == "vllm":
        engine = ["--model", *engine]
    argv = ["docker", "run", "--rm", "-d", "--name", name]
    vendor = _vendor(config)
    if vendor == "amd":  # ROCm has no --gpus: pass the devices, pick GPUs by index
        argv += ["--device", "/dev/kfd", "--device", "/dev/dri", "--group-add", "video"]
        argv += ["-e", f"HIP_VISIBLE_DEVICES={devices}"]
    elif vendor != "cpu":  # a GPU request on a host without GPUs fails the docker run
        argv += ["--gpus", f'"device={devices}"']
    argv += ["-p", f"{port}:{port}", "--shm-size", str(deployment.get("shm_size", "16g"))]
    return (*argv, image, *inner[runtime], *engine)


def _vendor(config: TaskConfig) -> str | None:
    hardware = config.deployment.get("hardware")
    return hardware.get("vendor") if isinstance(hardware, dict) else None


def _gpu_resource(config: TaskConfig) -> str:
    """The device plugin's resource name: AMD's for ROCm hosts, NVIDIA's otherwise."""
    return "amd.com/gpu" if _vendor(config) == "amd" else "nvidia.com/gpu"


def ome_manifest(
    config: TaskConfig, params: Mapping[str, ParamValue], name: str
) -> list[dict[str, Any]]:
    """A Deployment and a Service for one experiment, in the task's namespace."""
    port = int(config.deployment.get("port", 8000)) or 8000
    gpus = gpus_for(config.base_runtime, params)
    launch = local_launch(config, params, port)
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "gpuplan"}
    namespace = str(config.deployment.get("namespace", config.model.namespace))
    container = {
        "name": "engine",
        "image": str(config.deployment.get("image", "")),
        "command": list(launch.argv[:1]),
        "args": [a if a != "127.0.0.1" else "0.0.0.0" for a in launch.argv[1:]],
        "ports": [{"containerPort": port, "name": "http"}],
        "resources": {"limits": {} if _vendor(config) == "cpu" else {_gpu_resource(config): gpus}},
        "readinessProbe": {"httpGet": {"path": launch.health_path, "port": port}},
    }
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"selector": labels, "ports": [{"port": port, "targetPort": port}]},
        },
    ]
