"""Each stage has one public face; it changes only on purpose, and loads lazily."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

FACES = {
    "gpuplan.models": {
        "KV_CACHE_BYTES", "MIB", "QUANTS", "ROLES", "Backend", "DiscoveredEntry",
        "DiscoveredVariant", "HybridSpec", "MLASpec", "MixerKind", "MoESpec", "ModelArch",
        "ModelEntry", "QuantSpec", "Registry", "Role", "SlidingSpec", "Variant", "VisionSpec",
        "WeightBytes", "dtype_quant", "entries_from_discovery", "load_registry",
        "normalize_kv_dtype", "normalize_quant", "parse_hf_config", "parse_role", "quant_spec",
    },
    "gpuplan.memory": {
        "DEFAULT_CONTEXT", "ENGINES", "Engine", "EngineProfile", "Estimate", "VariantCoster",
        "VramFigure", "VramSource", "activation_memory", "arch_of", "coster_for_gpu",
        "describe_bits", "engine_for", "engine_profile", "estimate", "estimate_variant",
        "has_arch", "kv_memory", "model_bytes", "normalize_engine", "resolve_kv_dtype",
        "splits_heads", "variant_vram", "weight_memory", "weights_only_mb",
    },
    "gpuplan.launch": {
        "ENGINE_VERSIONS", "GpuSlot", "LaunchConfig", "LaunchRequest", "get_target_gpu",
        "manifests", "manifests_yaml", "render",
    },
    "gpuplan.selection": {
        "CONTEXT_STEP", "DEFAULT_TOP_N", "Bias", "Candidate", "Explanation", "FitRow",
        "JointSelection", "RoleSelector", "SelectionPolicy", "bits_per_weight",
        "build_candidates", "fit_registry", "fit_variant", "planning_context",
        "quantization_rank", "rank_key", "select_by_role_response", "select_joint",
    },
}  # fmt: skip


@pytest.mark.parametrize("package", sorted(FACES))
def test_public_surface(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module.__all__) == FACES[package]
    for name in module.__all__:
        assert getattr(module, name) is not None, name


@pytest.mark.parametrize("package", sorted(FACES))
def test_unknown_name_is_an_attribute_error(package: str) -> None:
    with pytest.raises(AttributeError):
        _ = importlib.import_module(package).no_such_name


@pytest.mark.parametrize("package", sorted(FACES))
def test_importing_a_face_loads_nothing_heavy(package: str) -> None:
    code = f"import sys, {package}; print(sorted(m for m in ('gguf', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
