"""What a model *is*, as far as GPU memory cares: a frozen ``ModelArch``.

Built from a Hugging Face ``config.json`` (``gpuplan.models.hf_config.parse_hf_config``),
from a GGUF header (``gpuplan.models.files``) or declared by hand. Everything the
estimator needs is here: the layer composition (which layers keep a KV cache, which
have a dense MLP or MoE experts, which are Mamba / linear-attention mixers), the
attention kind (full, sliding window, MLA, hybrid), and enough shape to count
parameters when nobody states them.

Whatever gpuplan cannot model precisely is resolved towards *more* memory and
written to ``notes``, which the estimate copies into its assumptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AttentionKind = Literal["full", "sliding", "mla", "hybrid"]
"""full: every layer caches every token; sliding: some layers keep a window; mla: a
compressed latent per token (DeepSeek); hybrid: some layers are state-space/linear
mixers with a fixed per-sequence state instead of a KV cache."""

MixerKind = Literal["mamba", "mamba2", "gated_deltanet", "conv", "unknown"]


MAX_LAYERS = 4096
"""Decoder layers: the deepest released models have ~160; thousands is a typo."""
MAX_WIDTH = 1 << 20
"""Hidden, MLP and latent widths: the widest released MLPs are ~50k."""
MAX_HEADS = 1 << 12
"""Attention heads (and head width): released models use at most a few hundred."""
MAX_VOCAB = 1 << 24
"""Vocabulary rows: released models stay below 300k."""
MAX_EXPERTS = 1 << 14
"""Routed experts per layer: the most today is a few hundred."""
MAX_CONTEXT = 1 << 27
"""Tokens of context: 128M, far above the longest (10M) any model claims."""
MAX_PARAMETERS = 10**14
"""100 trillion parameters: two orders above the largest released model."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MoESpec(_Frozen):
    """Mixture-of-experts layout."""

    num_experts: int = Field(gt=0, le=MAX_EXPERTS, description="Routed experts per MoE layer.")
    experts_per_token: int = Field(
        gt=0, le=MAX_EXPERTS, description="Routed experts active per token (top-k)."
    )
    expert_intermediate_size: int = Field(
        ge=0, le=MAX_WIDTH, description="FFN width of one routed expert."
    )
    num_shared_experts: int = Field(
        default=0, ge=0, le=MAX_EXPERTS, description="Always-active shared experts."
    )
    shared_intermediate_size: int = Field(
        default=0,
        ge=0,
        le=MAX_WIDTH,
        description="Total FFN width of the shared expert block (0: none).",
    )
    moe_layers: int = Field(ge=0, le=MAX_LAYERS, description="Layers whose FFN is a MoE block.")


class SlidingSpec(_Frozen):
    """Sliding-window (or chunked local) attention on some layers."""

    window: int = Field(gt=0, le=MAX_CONTEXT, description="Tokens a sliding layer attends to.")
    sliding_layers: int = Field(
        ge=0, le=MAX_LAYERS, description="Layers that use the window; the rest are global."
    )
    chunked: bool = Field(
        default=False, description="Llama 4 style chunked local attention rather than a window."
    )


class MLASpec(_Frozen):
    """Multi-head latent attention (DeepSeek V2/V3, Kimi K2)."""

    kv_lora_rank: int = Field(
        ge=0, le=MAX_WIDTH, description="Width of the compressed KV latent cached per token."
    )
    qk_rope_head_dim: int = Field(
        ge=0, le=MAX_WIDTH, description="Decoupled RoPE key width cached per token."
    )
    qk_nope_head_dim: int = Field(
        ge=0, le=MAX_WIDTH, description="Per-head non-RoPE query/key width."
    )
    v_head_dim: int = Field(ge=0, le=MAX_WIDTH, description="Per-head value width.")
    q_lora_rank: int | None = Field(
        default=None, ge=0, le=MAX_WIDTH, description="Query latent width, if any."
    )


class HybridSpec(_Frozen):
    """Layers with a recurrent state instead of a KV cache (Mamba, Gated DeltaNet…)."""

    mixer: MixerKind = Field(description="Kind of the non-attention mixer.")
    state_layers: int = Field(
        ge=0, le=MAX_LAYERS, description="Layers with a mixer state instead of a KV cache."
    )
    state_bytes_per_sequence: int = Field(
        ge=0,
        le=1 << 44,
        description="Bytes of mixer state one sequence needs, summed over the state layers.",
    )
    mixer_params_per_layer: int = Field(
        default=0, ge=0, le=MAX_PARAMETERS, description="Parameters of one mixer."
    )


