"""How much GPU memory serving a model takes on one engine: ``estimate``.

    total = weights + KV cache + activations + overhead        (MiB, per GPU when TP > 1)

Each term comes from its own module (``weights``, ``kvcache``, ``activation``) and
the engine's fixed costs from ``engines``. The estimate is a *requirement* for the
requested context and concurrency, calibrated so it is never below what real
engines measured (docs/estimator.md lists every row it was checked against): users
prefer 5 % spare to an out-of-memory crash. Every rounding goes up, and every
choice made for the user is written into ``assumptions``.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.errors import ModelError
from gpuplan.memory.activation import activation_memory
from gpuplan.memory.engines import Engine, EngineProfile, engine_profile
from gpuplan.memory.kvcache import kv_memory, resolve_kv_dtype
from gpuplan.memory.weights import describe_bits, model_bytes, weight_memory
from gpuplan.models.arch import ModelArch
from gpuplan.models.quant import QUANTS, QuantSpec, dtype_quant, normalize_quant
from gpuplan.models.weight_bytes import MIB, WeightBytes

_FLOAT_TO_GGUF = {"fp16": "f16", "fp32": "f32", "bf16": "bf16"}
_GGUF_TO_FLOAT = {"f16": "fp16", "f32": "fp32"}


class Estimate(BaseModel):
    """GPU memory needed to serve one model on one engine, in MiB, with its reasons."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: Engine = Field(description="Engine the estimate is for.")
    quant: str = Field(description="Canonical quantization of the weights.")
    context: int = Field(description="Tokens per sequence the KV cache is sized for.")
    concurrency: int = Field(description="Sequences served at once.")
    tensor_parallel: int = Field(description="GPUs the model is split over.")
    kv_cache_dtype: str = Field(description="KV cache element type used.")
    per_gpu: bool = Field(description="True when the figures are per GPU (tensor_parallel > 1).")
    weights_mb: int = Field(description="Weights on the fullest GPU, MiB.")
    kv_cache_mb: int = Field(description="KV cache (and hybrid mixer state), MiB.")
    activation_mb: int = Field(description="Activations / compute buffers, MiB.")
    overhead_mb: int = Field(description="CUDA context, runtime pools, CUDA graphs, NCCL, MiB.")
    total_mb: int = Field(description="Sum of the four, MiB: the memory a GPU must have free.")
    host_mb: int = Field(default=0, description="Weights the engine keeps in host RAM, MiB.")
    weights_source: Literal["file", "architecture"] = Field(
        description="file: exact tensor bytes from headers; architecture: parameters × bits."
    )
    assumptions: list[str] = Field(description="Every choice made to get these numbers.")


def _resolve_quant(
    arch: ModelArch, engine: EngineProfile, quant: str | None, weights: WeightBytes | None
) -> tuple[QuantSpec, list[str]]:
    notes: list[str] = []
    name = quant or (weights.quant if weights else None) or arch.checkpoint_quant or arch.dtype
    if name is None:
        name = "bf16"
        notes.append("checkpoint dtype unknown: weights counted as bf16")
    canonical = normalize_quant(name)
    if not engine.ggml and canonical in _GGUF_TO_FLOAT:
        canonical = _GGUF_TO_FLOAT[canonical]  # 'f16' typed for vLLM means fp16
    spec = QUANTS[canonical]
    # llama.cpp (and Ollama on it) load MXFP4 MoE GGUFs: `file type = MXFP4 MoE`, experts
    # in MXFP4 and the rest wider -- the gpt-oss releases (ggml-org/gpt-oss-20b-GGUF).
    if engine.ggml and spec.family == "checkpoint" and canonical != "mxfp4":
        raise ModelError(
            f"{engine.label} cannot load {canonical} checkpoints",
            hint="estimate a GGUF type instead, e.g. --quant q4_k_m or q8_0",
        )
    if engine.ggml and spec.family == "float":
        spec = QUANTS[_FLOAT_TO_GGUF.get(canonical, canonical)] if canonical != "bf16" else spec
    if not engine.ggml and spec.family == "gguf":
        if engine.name in ("vllm", "sglang"):
            notes.append(f"{engine.label} loading a GGUF file (experimental loader in the engine)")
        elif engine.name == "transformers":
            float_name = _GGUF_TO_FLOAT.get(canonical, arch.dtype or "fp16")
            notes.append(f"transformers dequantizes GGUF {canonical} to {float_name} on load")
            spec = QUANTS[dtype_quant(float_name) or "fp16"]
        else:
            raise ModelError(
                f"{engine.label} cannot load GGUF {canonical} weights",
                hint="use a checkpoint quantization such as fp8, int4 (awq/gptq) or bf16",
            )
    return spec, notes


