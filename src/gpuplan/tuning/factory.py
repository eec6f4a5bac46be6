"""Seed 003's layered config factory, with the provenance of every value.

Layers merge in a fixed order, like pydantic-settings sources: base (``base-model``,
``base-optimization``) → deployment mode (``docker-defaults`` | ``ome-defaults`` |
``local-defaults``) → runtime (``sglang-defaults`` | ``vllm-defaults`` |
``tensorrt-llm-defaults`` | ``llamacpp-defaults``) → ``hardware`` (what was detected or
declared, when given) → the user's profiles in the order
given (``profile:NAME:LAYER``) → the request's ``slo_config`` (``user-slo``) → the user's
overrides (``user_patch``: deep merge; ``user_replace``: drops every earlier layer but
what identifies the task: ``task_name``, ``model``, ``base_runtime``). Nested tables
merge key by key, lists are replaced whole, later layers win; each leaf remembers the
layer that set it and the values it shadowed (``gpuplan.profiles.provenance``).

Each layer's ``parameters`` are translated to the task runtime's own flags before
merging (``runtimes.translate_parameters``), so an SGLang-worded profile tunes vLLM's
``tensor-parallel-size`` and never passes ``tp-size`` to vLLM. The origin's bugs that
this fixes: its docker layer carried SGLang flags into every runtime; its default task
name (``{model}_{strategy}``) collided; ``total_gpus`` could silently empty the TP list.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gpuplan.errors import TuningConfigError
from gpuplan.profiles.provenance import (
    FieldSource,
    Layer,
    Origin,
    OriginKind,
    Shadowed,
    merge_layers,
)
from gpuplan.tuning.model import DeploymentMode, Objective, Strategy, TaskConfig
from gpuplan.tuning.profiles import ProfileRegistry, TuningProfile, default_registry
from gpuplan.tuning.runtimes import Runtime, normalize_runtime, tp_flag, translate_parameters

__all__ = ["IDENTITY_KEYS", "TaskBuild", "TaskContext", "build_task", "default_task_name"]

log = logging.getLogger(__name__)

IDENTITY_KEYS = ("task_name", "model", "base_runtime")
"""What ``override_mode: replace`` keeps: what identifies the task."""

OverrideMode = Literal["patch", "replace"]

_TRT_IMAGE = "nvcr.io/nvidia/tensorrt-llm/release:1.0.0"
"""Tuning runs TensorRT-LLM in a container, so it needs an image where launch names none."""


def _image(runtime: Runtime, hardware: dict[str, Any] | None) -> str:
    """The image launch files use for this engine and vendor: what is tuned is what is served."""
    from gpuplan.launch.engines import default_image
    from gpuplan.memory.engines import normalize_engine

    vendor = (hardware or {}).get("vendor")
    image = default_image(normalize_engine(runtime), amd=vendor == "amd", gpus=vendor != "cpu")
    return image or _TRT_IMAGE


# gpuplan's own runtime defaults, each in the runtime's words: a task without a profile
# still has a small space to search.
_RUNTIME_PARAMETERS: dict[Runtime, dict[str, list[Any]]] = {
    "sglang": {"tp-size": [1], "mem-fraction-static": [0.85, 0.9]},
    "vllm": {"tensor-parallel-size": [1], "gpu-memory-utilization": [0.85, 0.9]},
    "tensorrt-llm": {"tp_size": [1], "kv_cache_free_gpu_memory_fraction": [0.85, 0.9]},
    "llamacpp": {"parallel": [1, 4], "ctx-size": [4096]},
}

_MODE_DEFAULTS: dict[DeploymentMode, dict[str, Any]] = {
    "docker": {"deployment": {"port": 8000, "gpus": "all", "shm_size": "16g"}},
    "ome": {"deployment": {"port": 8000, "namespace": "autotuner"}},
    "local": {"deployment": {"host": "127.0.0.1", "port": 0}},
}


class TaskContext(BaseModel):
    """Seed 003's ``POST /api/tasks/from-context`` request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_name: str = Field(min_length=1, description="Model id, path or GGUF file.")
    base_runtime: str = Field(description="sglang, vllm, tensorrt-llm or llamacpp.")
    deployment_mode: DeploymentMode = Field(default="docker")
    profiles: list[str] = Field(default_factory=list, description="Applied in this order.")
    user_overrides: dict[str, Any] = Field(default_factory=dict)
    override_mode: OverrideMode = Field(default="patch")
    total_gpus: int | None = Field(default=None, ge=1, description="Limits the TP sizes.")
    slo_config: dict[str, Any] | None = Field(default=None, description="Seed 003's slo block.")
    task_name: str | None = Field(default=None, description="Default: a name that never collides.")
    hardware: dict[str, Any] | None = Field(
        default=None,
        description="The hardware the task is for (detected or --hardware): summary, gpus, "
        "deployment_profile; recorded under deployment.hardware by the 'hardware' layer.",
    )
    optimization_strategy: Strategy = Field(default="grid_search")
    optimization_objective: Objective = Field(default="minimize_latency")


