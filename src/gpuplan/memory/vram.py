"""What one registry variant costs to serve: the registry's side of the VRAM estimator.

Three paths, named in the candidate's ``vram_source``:

* ``estimator`` — a decoder (``kv_cache = true``) with ``hf_config``: the
  estimator's full formula (weights, KV cache at the context, activations,
  engine overhead), on the engine the variant is served with;
* ``weights_only`` — an encoder, embedder, detector or any model without
  ``hf_config``: parameters x the quantization's effective bits, plus the
  engine's CUDA context and runtime pools, plus an activation allowance of a
  quarter of the weights (at least 256 MiB). No KV cache, so no context;
* ``registry`` — a fixed figure the registry cites (``vram_estimate_mb``).

A model found on disk (``gpuplan.models.discovered``) takes the same paths with its
own header facts instead of the registry's: its ``ModelArch`` stands in for
``hf_config`` and its variant's exact ``WeightBytes`` for ``weights_mb`` (which is
rounded to MiB and loses what llama.cpp keeps in host RAM).
"""

from __future__ import annotations

import functools
import json
import math

from gpuplan.errors import GpuplanError, ModelError
from gpuplan.memory.engines import Engine, engine_profile, normalize_engine
from gpuplan.memory.estimate import Estimate, estimate
from gpuplan.memory.figure import DEFAULT_CONTEXT, VariantCoster, VramFigure
from gpuplan.models.arch import ModelArch
from gpuplan.models.discovered import DiscoveredEntry, DiscoveredVariant
from gpuplan.models.hf_config import parse_hf_config
from gpuplan.models.quant import quant_spec
from gpuplan.models.registry import Backend, ModelEntry, Variant
from gpuplan.models.weight_bytes import WeightBytes

__all__ = [
    "ACTIVATION_FLOOR_MB",
    "ACTIVATION_SHARE",
    "arch_of",
    "engine_for",
    "estimate_variant",
    "has_arch",
    "variant_vram",
    "weights_only_mb",
]

MIB = 2**20
ACTIVATION_SHARE = 0.25
"""Activation allowance of a model without KV cache, as a share of its weights."""
ACTIVATION_FLOOR_MB = 256
"""…and never less than this (a batch of images through a vision encoder)."""


def engine_for(backend: Backend) -> Engine:
    """The estimator's engine id for a registry backend ('llamacpp' → 'llama.cpp')."""
    return normalize_engine(backend)


@functools.lru_cache(maxsize=512)
def _arch_cached(config_json: str) -> ModelArch:
    return parse_hf_config(json.loads(config_json))


def has_arch(entry: ModelEntry) -> bool:
    """The estimator can read this entry's architecture (``hf_config`` or headers)."""
    return isinstance(entry, DiscoveredEntry) or entry.hf_config is not None


def _exact_weights(variant: Variant) -> WeightBytes | None:
    return variant.weight_bytes if isinstance(variant, DiscoveredVariant) else None


def arch_of(entry: ModelEntry) -> ModelArch:
    """The entry's architecture as the estimator reads it; errors name the entry."""
    if isinstance(entry, DiscoveredEntry):
        return entry.arch
    if entry.hf_config is None:
        raise ModelError(
            f"model {entry.id!r} has no hf_config",
            hint="add its config.json facts under hf_config to estimate it",
        )
    try:
        return _arch_cached(json.dumps(entry.hf_config, sort_keys=True))
    except GpuplanError as error:
        raise ModelError(f"model {entry.id!r}: {error.message}", hint=error.hint) from None


def estimate_variant(
    entry: ModelEntry,
    variant: Variant,
    *,
    context: int,
    concurrency: int = 1,
    tensor_parallel: int = 1,
    kv_cache_dtype: str | None = None,
    gpu_memory_mb: int | None = None,
    flash_attention: bool | None = None,
) -> Estimate:
    """The estimator's figure for one decoder variant on its own engine.

    ``gpu_memory_mb`` (the GPU's total memory) lets engines that size start-up
    buffers by the GPU use their small-GPU defaults; None assumes the largest.
    ``flash_attention`` overrides llama.cpp's / Ollama's ``-fa auto`` (None keeps it).
    """
    engine = engine_for(entry.backend_for(variant))
    weight_bytes: WeightBytes | int | None = _exact_weights(variant)
    if weight_bytes is None and variant.weights_mb:
        weight_bytes = variant.weights_mb * MIB
    try:
        return estimate(
            arch_of(entry),
            quant=variant.quantization,
            engine=engine,
            context=context,
            concurrency=concurrency,
            tensor_parallel=tensor_parallel,
            kv_cache_dtype=kv_cache_dtype,
            weight_bytes=weight_bytes,
            gpu_memory_mb=gpu_memory_mb,
            flash_attention=flash_attention,
        )
    except GpuplanError as error:
        raise ModelError(
            f"model {entry.id!r} {variant.quantization}: {error.message}", hint=error.hint
        ) from None