def _file_matches(weights: WeightBytes, spec: QuantSpec) -> bool:
    if weights.quant is None:
        return True
    try:
        file_quant = normalize_quant(weights.quant)
    except ModelError:
        return False
    same = {
        file_quant,
        _FLOAT_TO_GGUF.get(file_quant, file_quant),
        _GGUF_TO_FLOAT.get(file_quant, file_quant),
    }
    return spec.name in same


def _mb(value: float) -> int:
    return max(0, math.ceil(value / MIB))


def splits_heads(arch: ModelArch, profile: EngineProfile, tensor_parallel: int) -> bool:
    """Whether the engine can shard attention over ``tensor_parallel`` GPUs.

    vLLM, SGLang and TensorRT-LLM shard attention heads and refuse a size that
    does not divide them; llama.cpp and Ollama split whole layers, so any size works.
    """
    return profile.ggml or arch.num_attention_heads % tensor_parallel == 0


def _check_split(arch: ModelArch, profile: EngineProfile, tensor_parallel: int) -> None:
    """Refuse a split the engine itself refuses, rather than answer for an impossible one."""
    if not splits_heads(arch, profile, tensor_parallel):
        sizes = [n for n in (1, 2, 4, 8, 16) if arch.num_attention_heads % n == 0]
        raise ModelError(
            f"{profile.label} cannot split {arch.num_attention_heads} attention heads over "
            f"{tensor_parallel} GPUs",
            hint="use a tensor parallel size that divides the heads: " + ", ".join(map(str, sizes)),
        )
    if profile.ggml and tensor_parallel > arch.num_layers:  # llama.cpp splits whole layers
        raise ModelError(
            f"{profile.label} cannot split {arch.num_layers} layers over {tensor_parallel} GPUs",
            hint=f"use at most {arch.num_layers} GPUs",
        )


