"""Which variants fit which GPUs, and the longest context: the pure ``fit`` stage."""

from __future__ import annotations

import pytest

from gpuplan.errors import ModelError
from gpuplan.memory.vram import estimate_variant, variant_vram, weights_only_mb
from gpuplan.models.registry import ModelEntry, Registry, load_registry
from gpuplan.selection.fit import CONTEXT_STEP, fit_registry, fit_variant

RTX_4090 = 24564 - 2048
H100 = 81559 - 2048


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(user=False, env={})


def test_a_small_model_fits_one_gpu_up_to_its_own_limit(registry: Registry) -> None:
    entry = registry.get("llama-3.2-3b")
    row = fit_variant(entry, entry.variant("Q4_K_M"), [RTX_4090])
    assert row.fits and row.gpus == 1
    assert row.max_context == entry.context_length
    assert row.vram_source == "estimator" and row.context == 4096


def test_max_context_is_the_longest_that_fits(registry: Registry) -> None:
    entry = registry.get("llama-3.1-8b")
    variant = entry.variant("BF16")
    row = fit_variant(entry, variant, [RTX_4090])
    assert row.fits and row.max_context is not None
    assert row.max_context < (entry.context_length or 0)
    at_max = estimate_variant(entry, variant, context=row.max_context).total_mb
    beyond = estimate_variant(entry, variant, context=row.max_context + CONTEXT_STEP).total_mb
    assert at_max <= RTX_4090 < beyond


def test_too_big_for_one_gpu_is_split_over_several(registry: Registry) -> None:
    entry = registry.get("llama-3.3-70b")
    one = fit_variant(entry, entry.variant("Q4_K_M"), [RTX_4090])
    assert not one.fits and "largest GPU" in one.reason and one.max_context is None
    two = fit_variant(entry, entry.variant("Q4_K_M"), [RTX_4090, RTX_4090])
    assert two.fits and two.gpus == 2
    assert two.vram_estimate_mb <= RTX_4090


def test_fewest_gpus_win(registry: Registry) -> None:
    entry = registry.get("qwen2.5-72b")
    row = fit_variant(entry, entry.variant("BF16"), [H100] * 8)
    assert row.fits and row.gpus == 2


def test_holds_less_than_the_planning_context(registry: Registry) -> None:
    entry = registry.get("qwen3-vl-8b")
    row = fit_variant(entry, entry.variant("BF16"), [RTX_4090])
    assert not row.fits
    assert row.max_context is not None and row.max_context < 4096
    assert "holds only" in row.reason


def test_models_without_kv_cache_do_not_depend_on_context(registry: Registry) -> None:
    entry = registry.get("florence-2-large")
    row = fit_variant(entry, entry.variant("FP16"), [4096])
    assert row.fits and row.context is None and row.max_context is None
    assert row.vram_source == "weights_only"
    fixed = registry.get("yolo26")
    row = fit_variant(fixed, fixed.variants[0], [600])
    assert not row.fits and row.vram_source == "registry" and "650 MiB > 600 MiB" in row.reason


def test_no_gpu(registry: Registry) -> None:
    rows = fit_registry([registry.get("llama-3.2-1b"), registry.get("bge-m3")], [])
    assert not any(row.fits for row in rows)
    assert all(row.reason == "no GPU to run on" for row in rows)


def test_every_packaged_variant_gets_a_row(registry: Registry) -> None:
    rows = fit_registry(registry, [RTX_4090, RTX_4090])
    assert len(rows) == sum(len(e.variants) for e in registry)
    assert {r.gpus for r in rows} <= {1, 2}


def test_weights_only_figure_is_weights_plus_allowance_plus_overhead(registry: Registry) -> None:
    entry = registry.get("siglip-large-patch16-384")
    total, assumptions = weights_only_mb(entry, entry.variant("FP32"))
    weights = 2488  # 0.652e9 parameters x 4 bytes, in MiB, rounded up
    assert total == weights + 622 + 512 + 256
    assert any("no KV cache" in line for line in assumptions)
    figure = variant_vram(entry, entry.variant("FP32"), None)
    assert (figure.vram_mb, figure.source) == (total, "weights_only")


def test_estimator_errors_name_the_model() -> None:
    entry = ModelEntry.model_validate(
        {
            "id": "broken",
            "name": "Broken",
            "backend": "vllm",
            "family": "x",
            "parameters_b": 1,
            "role_priority": {"chat": 1},
            "source": "test",
            "hf_config": {"hidden_size": 64},
            "variants": [{"quantization": "BF16"}],
        }
    )
    with pytest.raises(ModelError, match=r"model 'broken'.*lacks"):
        variant_vram(entry, entry.variants[0], 4096)


def test_gpu_size_lets_vllm_use_its_small_gpu_defaults(registry: Registry) -> None:
    entry = registry.get("qwen3-vl-8b")
    largest = fit_variant(entry, entry.variant("FP8"), [RTX_4090])
    sized = fit_variant(entry, entry.variant("FP8"), [RTX_4090], gpu_memory_mb=[24564])
    assert sized.vram_estimate_mb < largest.vram_estimate_mb
    assert (sized.max_context or 0) > (largest.max_context or 0)
