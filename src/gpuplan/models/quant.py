"""Quantization names → effective bits per weight, and which tensors stay unquantized.

The seeds, model cards and engines spell the same thing many ways ('Q4_K_M',
'q4-k-m', 'Q4_K - Medium', 'AWQ', 'awq_marlin', 'FP8', 'w8a8'); everything is
normalised to one canonical name here so the estimator, the registry and the CLI
agree. Bits are *effective*: they include the block scales and zero points stored
beside the weights (Q4_K_M ≈ 4.85 bpw, not 4), because memory, not arithmetic, is
what we are predicting.

Which tensors keep their original precision follows the engines' conventions:

* **GGUF (llama.cpp, Ollama)**: the quantizer keeps norms in F32, writes
  ``token_embd`` in the mix's base type and ``output`` (lm_head) in Q6_K for every
  mix below Q8_0 (``llama_tensor_get_type`` in llama.cpp's ``llama-quant.cpp``).
  The ``bits`` of a K-quant mix average its promotions (Q4_K_M puts half the layers'
  ``attn_v`` and ``ffn_down`` in Q6_K) for help texts; weight estimates replay the
  quantizer tensor by tensor instead (``gpuplan.models.gguf_mix``).
* **Checkpoint quantizations (vLLM, SGLang, TensorRT-LLM, transformers)**: AWQ, GPTQ,
  FP8, INT8, NVFP4 quantize the linear layers only; embeddings, lm_head, norms and the
  MoE router stay in the checkpoint dtype (16-bit). MXFP4 as gpt-oss ships it
  quantizes the MoE experts only; attention stays BF16.
"""

from __future__ import annotations

import difflib
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.errors import ModelError

QuantFamily = Literal["float", "gguf", "checkpoint"]
"""float: unquantized; gguf: llama.cpp mixes; checkpoint: AWQ/GPTQ/FP8/… for GPU engines."""

_Q6_K = 6.5625
"""Q6_K: 210 bytes per 256 weights; llama.cpp's lm_head type for every mix below Q8_0."""


