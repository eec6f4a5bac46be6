"""Weight memory: exact from file headers when we have them, else parameters × bits.

``WeightBytes`` (``gpuplan.models.weight_bytes``) is what the file readers return:
the exact tensor bytes of a checkpoint, split by the roles that engines place
differently (llama.cpp keeps the token embedding in host RAM; vLLM replicates the
vision tower on every tensor-parallel rank). ``weight_memory`` turns either source
into the bytes one GPU must hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gpuplan.memory.engines import EngineProfile
from gpuplan.models.arch import ModelArch, ParamCounts
from gpuplan.models.quant import QuantSpec
from gpuplan.models.weight_bytes import MIB, WeightBytes


@dataclass(frozen=True)
class WeightMemory:
    """Bytes on the fullest GPU, bytes kept in host RAM, and what we assumed."""

    gpu_bytes: float
    host_bytes: float
    assumptions: tuple[str, ...]


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _mib(value: float) -> str:
    return f"{math.ceil(value / MIB):,} MiB"


def model_bytes(arch: ModelArch, spec: QuantSpec) -> WeightBytes:
    """Bytes by role from parameters × bits (no file at hand)."""
    counts = arch.param_counts()
    scale = 1.0
    if arch.parameters and arch.parameters > counts.total:
        # A declared total above our count (vision extras, MTP heads, odd layers) scales
        # the transformer body up: an undercount must never shrink the estimate.
        scale = 1 + (arch.parameters - counts.total) / max(counts.linear_body + counts.experts, 1)
    if spec.family == "float":
        body_bits = expert_bits = spec.bits
    elif spec.experts_only and arch.moe is not None:
        body_bits, expert_bits = 16.0, spec.bits
    else:
        body_bits = expert_bits = spec.bits
    small_bits = max(spec.bits, 16.0) if spec.family != "float" else spec.bits
    body = counts.linear_body * scale * body_bits / 8
    experts = counts.experts * scale * expert_bits / 8
    embedding = counts.embedding * spec.embedding_bits / 8
    output = counts.output * spec.output_bits / 8
    router = counts.router * 32 / 8  # routers stay F32 in GGUF, 16-bit elsewhere
    norms = counts.norms * 32 / 8
    vision = counts.vision * small_bits / 8
    linear_replicated, small_replicated = arch.tp_replicated_parameters()
    replicated = linear_replicated * scale * body_bits / 8 + small_replicated * 32 / 8
    fallback, notes = _kquant_fallback_bytes(arch, counts, spec, scale)
    body += fallback
    total = body + experts + embedding + output + router + norms + vision
    return WeightBytes(
        notes=notes,
        total_bytes=math.ceil(total),
        parameters=round(counts.total + (scale - 1) * (counts.linear_body + counts.experts)),
        token_embedding_bytes=math.ceil(embedding),
        output_bytes=math.ceil(output),
        expert_bytes=math.ceil(experts),
        vision_bytes=math.ceil(vision),
        replicated_bytes=math.ceil(replicated),
        tied_embeddings=arch.tied_embeddings,
        quant=spec.name,
    )


KQUANT_BLOCK = 256
"""Weights per K-quant / IQ super-block: a tensor row must hold a whole number of them."""

KQUANT_FALLBACK_BITS: dict[str, tuple[float, float]] = {
    # name: (extra bits on tensors whose main type falls back, on ffn_down's mix)
    "q6_k": (1.9375, 1.9375),  # Q6_K 6.5625 -> Q8_0 8.5
    "q5_k_m": (0.5, 1.22),  # Q5_K -> Q5_1 (+0.5); ffn_down half Q6_K -> Q8_0
    "q5_k_s": (0.5, 0.5),
    "q4_k_xl": (1.0, 1.47),
    "q4_k_l": (1.0, 1.47),
    "q4_k_m": (1.0, 1.47),  # Q4_K 4.5 -> Q5_0 5.5; ffn_down half Q6_K -> Q8_0
    "q4_k_s": (1.0, 1.0),
    "q3_k_l": (1.0625, 0.5),  # Q3_K -> IQ4_NL; ffn_down Q5_K -> Q5_1
    "q3_k_m": (1.0625, 1.0),
    "q3_k_s": (1.0625, 1.0625),
    "q2_k": (1.875, 1.0625),  # Q2_K -> IQ4_NL; ffn_down Q3_K -> IQ4_NL
    "q2_k_s": (1.875, 1.875),
    "iq4_xs": (0.25, 0.25),
    "iq3_m": (1.0625, 1.0625),
    "iq3_s": (1.0625, 1.0625),
    "iq3_xs": (1.15, 1.15),
    "iq3_xxs": (1.4375, 1.4375),
    "iq2_m": (1.9375, 1.9375),
    "iq2_s": (1.9375, 1.9375),
    "iq2_xs": (2.1875, 2.1875),
    "iq2_xxs": (2.4375, 2.4375),
    "iq1_m": (2.75, 2.75),
    "iq1_s": (2.9375, 2.9375),
    "tq2_0": (2.4375, 2.4375),  # TQ2_0 -> Q4_0
    "tq1_0": (2.8125, 2.8125),
}
"""llama.cpp's fallback for rows that do not divide into 256-weight blocks, in bits per
weight over the type the mix would use: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0,
Q2_K/Q3_K/IQ* -> IQ4_NL, TQ* -> Q4_0 (``llama_tensor_get_type``'s
``convert_incompatible_tensor`` switch in src/llama-quant.cpp, ggml-org/llama.cpp at
commit 8784689fee07c6daabf3487d24e1535534ef6e6b). Qwen2.5-72B's ffn_down rows are 29,568
wide (115.5 blocks): its Q4_K_M file is 47.4 GB, not the 43.8 GB of the usual mix."""


def _kquant_fallback_bytes(
    arch: ModelArch, counts: ParamCounts, spec: QuantSpec, scale: float
) -> tuple[float, tuple[str, ...]]:
    """Extra bytes of the tensors whose row width (input features) is not a multiple of 256."""
    deltas = KQUANT_FALLBACK_BITS.get(spec.name)
    if deltas is None:
        return 0.0, ()
    main, down_mix = deltas
    h = arch.hidden_size
    mats = 3 if arch.gated_mlp else 2
    dense_down = counts.dense_mlp / mats
    expert_down = (counts.experts + counts.shared_experts) / 3
    o_proj = 0 if arch.mla else arch.attention_layers * arch.num_attention_heads * arch.head_dim * h
    extra = 0.0
    narrow: list[str] = []
    if h % KQUANT_BLOCK:
        hidden_input = counts.attention - o_proj + (counts.dense_mlp - dense_down)
        hidden_input += counts.experts + counts.shared_experts - expert_down
        extra += hidden_input * scale * main / 8
        extra += (counts.embedding + counts.output) * main / 8
        narrow.append(f"hidden {h}")
    if arch.dense_layers and arch.intermediate_size % KQUANT_BLOCK:
        extra += dense_down * scale * down_mix / 8
        narrow.append(f"ffn_down {arch.intermediate_size}")
    if arch.moe is not None and arch.moe.expert_intermediate_size % KQUANT_BLOCK:
        extra += counts.experts / 3 * scale * down_mix / 8
        narrow.append(f"expert ffn_down {arch.moe.expert_intermediate_size}")
    if o_proj and (arch.num_attention_heads * arch.head_dim) % KQUANT_BLOCK:
        extra += o_proj * scale * main / 8
        narrow.append(f"attn_output {arch.num_attention_heads * arch.head_dim}")
    if not extra:
        return 0.0, ()
    note = (
        f"rows not divisible by {KQUANT_BLOCK} ({', '.join(narrow)}) fall back to wider types "
        f"in llama.cpp's quantizer (Q4_K -> Q5_0, Q6_K -> Q8_0, ...): +{extra / MIB:,.0f} MiB"
    )
    return extra, (note,)


def _mxfp4_padding(arch: ModelArch) -> float:
    """vLLM/SGLang MXFP4 MoE kernels pad hidden and expert width to multiples of 256."""
    if arch.moe is None:
        return 1.0
    h, i = arch.hidden_size, arch.moe.expert_intermediate_size
    return (_round_up(h, 256) * _round_up(i, 256)) / (h * i)


def weight_memory(
    arch: ModelArch,
    weights: WeightBytes,
    spec: QuantSpec,
    engine: EngineProfile,
    tensor_parallel: int,
) -> WeightMemory:
    """Bytes of weights on the fullest GPU for this engine and split."""
    notes: list[str] = []
    total = float(weights.total_bytes)
    experts = float(weights.expert_bytes)
    if spec.name == "mxfp4" and not engine.ggml and arch.moe is not None:
        factor = _mxfp4_padding(arch)
        if factor > 1.0:
            total += experts * (factor - 1)
            notes.append(
                f"MXFP4 experts padded to multiples of 256 by the {engine.label} MoE kernels "
                f"(×{factor:.3f} on {_mib(experts)})"
            )
    host = 0.0
    if engine.ggml:
        embed = float(weights.token_embedding_bytes)
        host = embed
        if weights.tied_embeddings:
            notes.append(
                f"token embeddings ({_mib(embed)}) are kept in host RAM by {engine.label}; the "
                "tied output layer is a GPU copy of them"
            )
        else:
            total -= embed
            notes.append(f"token embeddings ({_mib(embed)}) are kept in host RAM by {engine.label}")
    if engine.rope_cache and arch.max_position_embeddings:
        rotary = arch.mla.qk_rope_head_dim if arch.mla else arch.head_dim
        rope = arch.max_position_embeddings * rotary * (4 if arch.dtype == "fp32" else 2)
        notes.append(
            f"{engine.label} keeps a rotary cos/sin table of {arch.max_position_embeddings:,} "
            f"positions × {rotary} on every GPU ({_mib(rope)})"
        )
    else:
        rope = 0
    if tensor_parallel > 1:
        if engine.ggml:
            output = float(
                weights.output_bytes
                or (weights.token_embedding_bytes if weights.tied_embeddings else 0)
            )
            total = (total - output) / tensor_parallel + output
            notes.append(
                f"{engine.label} splits layers across {tensor_parallel} GPUs (--split-mode layer); "
                "the GPU holding the output layer is the fullest"
            )
        else:
            replicated, note = _tp_replicated(arch, weights, engine)
            total = (total - replicated) / tensor_parallel + replicated
            notes.append(f"weights sharded {tensor_parallel} ways" + note)
    return WeightMemory(gpu_bytes=total + rope, host_bytes=host, assumptions=tuple(notes))


def _tp_replicated(
    arch: ModelArch, weights: WeightBytes, engine: EngineProfile
) -> tuple[float, str]:
    """Bytes every tensor-parallel GPU holds whole, and the clause saying which.

    vLLM splits what its parallel linear layers split and replicates norms, MoE routers,
    MLA's q_a_proj / kv_a_proj_with_mqa and, of a vision tower of a known family, the
    embeddings and norms (``VisionSpec.tp_sharded_parameters``). Other engines' towers
    are assumed whole on every GPU.
    """
    text = float(weights.replicated_bytes)
    vision = float(weights.vision_bytes)
    tower = arch.vision
    if engine.shards_vision and tower is not None and tower.parameters and vision:
        vision *= 1 - tower.tp_sharded_parameters / tower.parameters
    parts = []
    if text >= MIB:
        parts.append(f"norms, routers and MLA down-projections ({_mib(text)})")
    if vision:
        whole = "vision embeddings and norms" if engine.shards_vision else "vision tower"
        parts.append(f"{whole} ({_mib(vision)})")
    note = "; on every GPU: " + ", ".join(parts) if parts else ""
    return text + vision, note


def describe_bits(spec: QuantSpec) -> str:
    """'4.85 bpw (embeddings 4.5, lm_head 6.56)' for assumptions."""
    if spec.family == "float":
        return f"{spec.bits:g} bits per weight"
    text = f"{spec.bits:g} bits per quantized weight"
    if spec.experts_only:
        text += " on MoE experts only (other layers 16-bit)"
    return text + f", embeddings {spec.embedding_bits:g}, lm_head {spec.output_bits:g}"
