"""Properties every estimate must keep, whatever the model, engine and request:
never negative, the parts add up, more context or more sequences never need less
memory, and splitting over GPUs divides the weights (never below total / TP).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuplan.errors import ModelError
from gpuplan.memory.engines import ENGINES
from gpuplan.memory.estimate import estimate
from gpuplan.models.hf_config import parse_hf_config
from tests.models.test_arch import (
    DEEPSEEK_V3,
    GEMMA3_27B,
    GPT_OSS_20B,
    LLAMA3_8B,
    LLAMA4_SCOUT,
    MIXTRAL_8X7B,
    QWEN3_NEXT_80B,
    QWEN25_VL_7B,
)

ARCHS = {
    name: parse_hf_config(config)
    for name, config in {
        "llama3": LLAMA3_8B,
        "qwen2.5-vl": QWEN25_VL_7B,
        "mixtral": MIXTRAL_8X7B,
        "deepseek-v3": DEEPSEEK_V3,
        "gpt-oss": GPT_OSS_20B,
        "gemma3": GEMMA3_27B,
        "llama4": LLAMA4_SCOUT,
        "qwen3-next": QWEN3_NEXT_80B,
    }.items()
}
GGUF_QUANTS = ("q4_k_m", "q8_0", "iq4_xs", "q6_k", "f16")
CHECKPOINT_QUANTS = ("bf16", "fp8", "awq", "int8", "nvfp4", "mxfp4")


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    engine = draw(st.sampled_from(sorted(ENGINES)))
    quants = GGUF_QUANTS if ENGINES[engine].ggml else CHECKPOINT_QUANTS
    arch = ARCHS[draw(st.sampled_from(sorted(ARCHS)))]
    # only sizes the engine accepts: the estimator refuses the others (tests/hostile)
    sizes = [n for n in (1, 2, 4, 8) if ENGINES[engine].ggml or arch.num_attention_heads % n == 0]
    return {
        "arch": arch,
        "engine": engine,
        "quant": draw(st.sampled_from(quants)),
        "context": draw(st.integers(1, 262_144)),
        "concurrency": draw(st.integers(1, 64)),
        "tensor_parallel": draw(st.sampled_from(sizes)),
    }


@settings(max_examples=300, deadline=None)
@given(request=requests())
def test_never_negative_and_parts_add_up(request: dict[str, Any]) -> None:
    result = estimate(**request)
    parts = (result.weights_mb, result.kv_cache_mb, result.activation_mb, result.overhead_mb)
    assert all(p >= 0 for p in parts)
    assert result.total_mb == sum(parts) > 0
    assert result.per_gpu == (request["tensor_parallel"] > 1)
    assert result.assumptions


@settings(max_examples=300, deadline=None)
@given(request=requests(), more=st.integers(1, 200_000))
def test_total_monotone_in_context(request: dict[str, Any], more: int) -> None:
    small = estimate(**request)
    large = estimate(**{**request, "context": request["context"] + more})
    assert large.total_mb >= small.total_mb
    assert large.kv_cache_mb >= small.kv_cache_mb


@settings(max_examples=300, deadline=None)
@given(request=requests(), more=st.integers(1, 64))
def test_total_monotone_in_concurrency(request: dict[str, Any], more: int) -> None:
    small = estimate(**request)
    large = estimate(**{**request, "concurrency": request["concurrency"] + more})
    assert large.total_mb >= small.total_mb
    assert large.kv_cache_mb >= small.kv_cache_mb


@settings(max_examples=200, deadline=None)
@given(request=requests())
def test_tensor_parallel_divides_the_weights(request: dict[str, Any]) -> None:
    whole = estimate(**{**request, "tensor_parallel": 1})
    split = estimate(**request)
    tp = request["tensor_parallel"]
    assert split.weights_mb >= whole.weights_mb / tp - 1  # never below an even share
    if not ENGINES[split.engine].ggml:
        # Sharded except what every GPU keeps a copy of (rotary table, vision tower).
        assert split.weights_mb <= whole.weights_mb / tp * 1.25 + 2600
    else:
        # Layer split: the GPU with the output layer carries it on top of its share.
        assert split.weights_mb <= whole.weights_mb / tp + whole.weights_mb * 0.2 + 1


@pytest.mark.parametrize("engine", ["llama.cpp", "ollama"])
def test_gguf_engines_refuse_checkpoint_quantizations(engine: str) -> None:
    with pytest.raises(ModelError, match="cannot load awq"):
        estimate(ARCHS["llama3"], engine=engine, quant="awq", context=4096)


def test_kv_dtype_the_engine_cannot_use() -> None:
    with pytest.raises(ModelError, match="does not support KV-cache dtype 'q8_0'"):
        estimate(ARCHS["llama3"], engine="vllm", context=4096, kv_cache_dtype="q8_0")


def test_bad_request_sizes() -> None:
    with pytest.raises(ModelError, match="at least 1"):
        estimate(ARCHS["llama3"], context=0)


def test_mla_latent_is_small_and_not_split() -> None:
    arch = ARCHS["deepseek-v3"]
    one = estimate(arch, engine="vllm", context=32768, tensor_parallel=8)
    # 61 layers × (512 + 64) × 2 bytes × 32768 tokens on every GPU.
    assert one.kv_cache_mb == -(-61 * 576 * 2 * 32768 // 2**20)


def test_sliding_layers_keep_a_window_in_llama_cpp() -> None:
    arch = ARCHS["gemma3"]
    short = estimate(arch, engine="llama.cpp", quant="q4_k_m", context=4096)
    long = estimate(arch, engine="llama.cpp", quant="q4_k_m", context=131072)
    # Only the 10 global layers grow with the context; the 52 sliding ones stay at the window.
    per_token_global = 10 * 2 * 16 * 128 * 2
    assert long.kv_cache_mb - short.kv_cache_mb == pytest.approx(
        per_token_global * (131072 - 4096) / 2**20, abs=2
    )


def test_exact_file_bytes_win_over_parameters() -> None:
    arch = ARCHS["llama3"]
    result = estimate(arch, engine="vllm", context=4096, weight_bytes=10 * 2**30, quant="bf16")
    assert result.weights_source == "file"
    assert 10 * 1024 <= result.weights_mb <= 10 * 1024 + 64  # + the rotary table


def test_vllm_sizes_start_up_reserves_by_gpu() -> None:
    arch = ARCHS["llama3"]
    large = estimate(arch, engine="vllm", context=8192)
    on_80gb = estimate(arch, engine="vllm", context=8192, gpu_memory_mb=81559)
    on_24gb = estimate(arch, engine="vllm", context=8192, gpu_memory_mb=24564)
    assert on_80gb == large  # None means the largest-GPU defaults
    assert on_24gb.activation_mb < large.activation_mb
    assert any("24,564 MiB GPU" in a for a in on_24gb.assumptions)
    assert on_24gb.weights_mb == large.weights_mb and on_24gb.kv_cache_mb == large.kv_cache_mb
