"""vLLM V1 pads hybrid models' KV groups (vllm/v1/core/kv_cache_utils.py,
``_get_kv_cache_groups_uniform_page_size``): Gemma 3 27B's 10 full + 52 sliding layers
are allocated as 10 + 60, which the llm-d-planner v0.19.0 log shows as 19.53 GiB for
36,560 tokens = 70 layers × 8 KiB per token (tests/memory/data/measured_extra.json,
extra006). llama.cpp allocates per layer and is not padded."""

from __future__ import annotations

from gpuplan.memory.engines import engine_profile
from gpuplan.memory.kvcache import kv_memory
from gpuplan.models.hf_config import parse_hf_config

# text_config of google/gemma-3-27b-it config.json
GEMMA3_27B = {
    "model_type": "gemma3_text",
    "num_hidden_layers": 62,
    "hidden_size": 5376,
    "num_attention_heads": 32,
    "num_key_value_heads": 16,
    "head_dim": 128,
    "intermediate_size": 21504,
    "vocab_size": 262208,
    "sliding_window": 1024,
    "sliding_window_pattern": 6,
    "torch_dtype": "bfloat16",
}
PER_LAYER = 2 * 16 * 128 * 2  # K and V × KV heads × head dim × bf16


def _per_token(engine: str) -> float:
    arch = parse_hf_config(GEMMA3_27B)
    kv = kv_memory(
        arch,
        engine_profile(engine),
        context=8192,
        concurrency=1,
        kv_dtype="bf16",
        tensor_parallel=1,
    )
    return kv.per_token_bytes


def test_vllm_allocates_padded_groups() -> None:
    assert _per_token("vllm") == 70 * PER_LAYER


def test_llama_cpp_is_not_padded() -> None:
    assert _per_token("llama.cpp") == 62 * PER_LAYER


def test_models_whose_types_divide_evenly_are_unchanged() -> None:
    """Gemma 3 12B: 8 full + 40 sliding = groups of 8, no padding."""
    config = {
        **GEMMA3_27B,
        "num_hidden_layers": 48,
        "num_key_value_heads": 8,
        "head_dim": 256,
        "hidden_size": 3840,
        "num_attention_heads": 16,
    }
    arch = parse_hf_config(config)
    kv = kv_memory(
        arch,
        engine_profile("vllm"),
        context=8192,
        concurrency=1,
        kv_dtype="bf16",
        tensor_parallel=1,
    )
    assert kv.per_token_bytes == 48 * 2 * 8 * 256 * 2
