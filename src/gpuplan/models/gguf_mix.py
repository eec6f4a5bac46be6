"""The tensors a llama-quantize run would write for an architecture, and their bytes.

When no GGUF file is at hand, the weight estimate for a llama.cpp mix is the sum over
the tensors llama.cpp's converter would name for this architecture (``token_embd``,
``blk.N.attn_v``, ``blk.N.ffn_down_exps``…, with their row widths), each in the type
``gpuplan.models.quant_mix.tensor_type`` says the quantizer gives it. Layers are laid out
as the common models do: dense-MLP layers first, then MoE layers (DeepSeek, GLM, Kimi);
the quantizer's attention and dense ``ffn_down`` counters do not depend on the order.

Architecture rules the quantizer keys on: Falcon (``LLM_ARCH_FALCON``) has its own
``ffn_down``/``attn_output``/``output`` rules; the 70B size class (Llama and Mistral with
80 layers and grouped KV heads, Qwen2 with 80 layers, Deci with 80) widens ``attn_v``;
exactly 8 experts (Mixtral) puts ``attn_k``/``attn_v`` in Q8_0; architectures converted
with a fused ``attn_qkv`` (Falcon, GPT-NeoX/Pythia, Phi-3/Phi-4, Bloom, MPT, StarCoder…)
have their own ``attn_qkv`` rule and never advance the ``attn_v`` counter.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from gpuplan.models.arch import ModelArch
from gpuplan.models.quant_mix import (
    FTYPE_BASE,
    LLAMA_CPP_COMMIT,
    QuantState,
    QuantTarget,
    tensor_bytes,
    tensor_type,
)

__all__ = ["GGUFTensor", "QuantMix", "gguf_tensors", "llama_quant_mix", "quant_target"]

Role = Literal["embedding", "output", "body", "experts"]

_FALCON = frozenset({"falcon", "refinedweb", "refinedwebmodel"})
_FUSED_QKV = frozenset(
    {"falcon", "refinedweb", "refinedwebmodel", "gpt_neox", "gptneox", "bloom", "mpt"}
    | {"gpt_bigcode", "starcoder", "phi3", "chatglm", "qwen", "gpt2", "dbrx", "jais"}
    | {"persimmon", "codeshell"}
)
_LLAMA = frozenset({"llama", "mistral", "mixtral"})
_SIZE_70B_ANY = frozenset({"qwen2", "deci", "nemotron-nas"})


@dataclass(frozen=True)
class GGUFTensor:
    """One tensor: GGUF name, row width, elements, role, experts; ``kept`` types stay as
    converted (biases are F32: the quantizer only touches 2-D/3-D ``.weight`` tensors)."""

    name: str
    ne0: int
    elements: int
    role: Role
    experts: int = 1
    kept: str | None = None


@dataclass(frozen=True)
class QuantMix:
    """Bytes by role of an architecture's tensors under one llama.cpp mix."""

    quant: str
    embedding_bytes: int
    output_bytes: int
    body_bytes: int
    expert_bytes: int
    tensors_by_type: dict[str, int]
    bytes_by_type: dict[str, int]
    fallbacks: tuple[str, ...]

    @property
    def total_bytes(self) -> int:
        return self.embedding_bytes + self.output_bytes + self.body_bytes + self.expert_bytes

    def notes(self) -> tuple[str, ...]:
        types = ", ".join(
            f"{count} × {name}" for name, count in sorted(self.tensors_by_type.items())
        )
        notes = [
            f"llama.cpp's {self.quant} mix tensor by tensor (llama_tensor_get_type at "
            f"{LLAMA_CPP_COMMIT[:8]}): {types}; {self.total_bytes / 2**20:,.0f} MiB of matrices"
        ]
        if self.fallbacks:
            shown = "; ".join(self.fallbacks[:3])
            more = f" and {len(self.fallbacks) - 3} more" if len(self.fallbacks) > 3 else ""
            notes.append(
                f"{len(self.fallbacks)} tensors have rows not divisible by 256 and fall back "
                f"to 32-wide types: {shown}{more}"
            )
        return tuple(notes)


def _family(arch: ModelArch) -> str:
    return (arch.model_type or arch.architecture).lower()


def quant_target(arch: ModelArch, quant: str, *, imatrix: bool | None = None) -> QuantTarget:
    """What the quantizer would read from this model's hyperparameters.

    ``imatrix`` None: the choice that yields more bytes where an importance matrix
    changes the mix (IQ3_XXS and IQ4_* widen without one; Q4_0/Q5_0 widen with one).
    """
    family = _family(arch)
    n_expert = arch.moe.num_experts if arch.moe else 0
    layers = arch.num_layers
    size_70b = layers == 80 and (
        family in _SIZE_70B_ANY
        or (family in _LLAMA and n_expert != 8 and arch.num_attention_heads != arch.num_kv_heads)
    )
    if imatrix is None:
        imatrix = quant in ("q4_0", "q5_0")
    return QuantTarget(
        ftype=quant,
        falcon=family in _FALCON,
        n_layer=layers,
        n_head=arch.num_attention_heads,
        n_head_kv=arch.num_kv_heads,
        n_expert=n_expert,
        size_70b=size_70b,
        has_output=not (arch.tied_embeddings or arch.pooling),
        imatrix=imatrix,
    )


