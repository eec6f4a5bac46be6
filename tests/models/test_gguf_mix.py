"""llama.cpp's per-tensor quantization mix, replayed, against real published GGUF files.

tests/models/data/published_gguf.json holds real files: the tensor bytes llama.cpp's
loader printed for them (or the Hugging Face file size) and, where the log shows them,
how many tensors of each ggml type the file has. The estimate is what ``estimate`` uses
when no file is at hand (``gpuplan.memory.weights.model_bytes``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuplan.memory.weights import model_bytes
from gpuplan.models.arch import ModelArch
from gpuplan.models.gguf_mix import gguf_tensors, llama_quant_mix, quant_target
from gpuplan.models.hf_config import parse_hf_config
from gpuplan.models.quant import quant_spec
from gpuplan.models.quant_mix import GGML_TYPE_SIZES, QuantState, QuantTarget, tensor_type

DATA = json.loads((Path(__file__).parent / "data" / "published_gguf.json").read_text())
FILES = DATA["files"]
UNITS = {"GiB": 2**30, "GB": 10**9}


def _arch(config: dict[str, Any]) -> ModelArch:
    return parse_hf_config({"torch_dtype": "bfloat16", **config})


def test_the_table_covers_what_the_estimate_must_get_right() -> None:
    sized = [f for f in FILES if "published" in f]
    assert len(sized) >= 8
    assert {f["quant"] for f in sized} >= {"q3_k_m", "q4_k_m", "q5_k_m", "q8_0"}
    families = {f["config"]["model_type"] for f in sized}
    assert {"llama", "qwen2", "qwen3_moe", "gemma2", "gemma3_text"} <= families
    assert all(f["source"].startswith("https://") for f in FILES)


@pytest.mark.parametrize("row", [f for f in FILES if "published" in f], ids=lambda f: f["id"])
def test_estimate_is_within_2_percent_of_the_published_size(row: dict[str, Any]) -> None:
    """Never more than 1 % below (a GB listing also holds the header: a few MB)."""
    published = row["published"]["value"] * UNITS[row["published"]["unit"]]
    estimated = model_bytes(_arch(row["config"]), quant_spec(row["quant"])).total_bytes
    assert published * 0.99 <= estimated <= published * 1.02, (estimated / published - 1) * 100


@pytest.mark.parametrize("row", [f for f in FILES if "tensor_types" in f], ids=lambda f: f["id"])
def test_every_tensor_gets_the_type_llama_cpp_gave_it(row: dict[str, Any]) -> None:
    mix = llama_quant_mix(_arch(row["config"]), row["quant"])
    assert mix is not None
    assert mix.tensors_by_type == row["tensor_types"]


def test_ggml_block_sizes_are_ggmls() -> None:
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    for name, size in GGML_TYPE_SIZES.items():
        assert GGML_QUANT_SIZES[GGMLQuantizationType[name]] == size, name


def _types(arch: ModelArch, quant: str) -> dict[str, str]:
    state = QuantState(quant_target(arch, quant))
    tensors = gguf_tensors(arch)
    state.n_attention_wv = sum(1 for t in tensors if t.name.endswith("attn_v.weight"))
    return {t.name: t.kept or tensor_type(state, t.name, t.ne0, t.experts) for t in tensors}


LLAMA_8B = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "num_hidden_layers": 32,
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
}


def test_q4_k_m_widens_attn_v_and_ffn_down_on_use_more_bits_layers() -> None:
    """First and last eighth and every third layer between: 16 of 32 layers."""
    types = _types(_arch(LLAMA_8B), "q4_k_m")
    wide = [i for i in range(32) if types[f"blk.{i}.ffn_down.weight"] == "Q6_K"]
    assert wide == [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]
    assert [i for i in range(32) if types[f"blk.{i}.attn_v.weight"] == "Q6_K"] == wide
    assert types["output.weight"] == "Q6_K" and types["token_embd.weight"] == "Q4_K"


def test_the_70b_class_widens_attn_v_and_eight_experts_put_attention_in_q8_0() -> None:
    llama70 = _arch({**LLAMA_8B, "num_hidden_layers": 80, "hidden_size": 8192})
    assert quant_target(llama70, "q4_k_m").size_70b
    assert _types(llama70, "q4_k_m")["blk.11.attn_v.weight"] == "Q5_K"  # Q4_K bumped
    mixtral = _arch({**LLAMA_8B, "model_type": "mixtral", "num_local_experts": 8})
    types = _types(mixtral, "q4_k_m")
    assert types["blk.4.attn_v.weight"] == types["blk.4.attn_k.weight"] == "Q8_0"
    assert types["blk.4.attn_output.weight"] == "Q5_K"
    assert types["blk.6.ffn_down_exps.weight"] == "Q6_K"  # layer from the name
    assert types["blk.4.ffn_down_exps.weight"] == "Q4_K"


def test_falcon_and_fused_qkv_follow_their_own_rules() -> None:
    falcon = _arch(
        {**LLAMA_8B, "architectures": ["FalconForCausalLM"], "model_type": "falcon",
         "intermediate_size": 4 * 4096, "num_key_value_heads": 1}
    )  # fmt: skip
    types = _types(falcon, "q4_k_m")
    assert types["output.weight"] == "Q8_0"
    assert types["blk.0.ffn_down.weight"] == "Q6_K"  # first sixteenth
    assert types["blk.6.ffn_down.weight"] == "Q5_K"  # use_more_bits
    assert types["blk.7.ffn_down.weight"] == "Q4_K"
    assert types["blk.7.attn_qkv.weight"] == "Q5_K"
    assert _types(falcon, "q5_k_m")["blk.7.attn_qkv.weight"] == "Q6_K"


def test_rows_not_dividing_into_blocks_fall_back() -> None:
    state = QuantState(QuantTarget(ftype="q4_k_m", n_layer=8))
    assert tensor_type(state, "blk.0.attn_q.weight", 896) == "Q5_0"
    assert tensor_type(state, "blk.0.ffn_down.weight", 29568) == "Q8_0"
    assert tensor_type(state, "blk.0.attn_k.weight", 100) == "F16"
    state = QuantState(QuantTarget(ftype="q2_k", n_layer=8))
    assert tensor_type(state, "blk.0.ffn_up.weight", 896) == "IQ4_NL"
    assert len(state.fallbacks) == 1


def test_the_estimate_says_which_mix_it_replayed() -> None:
    qwen = next(f for f in FILES if f["id"] == "qwen25-72b-q4km")
    notes = model_bytes(_arch(qwen["config"]), quant_spec("q4_k_m")).notes
    assert any("llama_tensor_get_type" in n and "40 × Q8_0" in n for n in notes)
    assert any("80 tensors have rows not divisible by 256" in n for n in notes)


LADDER = ("q2_k", "q3_k_m", "q4_k_m", "q5_k_m", "q6_k", "q8_0")


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.sampled_from([1, 2, 4, 8, 14, 16, 32, 40, 64]))
    kv = draw(st.sampled_from([d for d in (1, 2, 4, 8, 16, 32, 64) if heads % d == 0]))
    config: dict[str, Any] = {
        "architectures": ["X"],
        "model_type": draw(st.sampled_from(["llama", "qwen2", "falcon", "phi3", "gemma2"])),
        "num_hidden_layers": draw(st.integers(1, 96)),
        "hidden_size": draw(st.integers(4, 512)) * draw(st.sampled_from([1, 8, 32, 64])),
        "intermediate_size": draw(st.integers(1, 4096)) * draw(st.sampled_from([1, 32, 128])),
        "num_attention_heads": heads,
        "num_key_value_heads": kv,
        "head_dim": draw(st.sampled_from([32, 64, 80, 96, 128, 256])),
        "vocab_size": draw(st.integers(256, 262144)),
        "tie_word_embeddings": draw(st.booleans()),
    }
    if draw(st.booleans()):
        config["model_type"] = "qwen3_moe"
        config["num_experts"] = draw(st.sampled_from([4, 8, 16, 64, 128]))
        config["num_experts_per_tok"] = 2
        config["moe_intermediate_size"] = draw(st.integers(1, 64)) * 32
    return config


@settings(max_examples=60, deadline=None)
@given(configs())
def test_more_bits_never_yields_fewer_bytes(config: dict[str, Any]) -> None:
    arch = _arch(config)
    sizes = [model_bytes(arch, quant_spec(q)).total_bytes for q in LADDER]
    assert sizes == sorted(sizes), dict(zip(LADDER, sizes, strict=True))


def test_a_cpu_host_budgets_the_weights_llama_cpp_keeps_in_host_ram() -> None:
    """On a GPU host llama.cpp's token embeddings sit in host RAM, outside the VRAM
    figure; with no GPU everything is RAM, so the RAM figure must hold them too."""
    from gpuplan.memory.vram import variant_vram
    from gpuplan.models.registry import load_registry

    entry = load_registry().get("qwen3-14b")
    variant = entry.variant("q4_k_m")
    gpu = variant_vram(entry, variant, 4096)
    ram = variant_vram(entry, variant, 4096, host_ram=True)
    embedding_mib = 151936 * 5120 * 144 / 256 / 2**20  # token_embd in Q4_K
    assert ram.vram_mb - gpu.vram_mb == pytest.approx(embedding_mib, abs=1)
    assert "share the RAM budget" in ram.assumptions[-1]
