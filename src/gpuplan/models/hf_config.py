"""Hugging Face ``config.json`` → ``ModelArch``.

Forgiving about spellings (``n_layer``, ``num_hidden_layers``…), multimodal nesting
(``text_config``, ``llm_config``) and the defaults transformers leaves out of saved
configs; strict about meaning: when a config has a feature gpuplan cannot model
precisely, the choice that *overestimates* memory is taken and written to ``notes``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from gpuplan.errors import ModelError
from gpuplan.models.arch import (
    HybridSpec,
    MixerKind,
    MLASpec,
    ModelArch,
    MoESpec,
    SlidingSpec,
)
from gpuplan.models.quant import dtype_quant, normalize_quant
from gpuplan.models.vision import cross_attention_tokens, vision_spec
from gpuplan.problems import first_problem, shown


def parse_hf_config(config: Mapping[str, Any]) -> ModelArch:
    """Read a Hugging Face config.json dict (text or multimodal) into a ModelArch.

    Raises ModelError when the config lacks what any estimate needs (layers, width,
    heads, vocabulary), naming the missing keys, or describes an impossible model.
    """
    try:
        return _from_hf_config(config)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError) as error:
        if isinstance(error, ValidationError):
            raise _impossible(error) from None
        # a value of a type no config.json has (a number where a table belongs…)
        raise ModelError(
            f"config.json has a value of the wrong type ({_short_reason(error)})",
            hint="pass the model's own config.json; check the keys you edited",
        ) from None


def _short_reason(error: Exception) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text if len(text) <= 80 else text[:79] + "…"


def _impossible(error: ValidationError) -> ModelError:
    problem = first_problem(error.errors())
    for field, key in _CONFIG_KEYS.items():
        if problem.startswith(f"{field}:"):
            problem = key + problem[len(field) :]
    return ModelError(
        f"config.json describes an impossible model: {problem}",
        hint="check the config's sizes against the model card",
    )


_CONFIG_KEYS = {
    "num_layers": "num_hidden_layers",
    "num_kv_heads": "num_key_value_heads",
    "max_position_embeddings": "max_position_embeddings",
}
"""ModelArch fields a user knows by their config.json names."""


def _first(section: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = section.get(key)
        if value is not None:
            return value
    return None


def _int(section: Mapping[str, Any], *keys: str) -> int | None:
    value = _first(section, *keys)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return int(max(value))  # per-layer lists: the widest layer bounds memory
    return None


_CLASS_DEFAULTS: dict[str, dict[str, Any]] = {
    # transformers' configuration classes: a saved config.json omits values equal to
    # these defaults (google/gemma-3-27b-it's text_config has no vocab_size).
    "gemma3_text": {
        "vocab_size": 262208, "head_dim": 256, "sliding_window": 4096,
        "sliding_window_pattern": 6, "max_position_embeddings": 131072,
        "tie_word_embeddings": True,
    },
    "gemma2": {"vocab_size": 256000, "head_dim": 256, "sliding_window": 4096,
               "tie_word_embeddings": True},
    "gemma": {"vocab_size": 256000, "head_dim": 256, "tie_word_embeddings": True},
    "llama": {"tie_word_embeddings": False},
    "mistral": {"tie_word_embeddings": False},
    "mixtral": {"tie_word_embeddings": False},
    "qwen2": {"tie_word_embeddings": False},
    "qwen3": {"tie_word_embeddings": False},
    "qwen2_moe": {"tie_word_embeddings": False},
    "qwen3_moe": {"tie_word_embeddings": False},
    "phi3": {"tie_word_embeddings": False},
    "gpt_oss": {"tie_word_embeddings": False},
    "deepseek_v2": {"tie_word_embeddings": False},
    "deepseek_v3": {"tie_word_embeddings": False},
    # SiglipTextConfig: google/siglip-so400m-patch14-384's text_config states neither
    "siglip_text_model": {"vocab_size": 32000, "max_position_embeddings": 64,
                          "tie_word_embeddings": False},
    "siglip2_text_model": {"vocab_size": 256000, "max_position_embeddings": 64,
                           "tie_word_embeddings": False},
}  # fmt: skip


def _text_section(config: Mapping[str, Any]) -> dict[str, Any]:
    """The language model's keys, falling back to the top level (multimodal nesting),
    then to the defaults of its transformers configuration class."""
    nested = _first(config, "text_config", "llm_config", "language_config", "thinker_config")
    merged = {k: v for k, v in config.items() if not isinstance(v, Mapping)}
    if isinstance(nested, Mapping):
        if "text_config" in nested and isinstance(nested["text_config"], Mapping):
            nested = nested["text_config"]  # Qwen-Omni: thinker_config.text_config
        merged.update(nested)
    defaults = _CLASS_DEFAULTS.get(str(merged.get("model_type")), {})
    return {**defaults, **{k: v for k, v in merged.items() if v is not None or k not in defaults}}


_NON_GATED_TYPES = frozenset(
    {"gpt2", "gpt_neox", "gptj", "phi", "starcoder2", "gpt_bigcode", "falcon", "bloom", "opt",
     "mpt", "codegen", "nemotron", "nemotron_h", "stablelm_epoch", "siglip_text_model",
     "siglip2_text_model"}
)  # fmt: skip
_QKV_BIAS_TYPES = frozenset(
    {
        "qwen2",
        "qwen2_moe",
        "qwen2_vl",
        "qwen2_vl_text",
        "qwen2_5_vl",
        "qwen2_5_vl_text",
        "siglip_text_model",
        "siglip2_text_model",
    }
)
"""Qwen2-family q/k/v projections carry biases without saying so in the config."""
_HF_SLIDING_TYPES = frozenset({"mistral", "gemma2", "gemma3_text", "gemma3", "cohere2", "gpt_oss"})


_SPELLINGS: dict[str, tuple[str, ...]] = {
    "num_hidden_layers": ("num_hidden_layers", "n_layer", "num_layers", "n_layers"),
    "hidden_size": ("hidden_size", "n_embd", "d_model", "dim", "model_dim"),
    "num_attention_heads": ("num_attention_heads", "n_head", "num_heads", "n_heads"),
    "vocab_size": ("vocab_size", "padded_vocab_size", "n_vocab"),
}
"""The keys every estimate needs, each with the spellings model families use for it."""


def _from_hf_config(config: Mapping[str, Any]) -> ModelArch:
    text = _text_section(config)
    notes: list[str] = []
    architectures = config.get("architectures") or text.get("architectures") or []
    if not isinstance(architectures, list):
        architectures = [architectures]
    architecture = (
        str(architectures[0]) if architectures else str(text.get("model_type", "this model"))
    )
    model_type = text.get("model_type") or config.get("model_type")
    model_type = str(model_type) if model_type is not None else None

    layers = _int(text, *_SPELLINGS["num_hidden_layers"])
    hidden = _int(text, *_SPELLINGS["hidden_size"])
    heads = _int(text, *_SPELLINGS["num_attention_heads"])
    vocab = _int(text, *_SPELLINGS["vocab_size"])
    missing = [
        name
        for name, value in (
            ("num_hidden_layers", layers), ("hidden_size", hidden),
            ("num_attention_heads", heads), ("vocab_size", vocab),
        )
        if not value
    ]  # fmt: skip
    wrong = [name for name in missing if _first(text, *_SPELLINGS[name]) is not None]
    if wrong:
        value = _first(text, *_SPELLINGS[wrong[0]])
        raise ModelError(
            f"config.json of {architecture}: {wrong[0]} is {shown(value)}, not a positive "
            "whole number",
            hint=f"write {wrong[0]} as a count, like 32",
        )
    if missing or layers is None or hidden is None or heads is None or vocab is None:
        raise ModelError(
            f"config.json of {architecture} lacks {', '.join(missing)}",
            hint="pass the model's own config.json (for multimodal models the text model's keys "
            "must be at the top level or under text_config)",
        )
    kv_heads = _int(
        text, "num_key_value_heads", "num_kv_heads", "n_head_kv", "multi_query_group_num"
    )
    if kv_heads is None and text.get("multi_query"):
        kv_heads = 1
    kv_heads = kv_heads or heads
    head_dim = _int(text, "head_dim", "kv_channels") or hidden // heads
    intermediate = _int(text, "intermediate_size", "ffn_dim", "n_inner", "ffn_hidden_size")
    intermediate = intermediate if intermediate is not None else 4 * hidden

    tied = text.get("tie_word_embeddings", config.get("tie_word_embeddings"))
    if tied is None:
        tied = False
        notes.append("config does not say whether embeddings are tied: counted an lm_head")
    elif not isinstance(tied, bool):
        # Only a real true saves the lm_head; anything else is counted (never underestimate).
        notes.append(f"tie_word_embeddings is {tied!r}, not true/false: counted an lm_head")
        tied = False
    gated = model_type not in _NON_GATED_TYPES

    mla = _mla_spec(text)
    moe, dense_layers = _moe_spec(text, layers, model_type, intermediate)
    if moe is not None and _first(text, "moe_intermediate_size") is None:
        intermediate = _int(text, "intermediate_size_mlp") or intermediate
    hybrid, attention_layers, dense_layers, moe = _hybrid_spec(
        text, layers, hidden, model_type, dense_layers, moe, notes
    )
    if moe is not None and moe.moe_layers == 0:
        moe = None
    sliding = None if hybrid else _sliding_spec(text, layers, model_type, notes)

    vision = vision_spec(config, hidden)
    cross = text.get("cross_attention_layers")
    cross_layers = len(cross) if isinstance(cross, list) and vision is not None else 0
    if cross_layers:
        attention_layers -= cross_layers  # Mllama: these attend to image tokens only
    dtype = dtype_quant(
        _first(config, "torch_dtype", "dtype") or _first(text, "torch_dtype", "dtype")
    )
    quant = _checkpoint_quant(
        config.get("quantization_config") or text.get("quantization_config"), notes
    )
    max_pos = _int(
        text, "max_position_embeddings", "max_sequence_length", "seq_length", "n_positions"
    )
    return ModelArch(
        architecture=architecture,
        model_type=model_type,
        pooling=is_pooling_architecture(architecture),
        num_layers=layers,
        hidden_size=hidden,
        num_attention_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        vocab_size=vocab,
        intermediate_size=intermediate,
        tied_embeddings=bool(tied),
        attention_layers=attention_layers,
        cross_attention_layers=cross_layers,
        cross_attention_tokens=cross_attention_tokens(config) if cross_layers else 0,
        dense_layers=dense_layers,
        gated_mlp=gated,
        attention_bias=bool(text.get("attention_bias") or model_type in _QKV_BIAS_TYPES),
        moe=moe,
        sliding=sliding,
        mla=mla,
        hybrid=hybrid,
        vision=vision,
        max_position_embeddings=max_pos,
        dtype=dtype,
        checkpoint_quant=quant,
        notes=tuple(notes),
    )


def _mla_spec(text: Mapping[str, Any]) -> MLASpec | None:
    kv_lora = _int(text, "kv_lora_rank")
    if not kv_lora:
        return None
    return MLASpec(
        kv_lora_rank=kv_lora,
        qk_rope_head_dim=_int(text, "qk_rope_head_dim") or 64,
        qk_nope_head_dim=_int(text, "qk_nope_head_dim") or 128,
        v_head_dim=_int(text, "v_head_dim") or 128,
        q_lora_rank=_int(text, "q_lora_rank"),
    )


def _moe_spec(
    text: Mapping[str, Any], layers: int, model_type: str | None, intermediate: int
) -> tuple[MoESpec | None, int]:
    """(MoE layout, number of dense-MLP layers)."""
    experts = _int(text, "num_local_experts", "n_routed_experts", "num_experts", "moe_num_experts")
    if not experts or experts <= 1:
        return None, layers
    top_k = _int(
        text, "num_experts_per_tok", "experts_per_token", "moe_top_k", "num_selected_experts"
    )
    expert_width = _int(text, "moe_intermediate_size", "expert_intermediate_size") or intermediate
    shared = _int(text, "n_shared_experts", "num_shared_experts") or 0
    shared_width = _int(text, "shared_expert_intermediate_size") or shared * expert_width
    if model_type in ("llama4_text", "llama4"):
        shared, shared_width = 1, expert_width  # Llama 4: one shared expert per MoE layer
    elif shared_width and not shared:
        shared = 1

    moe_layers = layers
    first_dense = _int(text, "first_k_dense_replace")
    if first_dense:
        moe_layers = layers - first_dense
    step = _int(text, "interleave_moe_layer_step", "decoder_sparse_step", "moe_layer_freq")
    if step and step > 1:
        moe_layers = layers // step
    listed = text.get("moe_layers")
    if isinstance(listed, list) and listed:
        moe_layers = len(listed)
    mlp_only = text.get("mlp_only_layers")
    if isinstance(mlp_only, list):
        moe_layers -= len(mlp_only)
    spec = MoESpec(
        num_experts=experts,
        experts_per_token=top_k or 2,
        expert_intermediate_size=expert_width,
        num_shared_experts=shared,
        shared_intermediate_size=shared_width,
        moe_layers=max(moe_layers, 0),
    )
    return spec, layers - spec.moe_layers


def _layer_types(text: Mapping[str, Any]) -> list[str] | None:
    types = text.get("layer_types")
    if isinstance(types, list) and types and all(isinstance(t, str) for t in types):
        return [t.lower() for t in types]
    return None


_ATTENTION_TYPES = ("full_attention", "sliding_attention", "chunked_attention", "attention")


def _hybrid_spec(
    text: Mapping[str, Any],
    layers: int,
    hidden: int,
    model_type: str | None,
    dense_layers: int,
    moe: MoESpec | None,
    notes: list[str],
) -> tuple[HybridSpec | None, int, int, MoESpec | None]:
    """(hybrid spec, attention layers, dense layers, moe) — Nemotron-H reshapes all four."""
    types = _layer_types(text)
    pattern = text.get("hybrid_override_pattern")
    state_layers = 0
    attention_layers = layers
    if isinstance(pattern, str) and pattern:
        # Nemotron-H: one character per layer; M = Mamba2, * = attention, - = MLP, E = MoE.
        attention_layers = pattern.count("*")
        state_layers = pattern.count("M")
        dense_layers = pattern.count("-")
        if moe is not None:
            moe = moe.model_copy(update={"moe_layers": pattern.count("E")})
    elif types is not None and any(t not in _ATTENTION_TYPES for t in types):
        attention_layers = sum(t in _ATTENTION_TYPES for t in types)
        state_layers = len(types) - attention_layers
    elif model_type == "qwen3_next" and _int(text, "full_attention_interval"):
        interval = _int(text, "full_attention_interval") or 4
        attention_layers = layers // interval
        state_layers = layers - attention_layers
    elif _int(text, "attn_layer_period"):
        period = _int(text, "attn_layer_period") or 1
        offset = _int(text, "attn_layer_offset") or 0
        attention_layers = sum(1 for i in range(layers) if i % period == offset)
        state_layers = layers - attention_layers
        expert_period = _int(text, "expert_layer_period")
        if moe is not None and expert_period:
            expert_offset = _int(text, "expert_layer_offset") or 0
            moe_layers = sum(1 for i in range(layers) if i % expert_period == expert_offset)
            moe = moe.model_copy(update={"moe_layers": moe_layers})
            dense_layers = layers - moe_layers
    elif model_type == "falcon_h1":
        state_layers = layers  # parallel hybrid: every layer has attention *and* a Mamba2 mixer
    elif model_type and ("mamba" in model_type or "rwkv" in model_type):
        notes.append(
            f"{model_type}: state-space model not modelled; KV counted as if every layer "
            "were attention (overestimate)"
        )
        return None, attention_layers, dense_layers, moe
    if state_layers == 0:
        return None, attention_layers, dense_layers, moe
    mixer, per_seq, params = _mixer_state(text, hidden, model_type, types)
    if mixer == "unknown":
        notes.append(
            f"hybrid model: {state_layers} of {layers} layers are non-attention mixers of an "
            "unrecognised kind; their state is counted as 64 MiB per layer and sequence"
        )
    spec = HybridSpec(
        mixer=mixer,
        state_layers=state_layers,
        state_bytes_per_sequence=per_seq * state_layers,
        mixer_params_per_layer=params,
    )
    return spec, attention_layers, dense_layers, moe


def _mixer_state(
    text: Mapping[str, Any], hidden: int, model_type: str | None, types: list[str] | None
) -> tuple[MixerKind, int, int]:
    """(mixer kind, state bytes per sequence per layer, parameters per layer).

    Conv states are counted at 2 bytes and SSM/recurrent states at 4 (engines keep
    the recurrence in fp32 unless told otherwise).
    """
    if _int(text, "linear_num_value_heads"):
        k_heads = _int(text, "linear_num_key_heads") or 16
        k_dim = _int(text, "linear_key_head_dim") or 128
        v_heads = _int(text, "linear_num_value_heads") or 32
        v_dim = _int(text, "linear_value_head_dim") or 128
        kernel = _int(text, "linear_conv_kernel_dim") or 4
        key, value = k_heads * k_dim, v_heads * v_dim
        state = (kernel - 1) * (2 * key + value) * 2 + v_heads * k_dim * v_dim * 4
        params = hidden * (2 * key + 2 * value) + hidden * 2 * v_heads + value * hidden
        return "gated_deltanet", state, params + (2 * key + value) * kernel
    d_state = _int(text, "ssm_state_size", "mamba_d_state", "state_size", "d_state")
    d_conv = _int(text, "conv_kernel", "mamba_d_conv", "d_conv") or 4
    n_heads = _int(text, "mamba_num_heads", "mamba_n_heads")
    if d_state and n_heads:
        head = _int(text, "mamba_head_dim", "mamba_d_head") or 64
        groups = _int(text, "n_groups", "mamba_n_groups") or 1
        inner = _int(text, "mamba_d_ssm") or n_heads * head
        conv_width = inner + 2 * groups * d_state
        state = (d_conv - 1) * conv_width * 2 + n_heads * head * d_state * 4
        params = hidden * (2 * inner + 2 * groups * d_state + n_heads) + inner * hidden
        return "mamba2", state, params + conv_width * d_conv + inner
    if d_state:
        expand = _int(text, "mamba_expand", "expand") or 2
        inner = expand * hidden
        dt_rank = _int(text, "mamba_dt_rank", "time_step_rank") or math.ceil(hidden / 16)
        state = (d_conv - 1) * inner * 2 + inner * d_state * 4
        params = hidden * 2 * inner + inner * (dt_rank + 2 * d_state) + dt_rank * inner
        return "mamba", state, params + inner * d_state + inner * hidden + inner * d_conv
    if types is not None and "conv" in types:
        return "conv", (d_conv - 1) * hidden * 2, 3 * hidden * hidden
    return "unknown", 64 * 2**20, 0


def _sliding_spec(
    text: Mapping[str, Any], layers: int, model_type: str | None, notes: list[str]
) -> SlidingSpec | None:
    chunk = _int(text, "attention_chunk_size")
    if chunk and model_type in ("llama4_text", "llama4"):
        no_rope = text.get("no_rope_layers")
        if isinstance(no_rope, list) and len(no_rope) == layers:
            chunked = sum(1 for v in no_rope if v)  # 1 = RoPE layer = chunked local attention
        else:
            interval = _int(text, "no_rope_layer_interval") or 4
            chunked = layers - layers // interval
        return SlidingSpec(window=chunk, sliding_layers=chunked, chunked=True)
    window = _int(text, "sliding_window")
    types = _layer_types(text)
    if types is not None and "sliding_attention" in types:
        return SlidingSpec(window=window or 4096, sliding_layers=types.count("sliding_attention"))
    if not window or text.get("use_sliding_window") is False:
        return None
    pattern = _int(text, "sliding_window_pattern")
    if pattern is None and model_type == "gemma2":
        pattern = 2
    if pattern:
        count = sum(1 for i in range(layers) if i % pattern < pattern - 1)
        return SlidingSpec(window=window, sliding_layers=count)
    if model_type in _HF_SLIDING_TYPES:
        return SlidingSpec(window=window, sliding_layers=layers)
    notes.append(
        f"config sets sliding_window={window} but {model_type} is not known to use it: "
        "KV counted for full attention (overestimate)"
    )
    return None


def _checkpoint_quant(qcfg: Any, notes: list[str]) -> str | None:
    """The canonical quant of a config's quantization_config, or None (unquantized/unknown)."""
    if not isinstance(qcfg, Mapping):
        return None
    method = str(qcfg.get("quant_method", "")).lower()
    bits = _int(qcfg, "bits", "w_bit", "num_bits")
    if method in ("awq", "gptq", "awq_marlin", "gptq_marlin", "auto-round", "autoround"):
        if bits == 8:
            return "int8"
        return "awq" if method.startswith("awq") else "gptq"
    if method == "bitsandbytes":
        return "nf4" if qcfg.get("load_in_4bit") else "int8"
    if method in ("compressed-tensors", "compressed_tensors"):
        return _compressed_tensors_quant(qcfg, notes)
    if method == "modelopt":
        algo = str(qcfg.get("quant_algo", "")).lower()
        return "nvfp4" if "fp4" in algo else "fp8"
    try:
        return normalize_quant(method) if method else None
    except ModelError:
        notes.append(f"checkpoint quantization {method!r} not recognised: estimated as 16-bit")
        return None