def _attention(arch: ModelArch, blk: str) -> list[GGUFTensor]:
    h, heads, hd = arch.hidden_size, arch.num_attention_heads, arch.head_dim
    if arch.mla is not None:
        m = arch.mla
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        out: list[GGUFTensor] = []
        if m.q_lora_rank:
            out.append(GGUFTensor(f"{blk}attn_q_a.weight", h, h * m.q_lora_rank, "body"))
            q_b = m.q_lora_rank * heads * qk
            out.append(GGUFTensor(f"{blk}attn_q_b.weight", m.q_lora_rank, q_b, "body"))
        else:
            out.append(GGUFTensor(f"{blk}attn_q.weight", h, h * heads * qk, "body"))
        kv_a = h * (m.kv_lora_rank + m.qk_rope_head_dim)
        kv_b = m.kv_lora_rank * heads * (m.qk_nope_head_dim + m.v_head_dim)
        out += [
            GGUFTensor(f"{blk}attn_kv_a_mqa.weight", h, kv_a, "body"),
            GGUFTensor(f"{blk}attn_kv_b.weight", m.kv_lora_rank, kv_b, "body"),
            GGUFTensor(
                f"{blk}attn_output.weight", heads * m.v_head_dim, heads * m.v_head_dim * h, "body"
            ),
        ]
        return sorted(out, key=lambda t: t.name)
    q, kv = heads * hd, arch.num_kv_heads * hd
    tensors = [GGUFTensor(f"{blk}attn_output.weight", q, q * h, "body")]
    if _family(arch) in _FUSED_QKV:
        tensors.append(GGUFTensor(f"{blk}attn_qkv.weight", h, h * (q + 2 * kv), "body"))
    else:
        tensors += [
            GGUFTensor(f"{blk}attn_k.weight", h, h * kv, "body"),
            GGUFTensor(f"{blk}attn_q.weight", h, h * q, "body"),
            GGUFTensor(f"{blk}attn_v.weight", h, h * kv, "body"),
        ]
    if arch.attention_bias:
        tensors.append(
            GGUFTensor(f"{blk}attn_qkv.bias", q + 2 * kv, q + 2 * kv, "body", kept="F32")
        )
    return sorted(tensors, key=lambda t: t.name)


def _mlp(blk: str, h: int, width: int, gated: bool, suffix: str = "") -> list[GGUFTensor]:
    out = [GGUFTensor(f"{blk}ffn_down{suffix}.weight", width, width * h, "body")]
    if gated:
        out.append(GGUFTensor(f"{blk}ffn_gate{suffix}.weight", h, h * width, "body"))
    out.append(GGUFTensor(f"{blk}ffn_up{suffix}.weight", h, h * width, "body"))
    return out


def gguf_tensors(arch: ModelArch) -> tuple[GGUFTensor, ...]:
    """The quantizable tensors, in the order the quantizer meets them (layer by layer)."""
    h = arch.hidden_size
    tensors = [GGUFTensor("token_embd.weight", h, h * arch.vocab_size, "embedding")]
    if not (arch.tied_embeddings or arch.pooling):
        tensors.append(GGUFTensor("output.weight", h, h * arch.vocab_size, "output"))
    moe = arch.moe
    moe_first = min(arch.dense_layers, arch.num_layers - (moe.moe_layers if moe else 0))
    state_params = arch.hybrid.mixer_params_per_layer if arch.hybrid else 0
    for i in range(arch.num_layers):
        blk = f"blk.{i}."
        layer: list[GGUFTensor] = []
        if i < arch.attention_layers:
            layer += _attention(arch, blk)
        if arch.hybrid and i < arch.hybrid.state_layers and state_params:
            layer.append(GGUFTensor(f"{blk}ssm_in.weight", h, state_params, "body"))
        if i < arch.dense_layers and arch.intermediate_size:
            layer += _mlp(blk, h, arch.intermediate_size, arch.gated_mlp)
        if moe and moe_first <= i < moe_first + moe.moe_layers:
            e, width = moe.num_experts, moe.expert_intermediate_size
            layer += [
                GGUFTensor(f"{blk}ffn_down_exps.weight", width, e * width * h, "experts", e),
                GGUFTensor(f"{blk}ffn_gate_exps.weight", h, e * h * width, "experts", e),
                GGUFTensor(f"{blk}ffn_up_exps.weight", h, e * h * width, "experts", e),
            ]
            if moe.shared_intermediate_size:
                layer += _mlp(blk, h, moe.shared_intermediate_size, True, "_shexp")
        tensors += sorted(layer, key=lambda t: t.name)
    return tuple(tensors)


def llama_quant_mix(arch: ModelArch, quant: str, *, imatrix: bool | None = None) -> QuantMix | None:
    """Bytes of this architecture's matrices under a llama.cpp mix; None if not one."""
    if quant not in FTYPE_BASE:
        return None
    tensors = gguf_tensors(arch)
    state = QuantState(quant_target(arch, quant, imatrix=imatrix))
    state.n_attention_wv = sum(
        1
        for t in tensors
        if t.name.endswith(("attn_v.weight", "attn_qkv.weight", "attn_kv_b.weight"))
    )
    by_role: Counter[str] = Counter()
    count: Counter[str] = Counter()
    size: Counter[str] = Counter()
    for t in tensors:
        ggml_type = t.kept or tensor_type(state, t.name, t.ne0, t.experts)
        nbytes = tensor_bytes(ggml_type, t.elements)
        by_role[t.role] += nbytes
        size[ggml_type] += nbytes
        if t.kept is None:
            count[ggml_type] += 1
    return QuantMix(
        quant=quant,
        embedding_bytes=by_role["embedding"],
        output_bytes=by_role["output"],
        body_bytes=by_role["body"],
        expert_bytes=by_role["experts"],
        tensors_by_type=dict(count),
        bytes_by_type=dict(size),
        fallbacks=tuple(state.fallbacks),
    )
