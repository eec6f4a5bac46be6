"""The engine settings of what was chosen: one block per loaded model, vendor-aware.

A profile's ``engine`` block (seed 002's heuristics) is decided from the
hardware alone, before any model is chosen, so it can contradict the picks:
bitsandbytes 8-bit while the picks are a llama.cpp Q4 and a vLLM BF16, TP4
while chat runs over 8 GPUs, TF32 and cuDNN knobs on an AMD GPU. These blocks
are derived from each pick instead — its engine, its quantization, the GPUs it
is split over — and from the GPU vendor: CUDA-only knobs (TF32, cuDNN
benchmark) only on NVIDIA, and a vLLM or SGLang server sharing a GPU gets the
memory fraction that lets it co-reside (both engines otherwise claim 90 % of
each GPU they start on: vLLM's ``--gpu-memory-utilization`` and SGLang's
``--mem-fraction-static`` defaults).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.models.quant import normalize_quant, quant_spec
from gpuplan.models.registry import Backend
from gpuplan.selection.candidates import nominal_bits
from gpuplan.selection.joint import LoadedModel

__all__ = ["EngineBlock", "GpuKind", "engine_block"]

GpuKind = Literal["nvidia", "amd", "cpu", "other"]
"""Whose GPU the model runs on: it decides which knobs exist."""

_FRACTION_ENGINES: frozenset[Backend] = frozenset({"vllm", "sglang"})


class EngineBlock(BaseModel):
    """How one chosen model is launched, derived from the pick itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_id: str = Field(description="Registry id of the loaded model.")
    quantization: str = Field(description="Its quantization, as the registry spells it.")
    engine: Backend = Field(description="The engine the pick is served with.")
    device: Literal["cuda", "rocm", "cpu"] = Field(
        description="cuda on NVIDIA, rocm on AMD (PyTorch on ROCm also names it 'cuda'), cpu."
    )
    tensor_parallel_size: int = Field(description="GPUs the model is split over.")
    weights: str = Field(description="Weight format: 'bf16', 'fp8', 'awq', 'gguf Q4_K_M', ...")
    quantization_bits: int = Field(description="Precision class of the weights, bits.")
    activation_dtype: Literal["bf16", "fp16", "fp32"] = Field(
        description="Compute dtype: bf16 where the GPU has it, else fp16; fp32 on a CPU."
    )
    flash_attention: Literal["on", "auto", "off"] = Field(
        description="Flash attention: llama.cpp and Ollama decide per GPU ('auto'); GPU "
        "engines use it where the GPU supports it."
    )
    gpu_memory_utilization: float | None = Field(
        default=None,
        description="vLLM --gpu-memory-utilization / SGLang --mem-fraction-static: the share "
        "of each GPU this server may claim, so servers sharing a GPU co-reside; None for "
        "engines that allocate what they need.",
    )
    allow_tf32: bool | None = Field(
        default=None, description="CUDA TF32 matmuls (NVIDIA Ampere or newer only); None: n/a."
    )
    cudnn_benchmark: bool | None = Field(
        default=None, description="cuDNN autotuning (NVIDIA only); None: not applicable."
    )


def engine_block(
    model: LoadedModel,
    engine: Backend,
    *,
    kind: GpuKind,
    bf16: bool,
    gpu_memory_mb: int | None,
    shares_gpu: bool,
) -> EngineBlock:
    """The block for ``model`` served by ``engine`` on GPUs of ``gpu_memory_mb`` MiB each."""
    canonical = normalize_quant(model.quantization)
    spec = quant_spec(canonical)
    weights = f"gguf {model.quantization}" if spec.family == "gguf" else canonical
    cpu = kind == "cpu"
    dtype: Literal["bf16", "fp16", "fp32"] = "fp32" if cpu else ("bf16" if bf16 else "fp16")
    fraction = None
    if engine in _FRACTION_ENGINES and gpu_memory_mb and shares_gpu:
        fraction = min(0.95, math.ceil(100 * model.vram_per_gpu_mb / gpu_memory_mb) / 100)
    if engine in ("llamacpp", "ollama") or cpu:
        flash: Literal["on", "auto", "off"] = "auto"
    else:
        flash = "on" if bf16 else "off"
    nvidia = kind == "nvidia"
    transformers = engine == "transformers"
    return EngineBlock(
        model_id=model.model_id,
        quantization=model.quantization,
        engine=engine,
        device="cpu" if cpu else ("rocm" if kind == "amd" else "cuda"),
        tensor_parallel_size=model.gpus,
        weights=weights,
        quantization_bits=nominal_bits(model.quantization),
        activation_dtype=dtype,
        flash_attention=flash,
        gpu_memory_utilization=fraction,
        allow_tf32=(bf16 if nvidia else None) if transformers else None,
        cudnn_benchmark=(True if nvidia else None) if transformers else None,
    )
