"""What llama.cpp's ``--flash-attn auto`` resolves to for a model, and why.

The answer sizes llama.cpp's compute buffer: without flash attention it holds the
attention scores, n_ctx × n_ubatch × heads × 4 bytes (2 GiB for an 8B model at 32k
context), with it almost nothing. ``auto`` is llama.cpp's default: when it creates a
context it asks the backend whether its flash-attention op takes the model's
attention shape, and runs without flash attention where it does not.

The CUDA and ROCm (HIP) backends share one kernel chooser,
``ggml_cuda_get_best_fattn_kernel`` in ``ggml/src/ggml-cuda/fattn.cu`` (read at
llama.cpp commit 00a2d60921595ea66853568270b3060490040dea). It takes:

* K = V head sizes 40, 64, 72, 80, 96, 112, 128 and 256;
* 512 = 512 and MLA's 576 / 512 (DeepSeek, Kimi: llama.cpp caches the compressed
  latent, one KV head), when grouped-query attention shares each KV head among at
  least two query heads;
* 192 / 128 (GQA ratio a multiple of 8) and 320 / 256 (a multiple of 32);

and nothing else: a small BERT embedder with 32-wide heads (all-MiniLM, bge-small)
runs without flash attention. The CPU backend takes every shape, so the rule never
counts less than a CPU build needs either.

Ollama from 0.30 runs llama-server with ``--flash-attn auto`` on CUDA (compute
capability 6.0 or newer, not 7.2), ROCm, Metal, Vulkan and CPU devices
(``LlamaServerFlashAttention`` in llm/llama_server.go, ``FlashAttentionSupported`` in
ml/device.go), so the same rule holds for it; older Ollama turned flash attention on
only for a list of architectures, which ``--flash-attn off`` accounts for.
"""

from __future__ import annotations

from gpuplan.models.arch import ModelArch

__all__ = ["FLASH_ATTENTION_SOURCE", "auto_flash_attention", "flash_attention_head_sizes"]

FLASH_ATTENTION_SOURCE = (
    "llama.cpp ggml/src/ggml-cuda/fattn.cu ggml_cuda_get_best_fattn_kernel "
    "@ 00a2d60921595ea66853568270b3060490040dea"
)

_PLAIN = frozenset({40, 64, 72, 80, 96, 112, 128, 256})
"""K = V head sizes with a kernel on every CUDA / ROCm GPU."""

_WIDE = {(512, 512): 1, (576, 512): 1, (192, 128): 8, (320, 256): 32}
"""(K, V) head sizes with a kernel only under the GQA optimisation (at least two query
heads per KV head): the number the GQA ratio must also be a multiple of."""


def flash_attention_head_sizes(arch: ModelArch) -> tuple[int, int, int]:
    """K head size, V head size and GQA ratio as llama.cpp's attention op sees them."""
    if arch.mla is not None:
        # llama.cpp absorbs MLA: one KV head of the compressed latent plus the rope part.
        mla = arch.mla
        return mla.kv_lora_rank + mla.qk_rope_head_dim, mla.kv_lora_rank, arch.num_attention_heads
    ratio = arch.num_attention_heads // max(1, arch.num_kv_heads)
    return arch.head_dim, arch.head_dim, ratio


def auto_flash_attention(arch: ModelArch) -> tuple[bool, str]:
    """Whether ``--flash-attn auto`` turns flash attention on for ``arch``, and why."""
    k, v, ratio = flash_attention_head_sizes(arch)
    shape = f"head size {k}" if k == v else f"K/V head sizes {k}/{v}"
    if k == v and k in _PLAIN:
        return True, f"flash attention on (-fa auto: ggml's CUDA/ROCm kernels take {shape})"
    need = _WIDE.get((k, v))
    if need is not None and ratio >= 2 and ratio % need == 0:
        return True, (
            f"flash attention on (-fa auto: ggml's CUDA/ROCm kernels take {shape} "
            f"at {ratio} query heads per KV head)"
        )
    return False, (
        f"flash attention off (-fa auto: ggml's CUDA/ROCm kernels have none for {shape}"
        + (f" at {ratio} query heads per KV head" if need is not None else "")
        + ")"
    )