class TaskBuild(BaseModel):
    """The factory's answer: the config, where each value came from, and what was skipped."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    config: TaskConfig
    provenance: dict[str, FieldSource] = Field(description="Dotted key → value and its layer.")
    applied_layers: list[str] = Field(description="Layer names in the order applied.")
    warnings: list[str] = Field(default_factory=list, description="Skipped profiles, drops.")

    @property
    def generated_config(self) -> dict[str, Any]:
        return self.config.model_dump(mode="json")


def default_task_name(model_name: str, runtime: str, token: str | None = None) -> str:
    """``{model}-{runtime}-{8 hex}``: two tasks never share a name (nor an Optuna study)."""
    stem = re.sub(r"[^a-z0-9]+", "-", model_name.rsplit("/", 1)[-1].lower()).strip("-")
    return f"{stem[:40] or 'model'}-{runtime}-{token or secrets.token_hex(4)}"


def build_task(context: TaskContext, registry: ProfileRegistry | None = None) -> TaskBuild:
    """Merge the layers for ``context``; raise ``TuningConfigError`` on an unusable result."""
    registry = registry or default_registry()
    runtime = normalize_runtime(context.base_runtime)
    if runtime is None:
        raise TuningConfigError(
            f"base_runtime {context.base_runtime!r} is not a tuning runtime",
            hint="use sglang, vllm, tensorrt-llm or llamacpp",
        )
    warnings: list[str] = []
    name = context.task_name or default_task_name(context.model_name, runtime)
    layers: list[tuple[str, dict[str, Any], Origin]] = []

    def add(layer_name: str, data: Mapping[str, Any], kind: OriginKind = "builtin") -> None:
        translated = _translate(runtime, layer_name, data, warnings)
        origin = Origin(kind=kind, label=f"tuning layer {layer_name}")
        layers.append((layer_name, translated, origin))

    add(
        "base-model",
        {
            "task_name": name,
            "model": {"id_or_path": context.model_name, "namespace": "autotuner"},
            "base_runtime": runtime,
            "deployment_mode": context.deployment_mode,
        },
    )
    add(
        "base-optimization",
        {
            "optimization": {
                "strategy": context.optimization_strategy,
                "objective": context.optimization_objective,
                "max_iterations": 10,
                "timeout_per_iteration": 600,
            },
            "benchmark": {
                "task": "text-to-text",
                "model_name": context.model_name,
                "traffic_scenarios": ["D(100,100)"],
                "num_concurrency": [1],
            },
        },
    )
    add(f"{context.deployment_mode}-defaults", _MODE_DEFAULTS[context.deployment_mode])
    add(
        f"{runtime}-defaults",
        {
            "deployment": {"image": _image(runtime, context.hardware)},
            "parameters": _RUNTIME_PARAMETERS[runtime],
        },
    )
    if context.hardware:
        add("hardware", {"deployment": {"hardware": context.hardware}}, "hardware")
    for profile_name in context.profiles:
        profile = registry.get(profile_name)
        if profile is None:
            message = f"tuning profile {profile_name!r} not found; skipped"
            log.warning(message)
            warnings.append(message)
            continue
        for layer in profile.layers:
            add(f"profile:{profile_name}:{layer.name}", layer.data, _profile_kind(profile))
    if context.slo_config:
        add("user-slo", {"slo": context.slo_config}, "user")

    merged_layers = [Layer(data=data, origin=origin) for _, data, origin in layers]
    applied = [layer_name for layer_name, _, _ in layers]
    overrides = context.user_overrides
    if overrides and context.override_mode == "replace":
        merged, sources = merge_layers(merged_layers)
        keep = {key: merged[key] for key in IDENTITY_KEYS if key in merged}
        keep_origins = {
            tuple(dotted.split(".")): source.origin
            for dotted, source in sources.items()
            if dotted.split(".")[0] in IDENTITY_KEYS
        }
        replaced = _without_identity(_translate(runtime, "user_replace", overrides, warnings))
        merged_layers = [
            Layer(data=keep, origin=Origin(kind="builtin", label="identity"), origins=keep_origins),
            Layer(data=replaced, origin=Origin(kind="user", label="tuning layer user_replace")),
        ]
        applied.append("user_replace")
    elif overrides:
        patch = _translate(runtime, "user_patch", overrides, warnings)
        if "base_runtime" in patch and normalize_runtime(str(patch["base_runtime"])) != runtime:
            raise TuningConfigError(
                "user_overrides.base_runtime cannot change the runtime of a task",
                hint="set base_runtime in the request; parameters are translated for it",
            )
        merged_layers.append(
            Layer(data=patch, origin=Origin(kind="user", label="tuning layer user_patch"))
        )
        applied.append("user_patch")

    merged, sources = merge_layers(merged_layers)
    merged.setdefault("deployment_mode", context.deployment_mode)
    _lists_for_parameters(merged, sources)
    _limit_tp(merged, sources, runtime, context.total_gpus, warnings)
    config = _validate(merged)
    return TaskBuild(config=config, provenance=sources, applied_layers=applied, warnings=warnings)


def _profile_kind(profile: TuningProfile) -> OriginKind:
    if profile.source == "built-in":
        return "builtin"
    return "config" if profile.source == "code" else "path"


def _translate(
    runtime: Runtime, layer_name: str, data: Mapping[str, Any], warnings: list[str]
) -> dict[str, Any]:
    out = dict(data)
    params = data.get("parameters")
    if isinstance(params, Mapping):
        translation = translate_parameters(runtime, dict(params))
        out["parameters"] = translation.parameters
        for message in translation.dropped.values():
            warnings.append(f"{layer_name}: {message}")
    return out


def _without_identity(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in IDENTITY_KEYS}


def _lists_for_parameters(merged: dict[str, Any], sources: dict[str, FieldSource]) -> None:
    """A single value is a one-value list; an empty list is an error naming its layer."""
    params = merged.get("parameters", {})
    if not isinstance(params, dict):
        raise TuningConfigError(
            "parameters must be a table of flag → list of values",
            hint='e.g. {"tp-size": [1, 2]}',
        )
    for flag, values in list(params.items()):
        if not isinstance(values, list):
            params[flag] = [values]
            continue
        if not values:
            source = sources.get(f"parameters.{flag}")
            by = f" (set by {source.origin.label})" if source else ""
            raise TuningConfigError(
                f"parameters.{flag} is an empty list{by}: nothing to try",
                hint=f"give {flag} at least one value, or remove it",
            )


def _limit_tp(
    merged: dict[str, Any],
    sources: dict[str, FieldSource],
    runtime: Runtime,
    total_gpus: int | None,
    warnings: list[str],
) -> None:
    flag = tp_flag(runtime)
    params = merged.get("parameters", {})
    if total_gpus is None or flag is None or flag not in params:
        return
    before = params[flag]
    kept = [tp for tp in before if isinstance(tp, int | float) and tp <= total_gpus]
    if not kept:
        raise TuningConfigError(
            f"parameters.{flag}: none of {before} fits total_gpus={total_gpus}",
            hint=f"use a profile with {flag} ≤ {total_gpus}, override parameters.{flag}, "
            "or raise total_gpus",
        )
    if kept != before:
        params[flag] = kept
        warnings.append(f"parameters.{flag}: {before} limited to {kept} by total_gpus={total_gpus}")
        key = f"parameters.{flag}"
        old = sources.get(key)
        shadowed = (Shadowed(value=old.value, origin=old.origin), *old.shadowed) if old else ()
        sources[key] = FieldSource(
            value=kept,
            origin=Origin(kind="rule", label=f"total_gpus={total_gpus} limits {flag}"),
            shadowed=shadowed,
        )


def _validate(merged: dict[str, Any]) -> TaskConfig:
    try:
        return TaskConfig.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise TuningConfigError(
            f"the merged tuning config is invalid: {problems}",
            hint="fix the profile or user_overrides that set these fields",
        ) from exc
