"""The memory stage: how much GPU memory serving a model takes, per engine.

Weights (exact from headers, else parameters x bits), KV cache, activations and
engine overheads, summed by ``estimate``; ``variant_vram`` costs a registry
variant for selection. One public face, loaded lazily (see ``gpuplan.models``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gpuplan._lazy import lazy_exports

if TYPE_CHECKING:
    from gpuplan.memory.activation import (
        activation_memory,
    )
    from gpuplan.memory.engines import (
        ENGINES,
        Engine,
        EngineProfile,
        engine_profile,
        normalize_engine,
    )
    from gpuplan.memory.estimate import (
        Estimate,
        estimate,
        splits_heads,
    )
    from gpuplan.memory.figure import (
        DEFAULT_CONTEXT,
        VariantCoster,
        VramFigure,
        VramSource,
    )
    from gpuplan.memory.kvcache import (
        kv_memory,
        resolve_kv_dtype,
    )
    from gpuplan.memory.vram import (
        arch_of,
        coster_for_gpu,
        engine_for,
        estimate_variant,
        has_arch,
        variant_vram,
        weights_only_mb,
    )
    from gpuplan.memory.weights import (
        describe_bits,
        model_bytes,
        weight_memory,
    )

__all__ = [
    "DEFAULT_CONTEXT",
    "ENGINES",
    "Engine",
    "EngineProfile",
    "Estimate",
    "VariantCoster",
    "VramFigure",
    "VramSource",
    "activation_memory",
    "arch_of",
    "coster_for_gpu",
    "describe_bits",
    "engine_for",
    "engine_profile",
    "estimate",
    "estimate_variant",
    "has_arch",
    "kv_memory",
    "model_bytes",
    "normalize_engine",
    "resolve_kv_dtype",
    "splits_heads",
    "variant_vram",
    "weight_memory",
    "weights_only_mb",
]

_HOME: dict[str, str] = {
    "activation_memory": "gpuplan.memory.activation",
    "ENGINES": "gpuplan.memory.engines",
    "Engine": "gpuplan.memory.engines",
    "EngineProfile": "gpuplan.memory.engines",
    "engine_profile": "gpuplan.memory.engines",
    "normalize_engine": "gpuplan.memory.engines",
    "Estimate": "gpuplan.memory.estimate",
    "estimate": "gpuplan.memory.estimate",
    "splits_heads": "gpuplan.memory.estimate",
    "DEFAULT_CONTEXT": "gpuplan.memory.figure",
    "VariantCoster": "gpuplan.memory.figure",
    "VramFigure": "gpuplan.memory.figure",
    "VramSource": "gpuplan.memory.figure",
    "kv_memory": "gpuplan.memory.kvcache",
    "resolve_kv_dtype": "gpuplan.memory.kvcache",
    "arch_of": "gpuplan.memory.vram",
    "coster_for_gpu": "gpuplan.memory.vram",
    "engine_for": "gpuplan.memory.vram",
    "estimate_variant": "gpuplan.memory.vram",
    "has_arch": "gpuplan.memory.vram",
    "variant_vram": "gpuplan.memory.vram",
    "weights_only_mb": "gpuplan.memory.vram",
    "describe_bits": "gpuplan.memory.weights",
    "model_bytes": "gpuplan.memory.weights",
    "weight_memory": "gpuplan.memory.weights",
}

__getattr__, __dir__ = lazy_exports(__name__, _HOME)
