"""Activation and compute-buffer memory: what a forward pass needs beyond weights and KV.

Two families, because the engines size this memory in two different ways:

* **PyTorch engines** (vLLM, SGLang, TensorRT-LLM, transformers) run a profiling
  forward pass of ``T`` tokens (the prefill chunk; the whole prompt for
  transformers) and size the sampler for ``max_num_seqs`` rows of logits:

      activation = T × (2·hidden + FFN intermediates per GPU) × activation bytes
                 + sampler rows × vocab × bytes per logit
                 (+ MLA decompression, + vision encoder pass)

  The sampler term dominates for large vocabularies: vLLM's torch peak grows from
  0.77 GiB (CodeLlama, 32k vocab, row 036) to 3.65 GiB (Gemma 2, 256k vocab, row 041).

* **llama.cpp / Ollama** reserve a compute buffer for one micro-batch of
  ``n_ubatch`` = 512 tokens:

      compute = max(KQ scores, logits) + FFN intermediates
      KQ      = n_ctx × n_ubatch × heads × 4 bytes   (0 with flash attention)
      logits  = n_ubatch × vocab × 4 bytes

  which gives 592 MiB for Llama 3.1 8B at n_ctx 8192 without flash attention,
  against the 560 MiB Ollama's runner printed (rows 019, 020).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gpuplan.memory.engines import EngineProfile
from gpuplan.memory.flash_attention import auto_flash_attention
from gpuplan.models.arch import ModelArch


@dataclass(frozen=True)
class ActivationMemory:
    """Activation / compute-buffer bytes on one GPU and what we assumed."""

    gpu_bytes: float
    assumptions: tuple[str, ...]


def _ffn_width(arch: ModelArch, tensor_parallel: int) -> int:
    """Widest per-token FFN intermediate on one GPU: dense layers or routed+shared experts."""
    dense = 2 * arch.intermediate_size // tensor_parallel if arch.dense_layers else 0
    moe = arch.moe
    if moe is None or moe.moe_layers == 0:
        return dense
    routed = moe.experts_per_token * (
        3 * moe.expert_intermediate_size // tensor_parallel + arch.hidden_size
    )
    shared = 2 * moe.shared_intermediate_size // tensor_parallel
    return max(dense, routed + shared)


def activation_memory(
    arch: ModelArch,
    engine: EngineProfile,
    *,
    context: int,
    concurrency: int,
    tensor_parallel: int,
    flash_attention: bool | None = None,
) -> ActivationMemory:
    """Bytes one GPU needs for activations / compute buffers at this context."""
    if engine.ggml:
        return _ggml_compute(arch, engine, context, concurrency, flash_attention)
    return _torch_activations(arch, engine, context, concurrency, tensor_parallel)


def _torch_activations(
    arch: ModelArch, engine: EngineProfile, context: int, concurrency: int, tensor_parallel: int
) -> ActivationMemory:
    act_bytes = 4 if arch.dtype == "fp32" else 2
    chunk = engine.prefill_chunk_tokens
    tokens = chunk if chunk is not None else context * concurrency
    forward = tokens * (2 * arch.hidden_size + _ffn_width(arch, tensor_parallel)) * act_bytes
    rows = max(engine.sampler_rows, concurrency)
    sampler = 0 if arch.pooling else rows * arch.vocab_size * engine.sampler_bytes_per_logit
    notes = [
        f"activations: forward pass of {tokens:,} tokens"
        + (
            " (chunked prefill)"
            if chunk is not None
            else " (whole prompt × sequences, no chunking)"
        )
        + (
            "; a pooling (embedding) model: no sampler"
            if arch.pooling
            else f" + sampler {rows:,} rows × vocab {arch.vocab_size:,}"
            f" × {engine.sampler_bytes_per_logit} bytes"
        )
    ]
    extra = 0.0
    if arch.mla is not None:
        m = arch.mla
        heads = math.ceil(arch.num_attention_heads / tensor_parallel)
        extra += (
            tokens * heads * (m.qk_nope_head_dim + m.qk_rope_head_dim + m.v_head_dim) * act_bytes
        )
        notes.append("MLA: prefill decompresses per-head K/V for the chunk")
    if arch.vision is not None:
        v = arch.vision
        extra += tokens * (4 * v.hidden_size + 2 * v.intermediate_size) * act_bytes
        notes.append(f"vision encoder pass of {tokens:,} patch tokens")
    if arch.hybrid is not None:
        notes.append("hybrid mixer scan buffers not modelled beyond the FFN term")
    total = (forward + sampler + extra) * engine.activation_slack
    if engine.activation_slack > 1:
        notes.append(f"× {engine.activation_slack:g} for allocator fragmentation")
    return ActivationMemory(gpu_bytes=total, assumptions=tuple(notes))


def _ggml_compute(
    arch: ModelArch,
    engine: EngineProfile,
    context: int,
    concurrency: int,
    flash_attention: bool | None,
) -> ActivationMemory:
    ubatch = engine.ubatch_tokens
    n_kv = -(-context * concurrency // engine.kv_block_tokens) * engine.kv_block_tokens
    if flash_attention is not None:
        fa = flash_attention
        why = f"flash attention {'on' if fa else 'off'} (--flash-attn)"
    elif engine.flash_attention == "auto":
        fa, why = auto_flash_attention(arch)
    else:
        fa = engine.flash_attention == "on"
        why = f"flash attention {engine.flash_attention} ({engine.label}'s default)"
    scores = n_kv * ubatch * arch.num_attention_heads * 4
    kq = 0 if fa else scores
    logits = ubatch * arch.vocab_size * 4
    ffn = ubatch * (3 * arch.hidden_size + _ffn_width(arch, 1)) * 4
    total = float(max(kq, logits) + ffn)
    if fa:
        note = (
            f"compute buffer: n_ubatch {ubatch} × (logits over vocab {arch.vocab_size:,} + FFN) "
            f"in f32; {why}; without it add n_ctx × n_ubatch × heads × 4 bytes = "
            f"{scores / 2**20:,.0f} MiB"
        )
    else:
        note = (
            f"compute buffer: KQ scores n_ctx {n_kv:,} × n_ubatch {ubatch} × "
            f"{arch.num_attention_heads} heads × 4 bytes + FFN intermediates; {why}"
        )
    notes = [note]
    if arch.vision is not None:
        total += 256 * 2**20
        notes.append("vision projector (mmproj) encode buffer: 256 MiB allowance")
    return ActivationMemory(gpu_bytes=total, assumptions=tuple(notes))