def _compressed_tensors_quant(qcfg: Mapping[str, Any], notes: list[str]) -> str | None:
    groups = qcfg.get("config_groups")
    if isinstance(groups, Mapping):
        for group in groups.values():
            weights = group.get("weights") if isinstance(group, Mapping) else None
            if not isinstance(weights, Mapping):
                continue
            bits = _int(weights, "num_bits")
            kind = str(weights.get("type", "int")).lower()
            if bits == 8:
                return "fp8" if kind == "float" else "int8"
            if bits == 4:
                return "nvfp4" if kind == "float" else "int4"
    fmt = str(qcfg.get("format", "")).lower()
    if "fp8" in fmt or "float" in fmt:
        return "fp8"
    if "pack" in fmt:
        return "int4"
    if "int" in fmt:
        return "int8"
    notes.append("compressed-tensors checkpoint of unknown bit width: estimated as 16-bit")
    return None


def is_pooling_architecture(architecture: str) -> bool:
    """A base-model class ('Qwen3Model', 'XLMRobertaModel'): embeddings, no language head.

    Embedding checkpoints load as the bare transformer (Qwen3-Embedding-8B: 7.57 B
    parameters, the 8.19 B of Qwen3-8B less its 0.62 B lm_head); vLLM serves them
    with its pooling runner, which allocates no sampler.
    """
    return architecture.endswith("Model") and not architecture.endswith("PreTrainedModel")
