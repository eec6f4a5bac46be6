"""`estimate --ubatch N --flash-attn on|off|auto`: llama.cpp's own knobs, never below its need."""

from __future__ import annotations

import pytest

from gpuplan.errors import ModelError
from gpuplan.memory.engines import flash_attention_flag
from gpuplan.memory.estimate import estimate
from gpuplan.memory.vram import arch_of
from gpuplan.models.hf_config import parse_hf_config
from gpuplan.models.registry import load_registry


def _llama(**kwargs: object) -> int:
    arch = arch_of(load_registry().get("llama-3.1-8b"))
    return estimate(arch, quant="q4_k_m", engine="llama.cpp", context=32768, **kwargs).total_mb  # type: ignore[arg-type]


def test_flash_attention_off_adds_the_score_buffer() -> None:
    # n_ctx 32768 x n_ubatch 512 x 32 heads x 4 bytes = 2,048 MiB of KQ scores (the
    # issue's flash-attention-off run needed a 2,094 MiB compute buffer at 32k).
    on, off = _llama(flash_attention=True), _llama(flash_attention=False)
    assert off - on >= 2048 - 600  # logits + FFN are shared by both


def test_the_flag_takes_llama_cpps_own_values() -> None:
    assert flash_attention_flag("auto") is None  # the engine's default: -fa auto
    assert flash_attention_flag("ON") is True
    assert flash_attention_flag(" off ") is False
    with pytest.raises(ModelError, match="on, off or auto"):
        flash_attention_flag("maybe")


# all-MiniLM-L6-v2's config.json (https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2):
# 384 wide over 12 heads, so 32-wide heads, which ggml's CUDA/ROCm kernels do not take.
MINILM = {
    "architectures": ["BertModel"], "model_type": "bert", "hidden_size": 384,
    "num_attention_heads": 12, "num_hidden_layers": 6, "intermediate_size": 1536,
    "vocab_size": 30522, "max_position_embeddings": 512, "torch_dtype": "float32",
}  # fmt: skip


@pytest.mark.parametrize("engine", ["llama.cpp", "ollama"])
def test_auto_is_what_llama_cpp_does_with_the_models_head_size(engine: str) -> None:
    """Llama 3.1 8B (128-wide heads) gets flash attention; MiniLM (32) does not.

    Ollama from 0.30 passes --flash-attn auto to llama-server, so it follows the same rule
    (it used to keep flash attention off for llama: rows 019/020, Ollama 0.5.x, needed the
    score buffer, which --flash-attn off still counts)."""
    llama = arch_of(load_registry().get("llama-3.1-8b"))

    def total(arch: object, **kwargs: object) -> int:
        return estimate(arch, quant="q4_k_m", engine=engine, context=32768, **kwargs).total_mb  # type: ignore[arg-type]

    auto, on, off = (
        total(llama),
        total(llama, flash_attention=True),
        total(llama, flash_attention=False),
    )
    assert auto == on < off
    minilm = parse_hf_config(MINILM)
    assert (
        total(minilm) == total(minilm, flash_attention=False) > total(minilm, flash_attention=True)
    )
    result = estimate(minilm, quant="f16", engine=engine, context=512)
    assert any("none for head size 32" in a for a in result.assumptions)


def test_a_quantized_v_cache_needs_flash_attention() -> None:
    """llama.cpp refuses a quantized V cache without flash attention, so the launch turns it on."""
    minilm = parse_hf_config(MINILM)
    q8 = estimate(minilm, quant="f16", engine="llama.cpp", context=512, kv_cache_dtype="q8_0")
    on = estimate(minilm, quant="f16", engine="llama.cpp", context=512, flash_attention=True)
    assert q8.activation_mb == on.activation_mb
    with pytest.raises(ModelError, match="q8_0 KV cache with flash attention off"):
        estimate(
            minilm, quant="f16", engine="llama.cpp", context=512, kv_cache_dtype="q8_0",
            flash_attention=False,
        )  # fmt: skip


def test_ubatch_scales_the_compute_buffer() -> None:
    small = _llama(flash_attention=True, ubatch=128)
    default = _llama(flash_attention=True)
    large = _llama(flash_attention=True, ubatch=2048)
    assert small < default < large
    with pytest.raises(ModelError, match="ubatch"):
        _llama(ubatch=0)


def test_an_embedding_model_has_no_lm_head_and_no_sampler() -> None:
    """Qwen3-Embedding-8B: 7.57 B parameters (its model card), 15.1 GB of BF16 safetensors
    (https://huggingface.co/Qwen/Qwen3-Embedding-8B); vLLM's pooling runner samples nothing."""
    arch = arch_of(load_registry().get("qwen3-embedding-8b"))
    assert arch.pooling
    result = estimate(arch, quant="bf16", engine="vllm", context=4096)
    assert abs(arch.total_parameters - 7.57e9) / 7.57e9 < 0.01
    assert abs(result.weights_mb - 7.57e9 * 2 / 2**20) / result.weights_mb < 0.01
    assert "no sampler" in " ".join(result.assumptions)
    chat = arch_of(load_registry().get("qwen3-8b"))
    assert not chat.pooling


def test_kquant_rows_not_divisible_by_256_fall_back_to_wider_types() -> None:
    """Qwen2.5-72B's ffn_down rows are 29,568 wide: llama.cpp's quantizer stores them as
    Q5_0/Q8_0 instead of Q4_K/Q6_K (llama_tensor_get_type, src/llama-quant.cpp), and the
    Q4_K_M file is 47.42 GB (https://huggingface.co/bartowski/Qwen2.5-72B-Instruct-GGUF);
    the flat 4.85 bpw mix said 44.3 GB. Llama-3.3-70B (28,672 = 112 x 256) does not.
    The file also holds its header and tokenizer (~11 MB), which are not weights."""
    published_mib = 47.42e9 / 2**20
    arch = arch_of(load_registry().get("qwen2.5-72b"))
    result = estimate(arch, quant="q4_k_m", engine="llama.cpp", context=4096)
    weights = result.weights_mb + result.host_mb
    assert published_mib * 0.99 <= weights <= published_mib * 1.05
    assert any("not divisible by 256 and fall back" in a for a in result.assumptions)
    llama = arch_of(load_registry().get("llama-3.3-70b"))
    plain = estimate(llama, quant="q4_k_m", engine="llama.cpp", context=4096)
    assert not any("fall back" in a for a in plain.assumptions)
