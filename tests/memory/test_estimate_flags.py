"""`estimate --ubatch N --flash-attn on|off|auto`: llama.cpp's own knobs, never below its need."""

from __future__ import annotations

import pytest

from gpuplan.errors import ModelError
from gpuplan.memory.engines import flash_attention_flag
from gpuplan.memory.estimate import estimate
from gpuplan.memory.vram import arch_of
from gpuplan.models.registry import load_registry


def _llama(**kwargs: object) -> int:
    arch = arch_of(load_registry().get("llama-3.1-8b"))
    return estimate(arch, quant="q4_k_m", engine="llama.cpp", context=32768, **kwargs).total_mb  # type: ignore[arg-type]


def test_flash_attention_off_adds_the_score_buffer() -> None:
    # n_ctx 32768 x n_ubatch 512 x 32 heads x 4 bytes = 2,048 MiB of KQ scores (the
    # issue's flash-attention-off run needed a 2,094 MiB compute buffer at 32k).
    on, off = _llama(flash_attention=True), _llama(flash_attention=False)
    assert off - on >= 2048 - 600  # logits + FFN are shared by both


def test_auto_counts_the_larger_figure_for_llama_cpp_but_keeps_ollamas_rule() -> None:
    assert flash_attention_flag("auto", "llama.cpp") is False
    assert flash_attention_flag("auto", "llamacpp") is False
    assert flash_attention_flag("auto", "ollama") is None  # decided per architecture
    assert flash_attention_flag("ON", "vllm") is True
    with pytest.raises(ModelError, match="on, off or auto"):
        flash_attention_flag("maybe", "llama.cpp")


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
