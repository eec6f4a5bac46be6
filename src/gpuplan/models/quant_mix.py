"""The ggml type llama.cpp's quantizer gives each tensor of a GGUF mix (Q4_K_M, Q3_K_S, IQ2_M…).

A mix name is not one bit width: ``llama-quantize`` keeps some tensors wider depending on
the tensor, its layer, and the architecture (attention grouping, expert count, Falcon,
the 70B size class), and falls back to a 32-wide block type when a row does not divide
into 256-weight super-blocks. A flat bits-per-weight is off by −5 % (Pythia Q3_K_M) to
+11 % (Q2_K) and misses Qwen2.5-72B's 29,568-wide ``ffn_down`` entirely, so this module
replays the quantizer's choice tensor by tensor.

``tensor_type`` is a faithful port of ``llama_tensor_get_type`` (with its ``use_more_bits``
and ``layer_info`` helpers and the ``convert_incompatible_tensor`` fallback), and
``FTYPE_BASE`` of the ``default_type`` switch in ``llama_model_quantize_impl``, both in
src/llama-quant.cpp of https://github.com/ggml-org/llama.cpp at commit
8784689fee07c6daabf3487d24e1535534ef6e6b. The quantizer is stateful (it counts ``attn_v``
and ``ffn_down`` tensors as it meets them), so ``QuantState`` carries the same counters
and tensors must be fed in file order. Block sizes and bytes per block are ggml's type
traits (ggml/src/ggml.c ``type_traits``; checked against gguf-py's ``GGML_QUANT_SIZES``
by the tests).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "FTYPE_BASE",
    "GGML_TYPE_SIZES",
    "LLAMA_CPP_COMMIT",
    "QuantState",
    "QuantTarget",
    "tensor_bytes",
    "tensor_type",
]

LLAMA_CPP_COMMIT = "8784689fee07c6daabf3487d24e1535534ef6e6b"
"""The ggml-org/llama.cpp commit whose src/llama-quant.cpp this module follows."""

GGML_TYPE_SIZES: dict[str, tuple[int, int]] = {
    "F32": (1, 4),
    "F16": (1, 2),
    "BF16": (1, 2),
    "Q4_0": (32, 18),
    "Q4_1": (32, 20),
    "Q5_0": (32, 22),
    "Q5_1": (32, 24),
    "Q8_0": (32, 34),
    "Q2_K": (256, 84),
    "Q3_K": (256, 110),
    "Q4_K": (256, 144),
    "Q5_K": (256, 176),
    "Q6_K": (256, 210),
    "IQ2_XXS": (256, 66),
    "IQ2_XS": (256, 74),
    "IQ3_XXS": (256, 98),
    "IQ1_S": (256, 50),
    "IQ4_NL": (32, 18),
    "IQ3_S": (256, 110),
    "IQ2_S": (256, 82),
    "IQ4_XS": (256, 136),
    "IQ1_M": (256, 56),
    "TQ1_0": (256, 54),
    "TQ2_0": (256, 66),
    "MXFP4": (32, 17),
}
"""ggml type → (weights per block, bytes per block)."""

FTYPE_BASE: dict[str, str] = {
    "q4_0": "Q4_0",
    "q4_1": "Q4_1",
    "q5_0": "Q5_0",
    "q5_1": "Q5_1",
    "q8_0": "Q8_0",
    "mxfp4": "MXFP4",
    "q2_k_s": "Q2_K",
    "q2_k": "Q2_K",
    "iq3_xs": "IQ3_S",
    "q3_k_s": "Q3_K",
    "q3_k_m": "Q3_K",
    "q3_k_l": "Q3_K",
    "q4_k_s": "Q4_K",
    "q4_k_m": "Q4_K",
    "q4_k_l": "Q4_K",  # Q4_K_M with --token-embedding-type/--output-tensor-type Q8_0
    "q5_k_s": "Q5_K",
    "q5_k_m": "Q5_K",
    "q6_k": "Q6_K",
    "tq1_0": "TQ1_0",
    "tq2_0": "TQ2_0",
    "iq2_xxs": "IQ2_XXS",
    "iq2_xs": "IQ2_XS",
    "iq2_s": "IQ2_XS",
    "iq2_m": "IQ2_S",
    "iq3_xxs": "IQ3_XXS",
    "iq1_s": "IQ1_S",
    "iq1_m": "IQ1_M",
    "iq4_nl": "IQ4_NL",
    "iq4_xs": "IQ4_XS",
    "iq3_s": "IQ3_S",
    "iq3_m": "IQ3_S",
}
"""gpuplan's canonical mix name → the ggml type most tensors get (``default_type``)."""

