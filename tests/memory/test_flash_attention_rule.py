"""llama.cpp's ``-fa auto`` as ggml's CUDA/ROCm kernel chooser decides it, per head shape.

The table is ``ggml_cuda_get_best_fattn_kernel`` (ggml/src/ggml-cuda/fattn.cu at llama.cpp
00a2d60921595ea66853568270b3060490040dea): a shape it returns BEST_FATTN_KERNEL_NONE for
runs without flash attention.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpuplan.memory.flash_attention import auto_flash_attention, flash_attention_head_sizes
from gpuplan.models.hf_config import parse_hf_config
from tests.models.test_arch import DEEPSEEK_V3


def _arch(head_dim: int, heads: int = 32, kv_heads: int = 8) -> object:
    return parse_hf_config(
        {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_size": 4096,
            "num_attention_heads": heads,
            "num_key_value_heads": kv_heads,
            "head_dim": head_dim,
            "num_hidden_layers": 4,
            "intermediate_size": 11008,
            "vocab_size": 32000,
            "max_position_embeddings": 8192,
        }
    )


@pytest.mark.parametrize(
    ("head_dim", "on"),
    [(40, True), (64, True), (72, True), (80, True), (96, True), (112, True), (128, True),
     (256, True), (32, False), (48, False), (160, False), (384, False)],
)  # fmt: skip
def test_plain_head_sizes(head_dim: int, on: bool) -> None:
    assert auto_flash_attention(_arch(head_dim))[0] is on  # type: ignore[arg-type]


def test_512_wide_heads_need_grouped_query_attention() -> None:
    assert auto_flash_attention(_arch(512, heads=16, kv_heads=4))[0]  # type: ignore[arg-type]
    assert not auto_flash_attention(_arch(512, heads=8, kv_heads=8))[0]  # type: ignore[arg-type]


def test_mla_runs_as_one_latent_kv_head() -> None:
    """DeepSeek-V3 in llama.cpp: K 512 + 64 rope = 576, V 512, 128 query heads per KV head."""
    arch = parse_hf_config(DEEPSEEK_V3)
    assert flash_attention_head_sizes(arch) == (576, 512, 128)
    on, why = auto_flash_attention(arch)
    assert on and "576/512" in why


@given(st.integers(1, 1024), st.sampled_from([1, 2, 4, 8]))
def test_only_the_kernels_shapes_get_flash_attention(head_dim: int, kv_heads: int) -> None:
    arch = _arch(head_dim, heads=32, kv_heads=kv_heads)
    on, why = auto_flash_attention(arch)  # type: ignore[arg-type]
    plain = head_dim in (40, 64, 72, 80, 96, 112, 128, 256)
    wide = head_dim == 512 and 32 // kv_heads >= 2
    assert on is (plain or wide)
    assert ("flash attention on" if on else "flash attention off") in why