class VisionSpec(_Frozen):
    """A vision tower (multimodal models): its weights load with the language model."""

    hidden_size: int = Field(ge=0, le=MAX_WIDTH, description="Vision encoder width.")
    num_layers: int = Field(ge=0, le=MAX_LAYERS, description="Vision encoder depth.")
    intermediate_size: int = Field(ge=0, le=MAX_WIDTH, description="Vision encoder MLP width.")
    parameters: int = Field(
        ge=0, le=MAX_PARAMETERS, description="Parameters of encoder + projector (counted)."
    )
    tp_sharded_parameters: int = Field(
        default=0,
        ge=0,
        le=MAX_PARAMETERS,
        description="Of those, the parameters vLLM splits across tensor-parallel GPUs (encoder "
        "blocks, sharded projectors); the rest (embeddings, norms) every GPU holds whole. "
        "0: a tower of unknown layout, assumed replicated.",
    )


@dataclass(frozen=True)
class ParamCounts:
    """Parameters by role: roles are quantized differently, so they are counted apart."""

    embedding: int
    output: int
    attention: int
    dense_mlp: int
    experts: int
    shared_experts: int
    router: int
    state_mixers: int
    norms: int
    vision: int

    @property
    def total(self) -> int:
        return (
            self.embedding + self.output + self.attention + self.dense_mlp + self.experts
            + self.shared_experts + self.router + self.state_mixers + self.norms + self.vision
        )  # fmt: skip

    @property
    def linear_body(self) -> int:
        """Quantizable transformer-block weights other than routed experts."""
        return self.attention + self.dense_mlp + self.shared_experts + self.state_mixers