_OVERRIDES: dict[str, str] = {"q4_k_l": "q4_k_m"}
"""Mixes made with llama-quantize's type overrides: the ftype whose rules they follow."""

_OVERRIDE_TYPES: dict[str, tuple[str, str]] = {"q4_k_l": ("Q8_0", "Q8_0")}
"""Mix → (token embedding type, output type) forced on the command line."""

_IQ_LOW = frozenset({"iq2_xxs", "iq2_xs", "iq1_s", "iq2_s", "iq2_m", "iq1_m"})
_OUTPUT_Q5_K = frozenset({"iq2_xxs", "iq2_xs", "iq3_xxs", "iq1_s", "iq2_s", "iq2_m", "iq1_m"})
_MOE8_ATTN_OUTPUT_Q5_K = frozenset(
    {"q2_k", "iq3_xs", "iq3_xxs", "q3_k_s", "q3_k_m", "iq4_nl", "q4_k_s", "q4_k_m", "iq3_s"}
    | {"iq3_m", "iq4_xs"}
)
_FALLBACK: dict[str, str] = {
    "TQ1_0": "Q4_0",
    "TQ2_0": "Q4_0",
    **dict.fromkeys(
        ("IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ1_S", "IQ1_M", "Q2_K", "Q3_K"),
        "IQ4_NL",
    ),
    "IQ4_XS": "IQ4_NL",
    "Q4_K": "Q5_0",
    "Q5_K": "Q5_1",
    "Q6_K": "Q8_0",
}
"""``convert_incompatible_tensor``: the 32-wide type for rows that do not divide by 256."""

_LAYER = re.compile(r"blk\.(\d+)\.")


@dataclass(frozen=True)
class QuantTarget:
    """What ``llama_tensor_get_type`` reads from the model and the command line."""

    ftype: str
    falcon: bool = False
    n_layer: int = 1
    n_head: int = 1
    n_head_kv: int = 1
    n_expert: int = 0
    size_70b: bool = False
    has_output: bool = True
    imatrix: bool = False

    @property
    def rules(self) -> str:
        """The ftype whose rules apply (a named override mix follows its base)."""
        return _OVERRIDES.get(self.ftype, self.ftype)

    @property
    def n_gqa(self) -> int:
        return self.n_head // self.n_head_kv if self.n_head_kv else 0


@dataclass
class QuantState:
    """The quantizer's running counters (``quantize_state_impl``)."""

    target: QuantTarget
    n_attention_wv: int = 0
    i_attention_wv: int = 0
    i_ffn_down: int = 0
    i_ffn_gate: int = 0
    i_ffn_up: int = 0
    fallbacks: list[str] = field(default_factory=list)


def tensor_bytes(ggml_type: str, elements: int) -> int:
    """Bytes of a tensor of this type (rows are whole blocks: checked by the caller)."""
    block, size = GGML_TYPE_SIZES[ggml_type]
    return elements // block * size


