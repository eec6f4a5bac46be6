"""The launch stage's data: what placement hands over, and what a renderer returns.

Placement decides *where* a service runs; a launch renderer decides *how* the
engine is started there. This module is the seam between the two: placement
(and the planning facade) build one ``LaunchRequest`` per placed service, every
engine renderer turns one into a ``LaunchConfig``, and the file renderers
(Compose override, gpu-assignments.yml, Kubernetes) read both. Fields may be
added with defaults; none is renamed, because the JSON of ``gpuplan plan``
(``launch``: ``engine``, ``engine_version``, ``argv``, ``env``, ``image``) is a
contract users' scripts rely on. Memory is MiB everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.memory.engines import Engine

__all__ = ["GpuSlot", "LaunchConfig", "LaunchRequest"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GpuSlot(_Frozen):
    """One device a service runs on: a whole GPU or a MIG slice of one."""

    index: int = Field(ge=0, description="Host GPU index (Compose ``device_ids``, nvidia-smi's).")
    uuid: str | None = Field(
        default=None, description="GPU-… or MIG-… UUID; preferred in CUDA_VISIBLE_DEVICES."
    )
    vendor: Literal["nvidia", "amd", "unknown"] = Field(default="nvidia")
    name: str = Field(default="", description="Product name, for comments and node selectors.")
    total_mb: int = Field(ge=0, description="Memory of this device (the slice, for MIG), MiB.")
    mig_profile: str | None = Field(
        default=None, description="MIG profile ('1g.10gb') when this is a slice, else None."
    )
    reserved_before_mb: int = Field(
        default=0,
        ge=0,
        description=(
            "MiB that services started earlier on this device hold when this one starts "
            "(SGLang sizes from free memory, so start order matters)."
        ),
    )
    reserved_total_mb: int = Field(
        default=0,
        ge=0,
        description="MiB every *other* service placed on this device holds once all run.",
    )
    vendor_index: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Ordinal among this vendor's GPUs on the host (ROCm numbers only AMD GPUs); "
            "None: the same as ``index``."
        ),
    )
    bf16: bool | None = Field(
        default=None,
        description="The device computes in bfloat16 (CUDA 8.0+, AMD gfx90a+); None: unknown.",
    )


class LaunchRequest(_Frozen):
    """One placed service, with everything a renderer needs and nothing it must look up."""

    service: str = Field(description="Service name (Compose service, k8s object name stem).")
    model_id: str = Field(description="Registry id or the discovered file's id.")
    model_source: str = Field(
        description="What the engine loads: HF repo id, local path, GGUF file or Ollama tag."
    )
    engine: Engine = Field(description="Serving engine.")
    quantization: str = Field(description="Quantization of the variant being served.")
    model_dtype: str | None = Field(
        default=None,
        description="Precision the model was released in ('bf16', 'fp16', 'fp32'); None: unknown.",
    )
    gpus: tuple[GpuSlot, ...] = Field(
        default=(), description="Devices, in tensor-parallel rank order; empty = CPU."
    )
    vram_budget_mb: int = Field(
        ge=0, description="The service's whole VRAM budget, split evenly over ``gpus``."
    )
    weights_mb: int = Field(default=0, ge=0, description="Weights per GPU, MiB (estimate).")
    kv_cache_mb: int = Field(default=0, ge=0, description="KV cache per GPU, MiB (estimate).")
    host_ram_mb: int = Field(
        default=0,
        ge=0,
        description="Host RAM the engine keeps weights in (llama.cpp's embeddings, offloaded "
        "layers), MiB (estimate); 0: none beyond the process itself.",
    )
    flash_off_shortfall_mb: int = Field(
        default=0,
        ge=0,
        description="MiB per GPU the budget falls short by if flash attention is forced off "
        "(llama.cpp / Ollama: the scores buffer the estimate's -fa auto did not count); 0: "
        "it fits either way.",
    )
    context_tokens: int | None = Field(
        default=None, description="Context the estimate was made for; None: no KV cache."
    )
    max_concurrency: int = Field(default=1, ge=1, description="Sequences the estimate sized.")
    kv_cache_dtype: str | None = Field(
        default=None,
        description="KV-cache dtype the estimate assumed in gpuplan's names ('fp16', 'bf16', "
        "'fp8', 'q8_0', …); None: the engine's default ('auto').",
    )
    port: int = Field(default=8000, ge=1, le=65535, description="Port the engine listens on.")
    start_order: int = Field(default=0, ge=0, description="Start position among co-residents.")
    role: str | None = Field(
        default=None,
        description="The service's role ('chat', 'embedding', …): embedders start in pooling mode.",
    )
    engine_settings: Mapping[str, Any] = Field(
        default_factory=dict,
        description="The deployment profile's engine block: lowest precedence.",
    )
    overrides: Mapping[str, Any] = Field(
        default_factory=dict, description="Explicit user flags: they win over everything."
    )


class LaunchConfig(_Frozen):
    """How one service is started: an argument list and environment, never a shell string."""

    service: str
    engine: Engine
    engine_version: str = Field(description="Engine release whose flags ``argv`` uses.")
    argv: tuple[str, ...] = Field(description="Command and arguments, one token per item.")
    env: Mapping[str, str] = Field(default_factory=dict, description="Environment to add.")
    image: str | None = Field(default=None, description="Container image, when one is known.")
    port: int = Field(description="Port the engine serves its HTTP API on.")
    health_path: str = Field(default="/health", description="Readiness/liveness probe path.")
    notes: tuple[str, ...] = Field(
        default=(), description="Why a value was chosen, and what the user should know."
    )
    files: Mapping[str, str] = Field(
        default_factory=dict,
        description="Files the launch needs beside argv, by name (an Ollama Modelfile).",
    )
    after_start: tuple[tuple[str, ...], ...] = Field(
        default=(),
        description="Commands to run once the server is healthy (``ollama create``), as argv.",
    )