def weights_only_mb(entry: ModelEntry, variant: Variant) -> tuple[int, tuple[str, ...]]:
    """VRAM of a model without KV cache: weights + engine overhead + activation allowance."""
    try:
        spec = quant_spec(variant.quantization)
    except GpuplanError as error:
        raise ModelError(
            f"model {entry.id!r} {variant.quantization}: {error.message}", hint=error.hint
        ) from None
    profile = engine_profile(engine_for(entry.backend_for(variant)))
    exact = _exact_weights(variant)
    if exact is not None:
        weights = math.ceil(exact.total_bytes / MIB)
        how = f"weights: exact tensor bytes from the files' headers ({weights:,} MiB)"
    elif variant.weights_mb is not None:
        weights = variant.weights_mb
        how = f"weights: {weights:,} MiB as listed in the registry"
    else:
        weights = math.ceil(entry.parameters_b * 1e9 * spec.bits / 8 / MIB)
        how = (
            f"weights: {entry.parameters_b:g} B parameters at {spec.name} "
            f"({spec.bits:g} bits): {weights:,} MiB"
        )
    activation = max(ACTIVATION_FLOOR_MB, math.ceil(weights * ACTIVATION_SHARE))
    overhead = profile.cuda_context_mb + profile.runtime_mb
    return weights + activation + overhead, (
        how,
        f"no KV cache; activation allowance {activation:,} MiB "
        f"({ACTIVATION_SHARE:.0%} of weights, at least {ACTIVATION_FLOOR_MB} MiB)",
        f"overhead: CUDA context {profile.cuda_context_mb} + runtime {profile.runtime_mb} MiB "
        f"({profile.label})",
    )


def variant_vram(
    entry: ModelEntry,
    variant: Variant,
    context: int | None,
    *,
    gpu_memory_mb: int | None = None,
    host_ram: bool = False,
    concurrency: int = 1,
    flash_attention: bool | None = None,
) -> VramFigure:
    """The candidate builder's default coster (see the module docstring for the paths).

    ``gpu_memory_mb`` is the memory of the GPU the model would run on; None costs
    it for the largest GPUs, whose engine start-up reserves are the biggest.
    ``host_ram``: the budget is the host's RAM (no GPU), so the weights an engine keeps
    in host memory anyway (llama.cpp's token embeddings) count against it too.
    ``concurrency``: sequences served at once; a decoder's KV cache holds that many
    contexts. Models without a KV cache cost the same at any concurrency.
    ``flash_attention``: llama.cpp / Ollama forced on or off (None: their ``-fa auto``).
    """
    if variant.vram_estimate_mb is not None:
        fixed = [f"fixed figure from the registry: {variant.vram_estimate_source}"]
        if entry.kv_cache and concurrency > 1:
            fixed.append(
                f"the fixed figure does not grow with concurrency: {concurrency} sequences "
                "may need more than it says"
            )
        return VramFigure(variant.vram_estimate_mb, "registry", tuple(fixed))
    if entry.kv_cache and has_arch(entry):
        result = estimate_variant(
            entry,
            variant,
            context=context or DEFAULT_CONTEXT,
            concurrency=concurrency,
            gpu_memory_mb=gpu_memory_mb,
            flash_attention=flash_attention,
        )
        if host_ram and result.host_mb:
            return VramFigure(
                result.total_mb + result.host_mb,
                "estimator",
                (
                    *result.assumptions,
                    f"no GPU: the {result.host_mb:,} MiB of weights kept in host RAM share "
                    "the RAM budget",
                ),
            )
        return VramFigure(result.total_mb, "estimator", tuple(result.assumptions))
    total, assumptions = weights_only_mb(entry, variant)
    return VramFigure(total, "weights_only", assumptions)


def coster_for_gpu(
    gpu_memory_mb: int | None, *, concurrency: int = 1, flash_attention: bool | None = None
) -> VariantCoster:
    """A coster that sizes each variant for a GPU of ``gpu_memory_mb`` MiB.

    Selection plans one model per GPU, so the host's largest GPU is the one to
    cost for: it is where any model that fits at all would go. ``concurrency``
    is the sequences each model serves at once (``variant_vram``'s).
    """
    return functools.partial(
        variant_vram,
        gpu_memory_mb=gpu_memory_mb,
        concurrency=concurrency,
        flash_attention=flash_attention,
    )
