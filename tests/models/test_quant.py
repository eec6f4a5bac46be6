"""Quantization and engine names: every spelling users and seeds write lands on one
canonical name, with the effective bits the estimator uses."""

from __future__ import annotations

import pytest

from gpuplan.errors import ModelError
from gpuplan.memory.engines import ENGINES, normalize_engine
from gpuplan.models.quant import (
    KV_CACHE_BYTES,
    QUANTS,
    dtype_quant,
    is_gguf_quant,
    normalize_kv_dtype,
    normalize_quant,
    quant_spec,
)
from tests.memory import calibration


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("Q4_K_M", "q4_k_m"),
        ("q4-k-m", "q4_k_m"),
        ("Q4_K - Medium", "q4_k_m"),
        ("MOSTLY_Q5_K_M", "q5_k_m"),
        ("UD-Q4_K_XL", "q4_k_xl"),
        ("q8_0", "q8_0"),
        ("IQ4_XS", "iq4_xs"),
        ("AWQ", "awq"),
        ("awq_marlin", "awq"),
        ("GPTQ-Int4", "gptq"),
        ("gptq_marlin", "gptq"),
        ("FP8", "fp8"),
        ("fp8_e4m3", "fp8"),
        ("W8A8", "int8"),
        ("w4a16", "int4"),
        ("INT8", "int8"),
        ("int4", "int4"),
        ("bnb-4bit", "nf4"),
        ("MXFP4", "mxfp4"),
        ("NVFP4", "nvfp4"),
        ("bfloat16", "bf16"),
        ("BF16", "bf16"),
        ("float16", "fp16"),
        ("FP16", "fp16"),
        ("float32", "fp32"),
    ],
)
def test_spellings(spelling: str, canonical: str) -> None:
    assert normalize_quant(spelling) == canonical


@pytest.mark.parametrize(
    ("name", "bits"),
    [
        ("q4_k_m", 4.85),
        ("q5_k_m", 5.69),
        ("q8_0", 8.5),
        ("q6_k", 6.5625),
        ("q4_0", 4.5),
        ("mxfp4", 4.25),
        ("awq", 4.25),
        ("gptq", 4.25),
        ("nvfp4", 4.5),
        ("bf16", 16),
        ("fp32", 32),
    ],
)
def test_effective_bits(name: str, bits: float) -> None:
    assert quant_spec(name).bits == pytest.approx(bits)


def test_8_bit_formats_cost_8_bits_plus_scales() -> None:
    for name in ("fp8", "int8"):
        assert 8 <= quant_spec(name).bits < 8.1


def test_unquantized_layers_per_convention() -> None:
    # GPU engines keep embeddings and lm_head 16-bit; llama.cpp writes lm_head in Q6_K.
    assert quant_spec("awq").embedding_bits == quant_spec("awq").output_bits == 16
    assert quant_spec("q4_k_m").output_bits == pytest.approx(6.5625)
    assert quant_spec("q4_k_m").embedding_bits == 4.5
    assert quant_spec("mxfp4").experts_only
    assert is_gguf_quant("Q4_K_M") and not is_gguf_quant("awq")


def test_unknown_names_suggest_neighbours() -> None:
    with pytest.raises(ModelError, match="did you mean q4_k_m"):
        normalize_quant("q4_k_mm")
    with pytest.raises(ModelError, match="names a format"):
        normalize_quant("compressed-tensors")


def test_every_quant_is_reachable_by_its_name() -> None:
    for name in QUANTS:
        assert normalize_quant(name.upper()) == name


def test_kv_dtypes() -> None:
    assert normalize_kv_dtype("auto") == "auto"
    assert normalize_kv_dtype("FP8_E5M2") == "fp8"
    assert normalize_kv_dtype("f16") == "fp16"
    assert KV_CACHE_BYTES["q8_0"] == pytest.approx(1.0625)
    with pytest.raises(ModelError, match="unknown KV-cache dtype"):
        normalize_kv_dtype("int3")


def test_dtype_quant() -> None:
    assert dtype_quant("torch.bfloat16") == "bf16"
    assert dtype_quant("float16") == "fp16"
    assert dtype_quant("int8") is None and dtype_quant(None) is None


@pytest.mark.parametrize(
    ("spelling", "engine"),
    [("llama-cpp", "llama.cpp"), ("TRT-LLM", "tensorrt-llm"), ("HF", "transformers"),
     ("SGLang", "sglang"), ("Ollama", "ollama"), ("vLLM", "vllm")],
)  # fmt: skip
def test_engine_spellings(spelling: str, engine: str) -> None:
    assert normalize_engine(spelling) == engine


def test_unknown_engine() -> None:
    with pytest.raises(ModelError, match="known: vllm"):
        normalize_engine("mlc")


def test_engine_profiles_cite_rows_that_are_checked() -> None:
    """Every row an engine profile claims calibration against is used by the tests."""
    for profile in ENGINES.values():
        for row_id in profile.calibrated_rows:
            setup = calibration.SETUPS[row_id]
            assert setup.checks, f"{profile.name} cites {row_id}, which no test uses"