def estimate(
    arch: ModelArch,
    *,
    quant: str | None = None,
    engine: str = "vllm",
    context: int,
    concurrency: int = 1,
    kv_cache_dtype: str | None = None,
    tensor_parallel: int = 1,
    weight_bytes: WeightBytes | int | None = None,
    flash_attention: bool | None = None,
    gpu_memory_mb: int | None = None,
    ubatch: int | None = None,
) -> Estimate:
    """GPU memory to serve ``arch`` on ``engine``: ``concurrency`` sequences of ``context`` tokens.

    ``quant`` defaults to the file's or checkpoint's own; ``weight_bytes`` (from
    ``gpuplan.models.files``) makes the weights exact instead of parameters × bits;
    a bare int is taken as the total bytes of the checkpoint in ``quant``.
    ``flash_attention`` overrides the engine's default (llama.cpp / Ollama only), and
    ``ubatch`` llama.cpp's ``n_ubatch`` (``--ubatch-size``), which sizes its compute buffer.
    ``gpu_memory_mb`` is the memory of the GPU it will run on: engines that size
    start-up reservations by it (vLLM below 70 GiB) are estimated with those
    defaults; None sizes them for the largest GPUs, which never underestimates.
    """
    if context < 1 or concurrency < 1 or tensor_parallel < 1:
        raise ModelError(
            f"context ({context}), concurrency ({concurrency}) and tensor parallel "
            f"({tensor_parallel}) must all be at least 1"
        )
    profile = engine_profile(engine)
    _check_split(arch, profile, tensor_parallel)
    if ubatch is not None:
        if ubatch < 1:
            raise ModelError(f"ubatch is {ubatch}", hint="use 1 or more tokens (llama.cpp -ub)")
        profile = profile.model_copy(update={"ubatch_tokens": ubatch})
    scaled_down = ""
    if (
        gpu_memory_mb is not None
        and profile.small_gpu_below_mb is not None
        and gpu_memory_mb < profile.small_gpu_below_mb
    ):
        profile = profile.model_copy(
            update={
                "prefill_chunk_tokens": profile.small_gpu_prefill_tokens,
                "sampler_rows": profile.small_gpu_sampler_rows,
            }
        )
        scaled_down = (
            f"{profile.label} defaults for a {gpu_memory_mb:,} MiB GPU (below "
            f"{profile.small_gpu_below_mb:,}): {profile.prefill_chunk_tokens} batched tokens, "
            f"{profile.sampler_rows} sequences; a launch that raises them needs more"
        )
    if isinstance(weight_bytes, int):
        weight_bytes = WeightBytes(
            total_bytes=weight_bytes, parameters=arch.total_parameters, quant=quant
        )
    spec, assumptions = _resolve_quant(arch, profile, quant, weight_bytes)
    assumptions.extend(arch.notes)
    if scaled_down:
        assumptions.append(scaled_down)

    if weight_bytes is not None and _file_matches(weight_bytes, spec):
        weights = weight_bytes
        files = ", ".join(weights.files) if weights.files else "the checkpoint"
        assumptions.insert(
            0, f"weights: exact tensor bytes from {files} ({_mb(weights.total_bytes):,} MiB)"
        )
        assumptions.extend(weights.notes)
        source: Literal["file", "architecture"] = "file"
    else:
        if weight_bytes is not None:
            assumptions.append(
                f"file is {weight_bytes.quant}, estimate is for {spec.name}: "
                "weights from parameters"
            )
        weights = model_bytes(arch, spec)
        assumptions.insert(
            0,
            f"weights: {weights.parameters / 1e9:,.2f} B parameters at {spec.name}: "
            f"{describe_bits(spec)}",
        )
        assumptions.extend(weights.notes)
        source = "architecture"
    placed = weight_memory(arch, weights, spec, profile, tensor_parallel)
    assumptions.extend(placed.assumptions)

    kv_dtype = resolve_kv_dtype(arch, profile, kv_cache_dtype)
    kv = kv_memory(
        arch, profile, context=context, concurrency=concurrency, kv_dtype=kv_dtype,
        tensor_parallel=tensor_parallel,
    )  # fmt: skip
    assumptions.extend(kv.assumptions)
    if profile.ggml and kv_dtype not in ("fp32", "fp16", "bf16"):
        # llama.cpp refuses a quantized V cache without flash attention, so its launch
        # (and Ollama's, through OLLAMA_FLASH_ATTENTION=1) turns it on.
        if flash_attention is False:
            raise ModelError(
                f"{profile.label} cannot run a {kv_dtype} KV cache with flash attention off",
                hint="use --flash-attn on or auto, or an fp16 KV cache",
            )
        flash_attention = True
    act = activation_memory(
        arch, profile, context=context, concurrency=concurrency,
        tensor_parallel=tensor_parallel, flash_attention=flash_attention,
    )  # fmt: skip
    assumptions.extend(act.assumptions)

    overhead = profile.cuda_context_mb + profile.runtime_mb + profile.cuda_graph_mb
    parts = [f"CUDA context {profile.cuda_context_mb}", f"runtime {profile.runtime_mb}"]
    if profile.cuda_graph_mb:
        parts.append(f"CUDA graphs {profile.cuda_graph_mb}")
    if tensor_parallel > 1 and profile.tp_comm_mb:
        overhead += profile.tp_comm_mb
        parts.append(f"NCCL {profile.tp_comm_mb}")
    assumptions.append(f"overhead per GPU: {' + '.join(parts)} MiB")
    assumptions.append(
        f"this is the requirement for {concurrency} × {context:,} tokens; {profile.label} "
        f"preallocates {profile.preallocates}"
    )
    if arch.max_position_embeddings and context > arch.max_position_embeddings:
        assumptions.append(
            f"context {context:,} exceeds the model's trained "
            f"{arch.max_position_embeddings:,} tokens"
        )
    if tensor_parallel > 1:
        assumptions.append(f"figures are per GPU for {tensor_parallel} GPUs")
        if not splits_heads(arch, profile, tensor_parallel):
            assumptions.append(
                f"{profile.label} cannot split {arch.num_attention_heads} attention heads "
                f"over {tensor_parallel} GPUs: it refuses this tensor parallel size"
            )

    weights_mb, kv_mb, act_mb = _mb(placed.gpu_bytes), _mb(kv.gpu_bytes), _mb(act.gpu_bytes)
    return Estimate(
        engine=profile.name,
        quant=spec.name,
        context=context,
        concurrency=concurrency,
        tensor_parallel=tensor_parallel,
        kv_cache_dtype=kv.dtype,
        per_gpu=tensor_parallel > 1,
        weights_mb=weights_mb,
        kv_cache_mb=kv_mb,
        activation_mb=act_mb,
        overhead_mb=overhead,
        total_mb=weights_mb + kv_mb + act_mb + overhead,
        host_mb=_mb(placed.host_bytes),
        weights_source=source,
        assumptions=assumptions,
    )