class ModelArch(_Frozen):
    """The memory-relevant shape of a model. Sizes are counts, not bytes."""

    architecture: str = Field(description="HF architecture class or GGUF architecture name.")
    model_type: str | None = Field(default=None, description="HF model_type of the text model.")
    num_layers: int = Field(gt=0, le=MAX_LAYERS, description="Decoder layers.")
    hidden_size: int = Field(gt=0, le=MAX_WIDTH, description="Residual stream width.")
    num_attention_heads: int = Field(gt=0, le=MAX_HEADS, description="Query heads.")
    num_kv_heads: int = Field(
        gt=0, le=MAX_HEADS, description="Key/value heads (GQA); = heads for MHA."
    )
    head_dim: int = Field(gt=0, le=MAX_HEADS, description="Width of one attention head.")
    vocab_size: int = Field(gt=0, le=MAX_VOCAB, description="Vocabulary (embedding rows).")
    intermediate_size: int = Field(
        ge=0, le=MAX_WIDTH, description="Dense MLP width (0: no dense MLP)."
    )
    tied_embeddings: bool = Field(default=False, description="lm_head shares the embedding.")
    pooling: bool = Field(
        default=False,
        description="An embedding model (architecture 'Qwen3Model', 'BertModel', ...): no "
        "lm_head in the checkpoint, and engines run a pooling head, no sampler.",
    )
    attention_layers: int = Field(
        ge=0, le=MAX_LAYERS, description="Self-attention layers: they cache every text token."
    )
    cross_attention_layers: int = Field(
        default=0,
        ge=0,
        le=MAX_LAYERS,
        description="Layers attending to the image encoder's tokens instead of the text "
        "(Mllama); not in attention_layers.",
    )
    cross_attention_tokens: int = Field(
        default=0,
        ge=0,
        le=MAX_CONTEXT,
        description="Encoder tokens a cross-attention layer caches per sequence (one image at "
        "the most tiles).",
    )
    dense_layers: int = Field(ge=0, le=MAX_LAYERS, description="Layers with a dense (non-MoE) MLP.")
    gated_mlp: bool = Field(default=True, description="MLP has gate+up+down (SwiGLU) matrices.")
    attention_bias: bool = Field(default=False, description="q/k/v projections carry biases.")
    moe: MoESpec | None = Field(default=None, description="MoE layout, None for dense.")
    sliding: SlidingSpec | None = Field(default=None, description="Sliding-window layers.")
    mla: MLASpec | None = Field(default=None, description="Latent attention, None otherwise.")
    hybrid: HybridSpec | None = Field(default=None, description="State-space/linear layers.")
    vision: VisionSpec | None = Field(default=None, description="Vision tower, if multimodal.")
    max_position_embeddings: int | None = Field(
        default=None, gt=0, le=MAX_CONTEXT, description="Trained context."
    )
    dtype: str | None = Field(default=None, description="Checkpoint float dtype: bf16/fp16/fp32.")
    checkpoint_quant: str | None = Field(
        default=None, description="Quantization the checkpoint ships in (awq, fp8, mxfp4…)."
    )
    parameters: int | None = Field(
        default=None,
        ge=0,
        le=MAX_PARAMETERS,
        description="Declared total parameters; None: count from the shape.",
    )
    notes: tuple[str, ...] = Field(
        default=(), description="What parsing could not model exactly (goes into assumptions)."
    )

    @property
    def attention_kind(self) -> AttentionKind:
        if self.hybrid is not None:
            return "hybrid"
        if self.mla is not None:
            return "mla"
        if self.sliding is not None:
            return "sliding"
        return "full"

    def param_counts(self) -> ParamCounts:
        """Parameters by role, counted from the shape (not from any declared total)."""
        h = self.hidden_size
        mlp_mats = 3 if self.gated_mlp else 2
        moe = self.moe
        moe_layers = moe.moe_layers if moe else 0
        state = self.hybrid.state_layers * self.hybrid.mixer_params_per_layer if self.hybrid else 0
        return ParamCounts(
            embedding=self.vocab_size * h,
            output=0 if self.tied_embeddings or self.pooling else self.vocab_size * h,
            attention=(self.attention_layers + self.cross_attention_layers)
            * self._attention_params_per_layer(),
            dense_mlp=self.dense_layers * mlp_mats * h * self.intermediate_size,
            experts=moe_layers * moe.num_experts * 3 * h * moe.expert_intermediate_size
            if moe
            else 0,
            shared_experts=moe_layers * 3 * h * moe.shared_intermediate_size if moe else 0,
            router=moe_layers * h * moe.num_experts if moe else 0,
            state_mixers=state,
            norms=(2 * self.num_layers + 1) * h + self._latent_norms(),
            vision=self.vision.parameters if self.vision else 0,
        )

    @property
    def counted_parameters(self) -> int:
        return self.param_counts().total

    @property
    def total_parameters(self) -> int:
        """The larger of declared and counted: an undercount must never shrink an estimate."""
        return max(self.parameters or 0, self.counted_parameters)

    def tp_replicated_parameters(self) -> tuple[int, int]:
        """(linear, small) parameters vLLM and SGLang hold whole on every tensor-parallel GPU.

        linear: MLA's ``q_a_proj`` and ``kv_a_proj_with_mqa`` (``ReplicatedLinear`` /
        the fused ``fused_qkv_a_proj`` in vllm/model_executor/models/deepseek_v2.py),
        quantized like the body; small: every norm and the MoE routers (``GateLinear``),
        kept in 16/32 bits. The vision tower's share is ``VisionSpec``'s.
        """
        linear = 0
        if self.mla is not None:
            m = self.mla
            linear = (
                self.attention_layers
                * self.hidden_size
                * ((m.q_lora_rank or 0) + m.kv_lora_rank + m.qk_rope_head_dim)
            )
        counts = self.param_counts()
        return linear, counts.norms + counts.router

    def _latent_norms(self) -> int:
        """MLA's q_a_layernorm and kv_a_layernorm."""
        if self.mla is None:
            return 0
        return self.attention_layers * ((self.mla.q_lora_rank or 0) + self.mla.kv_lora_rank)

    def _attention_params_per_layer(self) -> int:
        h, heads = self.hidden_size, self.num_attention_heads
        if self.mla is not None:
            m = self.mla
            qk = m.qk_nope_head_dim + m.qk_rope_head_dim
            q = h * m.q_lora_rank + m.q_lora_rank * heads * qk if m.q_lora_rank else h * heads * qk
            kv_a = h * (m.kv_lora_rank + m.qk_rope_head_dim)
            kv_b = m.kv_lora_rank * heads * (m.qk_nope_head_dim + m.v_head_dim)
            return q + kv_a + kv_b + heads * m.v_head_dim * h
        q_width = heads * self.head_dim
        kv_width = self.num_kv_heads * self.head_dim
        params = 2 * h * q_width + 2 * h * kv_width
        if self.attention_bias:
            params += q_width + 2 * kv_width
        return params
