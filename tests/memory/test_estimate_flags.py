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