class QuantSpec(BaseModel):
    """How many bits one weight costs under a quantization, by tensor role."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Canonical name, e.g. 'q4_k_m', 'awq', 'bf16'.")
    family: QuantFamily = Field(description="float, gguf or checkpoint.")
    bits: float = Field(description="Effective bits per weight of quantized linear layers.")
    embedding_bits: float = Field(description="Bits per weight of the token embedding table.")
    output_bits: float = Field(description="Bits per weight of the output layer (lm_head).")
    experts_only: bool = Field(
        default=False,
        description="Only MoE expert weights are quantized; other linear layers stay 16-bit.",
    )
    description: str = Field(default="", description="What the name means, for help texts.")


def _gguf(
    name: str, bits: float, embedding: float, output: float = _Q6_K, what: str = ""
) -> QuantSpec:
    return QuantSpec(
        name=name, family="gguf", bits=bits, embedding_bits=embedding, output_bits=output,
        description=what,
    )  # fmt: skip


def _ckpt(name: str, bits: float, what: str, *, experts_only: bool = False) -> QuantSpec:
    return QuantSpec(
        name=name, family="checkpoint", bits=bits, embedding_bits=16.0, output_bits=16.0,
        experts_only=experts_only, description=what,
    )  # fmt: skip


def _float(name: str, bits: float, what: str) -> QuantSpec:
    return QuantSpec(
        name=name, family="float", bits=bits, embedding_bits=bits, output_bits=bits,
        description=what,
    )  # fmt: skip


QUANTS: dict[str, QuantSpec] = {
    q.name: q
    for q in (
        _float("fp32", 32.0, "32-bit float"),
        _float("fp16", 16.0, "16-bit float"),
        _float("bf16", 16.0, "bfloat16"),
        # Checkpoint quantizations (GPU engines). Scales: group-128 fp16 scale + 4-bit
        # zero = 0.16 bpw, rounded up to 0.25 for packing and g_idx; FP8/INT8 per-channel
        # or 128x128-block scales cost < 0.03 bpw.
        _ckpt("fp8", 8.03, "FP8 (E4M3) weights with per-channel or block scales"),
        _ckpt("int8", 8.03, "INT8 weights (W8A8 / W8A16 / bitsandbytes 8-bit)"),
        _ckpt("int4", 4.25, "INT4 weights with group-128 scales (W4A16)"),
        _ckpt("awq", 4.25, "AWQ 4-bit, group 128"),
        _ckpt("gptq", 4.25, "GPTQ 4-bit, group 128"),
        _ckpt("nf4", 4.5, "bitsandbytes NF4, 64-weight blocks with fp32 absmax"),
        _ckpt("nvfp4", 4.5, "NVFP4: FP4 weights with an FP8 scale per 16"),
        _ckpt(
            "mxfp4",
            4.25,
            "MXFP4: FP4 with an E8M0 scale per 32; MoE experts only (gpt-oss)",
            experts_only=True,
        ),
        # GGUF mixes (bits from llama.cpp's block sizes and its quantize tool's mixes).
        _gguf("f32", 32.0, 32.0, 32.0, "GGUF F32"),
        _gguf("f16", 16.0, 16.0, 16.0, "GGUF F16"),
        _gguf("q8_0", 8.5, 8.5, 8.5, "Q8_0: 34 bytes per 32 weights"),
        _gguf("q6_k", _Q6_K, _Q6_K, _Q6_K, "Q6_K: 210 bytes per 256 weights"),
        _gguf("q5_k_m", 5.69, 5.5, what="Q5_K with Q6_K attn_v/ffn_down on half the layers"),
        _gguf("q5_k_s", 5.54, 5.5, what="Q5_K"),
        _gguf("q5_1", 6.0, 6.0, what="Q5_1: 24 bytes per 32 weights"),
        _gguf("q5_0", 5.5, 5.5, what="Q5_0: 22 bytes per 32 weights"),
        _gguf("q4_k_xl", 4.95, 4.5, what="Unsloth dynamic Q4_K_XL (Q4_K_M with more promotions)"),
        _gguf("q4_k_l", 4.85, 8.5, 8.5, "Q4_K_M with Q8_0 embeddings and output"),
        _gguf("q4_k_m", 4.85, 4.5, what="Q4_K with Q6_K attn_v/ffn_down on half the layers"),
        _gguf("q4_k_s", 4.58, 4.5, what="Q4_K with Q5_K on the first layers"),
        _gguf("q4_1", 5.0, 5.0, what="Q4_1: 20 bytes per 32 weights"),
        _gguf("q4_0", 4.5, 4.5, what="Q4_0: 18 bytes per 32 weights"),
        _gguf("iq4_nl", 4.55, 4.5, what="IQ4_NL: non-linear 4-bit, blocks of 32"),
        _gguf("iq4_xs", 4.3, 4.25, what="IQ4_XS: 136 bytes per 256 weights"),
        _gguf("q3_k_l", 4.3, 3.4375, what="Q3_K with Q5_K attn_v/ffn_down"),
        _gguf("q3_k_m", 3.95, 3.4375, what="Q3_K with Q4_K/Q5_K promotions"),
        _gguf("q3_k_s", 3.5, 3.4375, what="Q3_K: 110 bytes per 256 weights"),
        _gguf("iq3_m", 3.7, 3.4375, what="IQ3_S with promotions"),
        _gguf("iq3_s", 3.5, 3.4375, what="IQ3_S: 110 bytes per 256 weights"),
        _gguf("iq3_xs", 3.35, 3.4375, what="IQ3_XS"),
        _gguf("iq3_xxs", 3.1, 3.0625, what="IQ3_XXS: 98 bytes per 256 weights"),
        _gguf("q2_k", 3.35, 2.625, what="Q2_K with Q3_K/Q4_K promotions"),
        _gguf("q2_k_s", 3.0, 2.625, what="Q2_K"),
        _gguf("iq2_m", 2.75, 2.5625, what="IQ2_S with promotions"),
        _gguf("iq2_s", 2.6, 2.5625, what="IQ2_S: 82 bytes per 256 weights"),
        _gguf("iq2_xs", 2.4, 2.3125, what="IQ2_XS: 74 bytes per 256 weights"),
        _gguf("iq2_xxs", 2.1, 2.0625, what="IQ2_XXS: 66 bytes per 256 weights"),
        _gguf("iq1_m", 1.85, 1.75, what="IQ1_M: 56 bytes per 256 weights"),
        _gguf("iq1_s", 1.65, 1.5625, what="IQ1_S: 50 bytes per 256 weights"),
        _gguf("tq2_0", 2.1, 2.0625, what="ternary TQ2_0"),
        _gguf("tq1_0", 1.75, 1.6875, what="ternary TQ1_0"),
    )
}
"""Every quantization gpuplan knows, by canonical name."""

_ALIASES: dict[str, str] = {
    "float32": "fp32",
    "f32_full": "fp32",
    "float16": "fp16",
    "half": "fp16",
    "bfloat16": "bf16",
    "fp8_e4m3": "fp8",
    "fp8_e5m2": "fp8",
    "fp8_dynamic": "fp8",
    "fp8_w8a8": "fp8",
    "w8a8_fp8": "fp8",
    "fbgemm_fp8": "fp8",
    "modelopt_fp8": "fp8",
    "w8a8": "int8",
    "w8a16": "int8",
    "w8a8_int8": "int8",
    "int8_w8a8": "int8",
    "gptq_int8": "int8",
    "bnb_8bit": "int8",
    "bitsandbytes_8bit": "int8",
    "8bit": "int8",
    "w4a16": "int4",
    "int4_w4a16": "int4",
    "awq_marlin": "awq",
    "awq_int4": "awq",
    "int4_awq": "awq",
    "gptq_marlin": "gptq",
    "gptq_int4": "gptq",
    "int4_gptq": "gptq",
    "marlin": "gptq",
    "bnb_4bit": "nf4",
    "bitsandbytes_4bit": "nf4",
    "bnb_nf4": "nf4",
    "4bit": "nf4",
    "modelopt_fp4": "nvfp4",
    "fp4": "nvfp4",
    "w4a4_nvfp4": "nvfp4",
    "mxfp4_moe": "mxfp4",
    "q4_k_medium": "q4_k_m",
    "q4_k_small": "q4_k_s",
    "q4_k_large": "q4_k_l",
    "q4_k": "q4_k_m",
    "q5_k_medium": "q5_k_m",
    "q5_k_small": "q5_k_s",
    "q5_k": "q5_k_m",
    "q3_k_medium": "q3_k_m",
    "q3_k_small": "q3_k_s",
    "q3_k_large": "q3_k_l",
    "q3_k": "q3_k_m",
    "q2_k_small": "q2_k_s",
    "q6_k_l": "q6_k",
    "q8_k_xl": "q8_0",
    "q6_k_xl": "q6_k",
    "q5_k_xl": "q5_k_m",
    "q3_k_xl": "q3_k_l",
    "q2_k_xl": "q2_k",
    "iq4_xs_xl": "iq4_xs",
}


def _slug(name: str) -> str:
    slug = re.sub(r"[\s\-.]+", "_", name.strip().lower())
    slug = re.sub(r"_+", "_", slug).strip("_")
    for prefix in ("mostly_", "all_", "ud_", "gguf_"):
        slug = slug.removeprefix(prefix)
    return slug.removesuffix("_gguf")


def normalize_quant(name: str) -> str:
    """The canonical name for any spelling, or ModelError naming the closest known ones."""
    slug = _slug(name)
    canonical = _ALIASES.get(slug, slug)
    if canonical in QUANTS:
        return canonical
    if slug in ("compressed_tensors", "modelopt", "gguf", "bitsandbytes", "quark"):
        raise ModelError(
            f"quantization {name!r} names a format, not a bit width",
            hint="say which one: w4a16 (int4), w8a8 (int8), fp8, nvfp4, "
            "or a GGUF type such as q4_k_m",
        )
    close = difflib.get_close_matches(canonical, [*QUANTS, *_ALIASES], n=3, cutoff=0.6)
    raise ModelError(
        f"unknown quantization {name!r}",
        hint=("did you mean " + ", ".join(close)) if close else "known: " + ", ".join(QUANTS),
    )


def quant_spec(name: str) -> QuantSpec:
    """The QuantSpec for any spelling of a quantization name."""
    return QUANTS[normalize_quant(name)]


def is_gguf_quant(name: str) -> bool:
    """True for llama.cpp types, read only by llama.cpp-family engines (and vLLM GGUF loading)."""
    return QUANTS[normalize_quant(name)].family == "gguf"


KV_CACHE_BYTES: dict[str, float] = {
    "fp32": 4.0,
    "fp16": 2.0,
    "bf16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "q8_0": 34 / 32,
    "q5_1": 24 / 32,
    "q5_0": 22 / 32,
    "q4_1": 20 / 32,
    "q4_0": 18 / 32,
    "iq4_nl": 18 / 32,
}
"""Bytes per cached K or V element, by canonical KV-cache dtype (block scales included)."""

_KV_ALIASES: dict[str, str] = {
    "f32": "fp32",
    "float32": "fp32",
    "f16": "fp16",
    "float16": "fp16",
    "half": "fp16",
    "bfloat16": "bf16",
    "fp8_e4m3": "fp8",
    "fp8_e5m2": "fp8",
    "fp8_inc": "fp8",
}


def normalize_kv_dtype(name: str) -> str:
    """Canonical KV-cache dtype ('auto' stays 'auto': the engine decides)."""
    slug = _slug(name)
    if slug == "auto":
        return "auto"
    canonical = _KV_ALIASES.get(slug, slug)
    if canonical not in KV_CACHE_BYTES:
        raise ModelError(
            f"unknown KV-cache dtype {name!r}",
            hint="known: auto, " + ", ".join(KV_CACHE_BYTES),
        )
    return canonical


def dtype_quant(torch_dtype: str | None) -> str | None:
    """The float quant name for a config's torch_dtype ('bfloat16' → 'bf16'), else None."""
    if not torch_dtype:
        return None
    slug = _slug(str(torch_dtype).removeprefix("torch."))
    canonical = _ALIASES.get(slug, slug)
    return canonical if canonical in ("fp32", "fp16", "bf16") else None
