"""The models stage: what a model *is* — registry entries, architecture facts from
config.json / GGUF / safetensors headers, quantization names, files on disk.

One public face, loaded lazily: ``from gpuplan.models import ModelArch`` imports
only the module that defines it, so the CLI's start-up never pays for the GGUF
reader (and numpy) unless a command reads a GGUF file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gpuplan._lazy import lazy_exports

if TYPE_CHECKING:
    from gpuplan.models.arch import (
        HybridSpec,
        MixerKind,
        MLASpec,
        ModelArch,
        MoESpec,
        SlidingSpec,
        VisionSpec,
    )
    from gpuplan.models.discovered import (
        DiscoveredEntry,
        DiscoveredVariant,
        entries_from_discovery,
    )
    from gpuplan.models.hf_config import (
        parse_hf_config,
    )
    from gpuplan.models.quant import (
        KV_CACHE_BYTES,
        QUANTS,
        QuantSpec,
        dtype_quant,
        normalize_kv_dtype,
        normalize_quant,
        quant_spec,
    )
    from gpuplan.models.registry import (
        ROLES,
        Backend,
        ModelEntry,
        Registry,
        Role,
        Variant,
        load_registry,
        parse_role,
    )
    from gpuplan.models.weight_bytes import (
        MIB,
        WeightBytes,
    )

__all__ = [
    "KV_CACHE_BYTES",
    "MIB",
    "QUANTS",
    "ROLES",
    "Backend",
    "DiscoveredEntry",
    "DiscoveredVariant",
    "HybridSpec",
    "MLASpec",
    "MixerKind",
    "MoESpec",
    "ModelArch",
    "ModelEntry",
    "QuantSpec",
    "Registry",
    "Role",
    "SlidingSpec",
    "Variant",
    "VisionSpec",
    "WeightBytes",
    "dtype_quant",
    "entries_from_discovery",
    "load_registry",
    "normalize_kv_dtype",
    "normalize_quant",
    "parse_hf_config",
    "parse_role",
    "quant_spec",
]

_HOME: dict[str, str] = {
    "HybridSpec": "gpuplan.models.arch",
    "MLASpec": "gpuplan.models.arch",
    "MixerKind": "gpuplan.models.arch",
    "MoESpec": "gpuplan.models.arch",
    "ModelArch": "gpuplan.models.arch",
    "SlidingSpec": "gpuplan.models.arch",
    "VisionSpec": "gpuplan.models.arch",
    "DiscoveredEntry": "gpuplan.models.discovered",
    "DiscoveredVariant": "gpuplan.models.discovered",
    "entries_from_discovery": "gpuplan.models.discovered",
    "parse_hf_config": "gpuplan.models.hf_config",
    "KV_CACHE_BYTES": "gpuplan.models.quant",
    "QUANTS": "gpuplan.models.quant",
    "QuantSpec": "gpuplan.models.quant",
    "dtype_quant": "gpuplan.models.quant",
    "normalize_kv_dtype": "gpuplan.models.quant",
    "normalize_quant": "gpuplan.models.quant",
    "quant_spec": "gpuplan.models.quant",
    "Backend": "gpuplan.models.registry",
    "ModelEntry": "gpuplan.models.registry",
    "ROLES": "gpuplan.models.registry",
    "Registry": "gpuplan.models.registry",
    "Role": "gpuplan.models.registry",
    "Variant": "gpuplan.models.registry",
    "load_registry": "gpuplan.models.registry",
    "parse_role": "gpuplan.models.registry",
    "MIB": "gpuplan.models.weight_bytes",
    "WeightBytes": "gpuplan.models.weight_bytes",
}

__getattr__, __dir__ = lazy_exports(__name__, _HOME)
