"""KV cache memory for a requested context and concurrency, per engine.

    per layer and token = 2 (K and V) × KV heads (on this GPU) × head dim × bytes
    KV = Σ layers  tokens held by that layer × per layer and token
       + mixer state per sequence × sequences             (hybrid models)

Full-attention layers hold ``context × concurrency`` tokens (rounded up to the
engine's block); sliding-window layers hold what the engine keeps for a window (see
``SlidingRule``); MLA layers cache one latent of ``kv_lora_rank + qk_rope_head_dim``
per token, not per head, and that latent is not split by tensor parallelism.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gpuplan.errors import ModelError
from gpuplan.memory.engines import EngineProfile
from gpuplan.models.arch import ModelArch
from gpuplan.models.quant import KV_CACHE_BYTES, normalize_kv_dtype


@dataclass(frozen=True)
class KVMemory:
    """KV bytes on the fullest GPU, the dtype used, and what we assumed."""

    gpu_bytes: float
    dtype: str
    per_token_bytes: float
    assumptions: tuple[str, ...]


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def resolve_kv_dtype(arch: ModelArch, engine: EngineProfile, requested: str | None) -> str:
    """The KV dtype the engine will use; ModelError if the engine cannot use the requested one."""
    dtype = normalize_kv_dtype(requested) if requested else "auto"
    if dtype != "auto" and dtype not in engine.kv_dtypes:
        raise ModelError(
            f"{engine.label} does not support KV-cache dtype {dtype!r}",
            hint="choose one of " + ", ".join(engine.kv_dtypes),
        )
    if dtype == "auto":
        dtype = engine.kv_default_dtype
    if dtype == "model":
        dtype = arch.dtype if arch.dtype in ("fp32", "fp16", "bf16") else "bf16"
    return dtype


def _per_layer_token_bytes(
    arch: ModelArch, engine: EngineProfile, element: float, tensor_parallel: int
) -> tuple[float, str]:
    """Bytes one layer caches per token on one GPU, and how that was computed."""
    if arch.mla is not None:
        m = arch.mla
        latent = m.kv_lora_rank + m.qk_rope_head_dim
        if engine.mla_full_kv:
            heads = math.ceil(arch.num_attention_heads / tensor_parallel)
            width = heads * (m.qk_nope_head_dim + m.qk_rope_head_dim + m.v_head_dim)
            return width * element, f"MLA decompressed: {heads} heads × K+V {width // heads}"
        if engine.ggml:
            width = latent + m.kv_lora_rank
            return width * element, f"MLA latent K {latent} + V {m.kv_lora_rank}"
        return latent * element, f"MLA latent {latent} (kv_lora_rank + rope), same on every GPU"
    heads = arch.num_kv_heads if engine.ggml else math.ceil(arch.num_kv_heads / tensor_parallel)
    return 2 * heads * arch.head_dim * element, f"2 × {heads} KV heads × {arch.head_dim}"


def _padded_group_layers(full: int, windowed: int) -> tuple[int, int]:
    """Layer slots vLLM V1 allocates for a full + sliding (or chunked) attention model.

    vllm/v1/core/kv_cache_utils.py ``_get_kv_cache_groups_uniform_page_size``: the
    group size is the smaller type's layer count, or the larger one's when it is below
    1.5 × the smaller; each type is split into groups of that size, the last one padded,
    and every group's blocks span ``group size`` layers. Gemma 3 27B (10 full + 52
    sliding) is allocated as 10 + 60 layers: its KV per token is 70/62 of the layer sum.
    """
    smallest, largest = min(full, windowed), max(full, windowed)
    size = largest if largest < smallest * 1.5 else smallest
    return _round_up(full, size), _round_up(windowed, size)


def _cross_attention(
    arch: ModelArch,
    engine: EngineProfile,
    per_layer: float,
    text_tokens: int,
    concurrency: int,
    text_layers: int,
    notes: list[str],
) -> tuple[float, int]:
    """(bytes of cross-attention KV, layers charged per text token) for Mllama.

    Cross-attention layers cache the image encoder's tokens, a fixed count per sequence
    (``cross_attention_tokens``), not the text. vLLM allocates one paged KV tensor per
    layer for all layers from one block pool and gives each sequence blocks for its
    text and for its encoder tokens (cross-attention block tables,
    vllm-project/vllm PR #4837; ``get_max_mllama_image_tokens`` in
    vllm/model_executor/models/mllama.py at 005ad95003ff57af6f921ac33a3507780ac756d2):
    every layer pays for both. Engines with a separate encoder cache (Ollama,
    transformers) keep the encoder tokens in the cross-attention layers only.
    """
    cross = arch.cross_attention_layers
    encoder = _round_up(arch.cross_attention_tokens, engine.kv_block_tokens) * concurrency
    if engine.uniform_layer_kv:
        layers = text_layers + cross
        total = per_layer * (cross * text_tokens + layers * encoder)
        notes.append(
            f"{cross} cross-attention layers: {engine.label} allocates all {layers} layers for "
            f"the text tokens and for {arch.cross_attention_tokens:,} image-encoder tokens per "
            "sequence"
        )
        return total, layers
    notes.append(
        f"{cross} cross-attention layers cache {arch.cross_attention_tokens:,} image-encoder "
        "tokens per sequence, not the text"
    )
    return per_layer * cross * encoder, text_layers


def kv_memory(
    arch: ModelArch,
    engine: EngineProfile,
    *,
    context: int,
    concurrency: int,
    kv_dtype: str,
    tensor_parallel: int,
) -> KVMemory:
    """KV cache (and hybrid mixer state) bytes on the fullest GPU."""
    element = KV_CACHE_BYTES[kv_dtype]
    notes: list[str] = []
    per_layer, shape = _per_layer_token_bytes(arch, engine, element, tensor_parallel)
    if engine.ggml:
        full_tokens = _round_up(context * concurrency, engine.kv_block_tokens)
    else:
        full_tokens = _round_up(context, engine.kv_block_tokens) * concurrency
    sliding = arch.sliding
    sliding_layers = sliding.sliding_layers if sliding else 0
    sliding_tokens = full_tokens
    if sliding is not None and engine.sliding_rule != "full":
        if engine.sliding_rule == "window_plus_batch":
            chunk = engine.prefill_chunk_tokens or context
            held = min(context, sliding.window - 1 + chunk)
            sliding_tokens = _round_up(held, engine.kv_block_tokens) * concurrency
            rule = (
                f"min(context, window {sliding.window} - 1 + {chunk} batched tokens) per sequence"
            )
        else:
            held = sliding.window * concurrency + engine.ubatch_tokens
            sliding_tokens = min(full_tokens, _round_up(held, engine.kv_block_tokens))
            rule = f"window {sliding.window} × sequences + n_ubatch {engine.ubatch_tokens}"
        kind = "chunked-attention" if sliding.chunked else "sliding-window"
        notes.append(
            f"{sliding_layers} {kind} layers hold {rule} = {sliding_tokens:,} tokens "
            f"({engine.label} behaviour)"
        )
    elif sliding is not None:
        notes.append(
            f"{sliding_layers} sliding-window layers counted at the full context: "
            f"{engine.label} is not assumed to shrink them (overestimate)"
        )
    full_layers = arch.attention_layers - sliding_layers
    if engine.kv_group_padding and sliding_layers and full_layers:
        full_layers, sliding_layers = _padded_group_layers(full_layers, sliding_layers)
        notes.append(
            f"{engine.label} groups the layers per attention type and pads the last group: "
            f"allocated as {full_layers} full + {sliding_layers} windowed layers"
        )
    total = per_layer * (full_layers * full_tokens + sliding_layers * sliding_tokens)
    text_layers = full_layers + sliding_layers
    if arch.cross_attention_layers:
        cross_total, text_layers = _cross_attention(
            arch, engine, per_layer, full_tokens, concurrency, text_layers, notes
        )
        total += cross_total
    layer_share = 1.0
    if engine.ggml and tensor_parallel > 1:
        layer_share = math.ceil(arch.num_layers / tensor_parallel) / arch.num_layers
        total *= layer_share
    notes.insert(
        0,
        f"KV cache: {arch.attention_layers} attention layers × {shape} × {element:g} bytes "
        f"({kv_dtype}) × {full_tokens:,} tokens (context {context:,} × {concurrency} sequences)",
    )
    if arch.hybrid is not None:
        state = float(arch.hybrid.state_bytes_per_sequence * concurrency)
        state = state * layer_share if engine.ggml else state / tensor_parallel
        total += state
        notes.append(
            f"hybrid model: {arch.hybrid.state_layers} {arch.hybrid.mixer} layers keep a fixed "
            f"state of {arch.hybrid.state_bytes_per_sequence / 2**20:.1f} MiB per sequence "
            "instead of a KV cache"
        )
    per_token = per_layer * text_layers
    return KVMemory(
        gpu_bytes=total, dtype=kv_dtype, per_token_bytes=per_token, assumptions=tuple(notes)
    )