def _use_more_bits(i_layer: int, n_layers: int) -> bool:
    return (
        i_layer < n_layers // 8
        or i_layer >= 7 * n_layers // 8
        or (i_layer - n_layers // 8) % 3 == 2
    )


def _layer(qs: QuantState, counter: int, name: str) -> int:
    """``layer_info``: MoE files interleave experts, so the layer comes from the name."""
    if max(1, qs.target.n_expert) > 1:
        match = _LAYER.match(name)
        if match:
            return int(match.group(1))
    return counter


def tensor_type(qs: QuantState, name: str, ne0: int, ne2: int = 1) -> str:
    """The ggml type of one quantizable tensor (row width ``ne0``, ``ne2`` experts)."""
    t = qs.target
    new = _choose(qs, t, FTYPE_BASE[t.ftype], name, ne0, ne2)
    embed_type, output_type = _OVERRIDE_TYPES.get(t.ftype, ("", ""))
    if embed_type and name == "token_embd.weight":
        new = embed_type
    is_output = name == "output.weight" or (not t.has_output and name == "token_embd.weight")
    if output_type and is_output:
        new = output_type
    if ne0 % GGML_TYPE_SIZES[new][0]:
        wanted = new
        new = _FALLBACK.get(new, "F16")
        if ne0 % GGML_TYPE_SIZES[new][0]:
            new = "F16"
        qs.fallbacks.append(f"{name} ({ne0} wide): {wanted} -> {new}")
    return new


def _choose(qs: QuantState, t: QuantTarget, new: str, name: str, ne0: int, ne2: int) -> str:
    f = t.rules
    n_expert = t.n_expert
    if name == "output.weight" or (not t.has_output and name == "token_embd.weight"):
        if f == "mxfp4" or t.falcon or ne0 % GGML_TYPE_SIZES[new][0]:
            return "Q8_0"
        if f in _OUTPUT_Q5_K:
            return "Q5_K"
        return "Q6_K" if new != "Q8_0" else new
    if f == "mxfp4":
        return "MXFP4" if ne2 > 1 else "Q8_0"
    if name in ("token_embd.weight", "per_layer_token_embd.weight"):
        if f in ("iq2_xxs", "iq2_xs", "iq1_s", "iq1_m"):
            return "Q2_K"
        if f in ("iq2_s", "iq2_m", "iq3_xxs"):
            return "IQ3_S"
        if f in ("tq1_0", "tq2_0"):
            return "Q4_K"
        return new
    if f in _IQ_LOW:
        return _choose_iq_low(qs, t, new, name)
    if "attn_v.weight" in name:
        return _attn_v(qs, t, new)
    if "attn_k.weight" in name:
        if n_expert == 8:
            return "Q8_0"
        return {"iq3_xs": "IQ3_XXS", "iq3_xxs": "IQ2_S"}.get(f, new)
    if "attn_q.weight" in name:
        return {"iq3_xs": "IQ3_XXS", "iq3_xxs": "IQ2_S"}.get(f, new)
    if "ffn_down" in name:
        i_layer = _layer(qs, qs.i_ffn_down, name)
        qs.i_ffn_down += 1
        return _ffn_down(t, new, i_layer, t.n_layer)
    if "attn_output.weight" in name:
        if t.falcon:
            return "Q4_K" if f == "q3_k_l" else new
        if n_expert == 8:
            return "Q5_K" if f in _MOE8_ATTN_OUTPUT_Q5_K else new
        table = {"q2_k": "Q3_K", "iq3_xxs": "IQ3_S", "q3_k_m": "Q4_K", "q3_k_l": "Q5_K"}
        return table.get(f, "Q4_K" if f == "iq3_m" else new)
    if "attn_qkv.weight" in name:
        if f in ("q3_k_m", "q3_k_l", "iq3_m"):
            return "Q4_K"
        return {"q4_k_m": "Q5_K", "q5_k_m": "Q6_K"}.get(f, new)
    for part, counter in (("ffn_gate", "i_ffn_gate"), ("ffn_up", "i_ffn_up")):
        if part in name:
            i_layer = _layer(qs, getattr(qs, counter), name)
            setattr(qs, counter, getattr(qs, counter) + 1)
            n = t.n_layer
            if f == "iq3_xs" and n // 8 <= i_layer < 7 * n // 8:
                return "IQ3_XXS"
            return new
    return new


def _choose_iq_low(qs: QuantState, t: QuantTarget, new: str, name: str) -> str:
    """The IQ1/IQ2 branch: only attn_v, attn_k (8 experts), early ffn_down, attn_output."""
    f = t.rules
    iq2_sm = f in ("iq2_s", "iq2_m")
    if "attn_v.weight" in name:
        qs.i_attention_wv += 1
        if t.n_gqa >= 4 or t.n_expert >= 4:
            return "Q4_K"
        return "IQ3_S" if iq2_sm else "Q2_K"
    if t.n_expert == 8 and "attn_k.weight" in name:
        return "Q4_K"
    if "ffn_down" in name:
        early = qs.i_ffn_down < t.n_layer // 8
        qs.i_ffn_down += 1
        if early:
            return "IQ3_S" if iq2_sm else "Q2_K"
        return new
    if "attn_output.weight" in name:
        if t.n_expert == 8:
            return "Q5_K"
        if f in ("iq1_s", "iq1_m"):
            return "IQ2_XXS"
        if iq2_sm:
            return "IQ3_S"
    return new


def _attn_v(qs: QuantState, t: QuantTarget, new: str) -> str:
    f, gqa4 = t.rules, t.n_gqa >= 4
    i, n = qs.i_attention_wv, qs.n_attention_wv
    if f == "q2_k":
        new = "Q4_K" if gqa4 else "Q3_K"
    elif f == "q2_k_s" and gqa4:
        new = "Q4_K"
    elif f == "iq3_xxs":
        new = "Q4_K" if gqa4 else ("IQ3_XXS" if t.imatrix else "IQ3_S")
    elif (f in ("iq3_xs", "iq3_s") and gqa4) or f == "iq3_m":
        new = "Q4_K"
    elif f == "q3_k_m":
        new = "Q5_K" if i < 2 else "Q4_K"
    elif f == "q3_k_l" or (f in ("iq4_nl", "iq4_xs") and gqa4):
        new = "Q5_K"
    elif f in ("q4_k_m", "q5_k_m") and _use_more_bits(i, n):
        new = "Q6_K"
    elif f == "q4_k_s" and i < 4:
        new = "Q5_K"
    if t.size_70b and new in ("Q3_K", "Q4_K"):
        new = "Q5_K"
    if t.n_expert == 8:
        new = "Q8_0"
    qs.i_attention_wv += 1
    return new


def _ffn_down(t: QuantTarget, new: str, i_layer: int, n_layer: int) -> str:
    f = t.rules
    more = _use_more_bits(i_layer, n_layer)
    if f == "q2_k":
        return "Q3_K"
    if f == "q2_k_s":
        return "Q4_K" if i_layer < n_layer // 8 else new
    if f == "iq3_xxs" and not t.imatrix:
        return "Q4_K" if i_layer < n_layer // 8 else "Q3_K"
    if f == "q3_k_m":
        if i_layer < n_layer // 16:
            return "Q5_K"
        return "Q4_K" if not t.falcon or more else "Q3_K"
    if f == "iq3_m" and (i_layer < n_layer // 8 or (t.n_expert == 8 and more)):
        return "Q4_K"
    if f == "q3_k_l":
        return "Q4_K" if t.falcon else "Q5_K"
    if f == "q4_k_m":
        if t.falcon:
            return "Q6_K" if i_layer < n_layer // 16 else ("Q5_K" if more else "Q4_K")
        return "Q6_K" if more else new
    if i_layer < n_layer // 8 and f in ("iq4_nl", "iq4_xs") and not t.imatrix:
        return "Q5_K"
    if f == "q5_k_m" and more:
        return "Q6_K"
    if f == "q4_k_s" and not t.falcon and i_layer < n_layer // 8:
        return "Q5_K"
    if f in ("q4_0", "q5_0") and t.imatrix and i_layer < n_layer // 8:
        return "Q4_1" if f == "q4_0" else "Q5_1"
    return new
