"""Vision towers counted from real config.json contents, against published totals.

Every config below is the model's own config.json (keys that do not affect memory
trimmed), with its source above it; the published totals are the safetensors
parameter counts on the model pages unless said otherwise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save_file

from gpuplan.memory.estimate import estimate
from gpuplan.models.files.safetensors_header import safetensors_weights
from gpuplan.models.hf_config import parse_hf_config
from tests.models.test_arch import DEEPSEEK_V3, GEMMA3_27B, LLAMA4_SCOUT, MLLAMA_11B, QWEN25_VL_7B

# google/gemma-3-4b-it and google/gemma-3-12b-it config.json: the same SigLIP tower
# as the 27B (vision_config identical), text_config as recorded in
# tests/memory/data/measured_extra.json (provenance there). Published: 4.30 B and
# 12.19 B (model pages, safetensors).
GEMMA3_4B: dict[str, Any] = {
    **GEMMA3_27B,
    "text_config": {
        "head_dim": 256, "hidden_size": 2560, "intermediate_size": 10240,
        "model_type": "gemma3_text", "num_attention_heads": 8, "num_hidden_layers": 34,
        "num_key_value_heads": 4, "sliding_window": 1024,
    },
}  # fmt: skip
GEMMA3_12B: dict[str, Any] = {
    **GEMMA3_27B,
    "text_config": {
        "head_dim": 256, "hidden_size": 3840, "intermediate_size": 15360,
        "model_type": "gemma3_text", "num_attention_heads": 16, "num_hidden_layers": 48,
        "num_key_value_heads": 8, "sliding_window": 1024,
    },
}  # fmt: skip

# meta-llama/Llama-4-Maverick-17B-128E-Instruct config.json, as NVIDIA/TensorRT-LLM's
# Llama 4 min-latency test copies it (LLAMA_4_MAVERICK_TWO_LAYER_CONFIG, "Llama4
# Maverick config but with only 2 layers"; vision num_hidden_layers set to 0 there),
# with the released 48 text and 34 vision layers. Published: "17B active, 400B total"
# (Meta's model card).
LLAMA4_MAVERICK: dict[str, Any] = {
    "architectures": ["Llama4ForConditionalGeneration"],
    "model_type": "llama4",
    "text_config": {
        "attention_chunk_size": 8192, "head_dim": 128, "hidden_act": "silu",
        "hidden_size": 5120, "interleave_moe_layer_step": 2, "intermediate_size": 8192,
        "intermediate_size_mlp": 16384, "max_position_embeddings": 1048576,
        "model_type": "llama4_text", "num_attention_heads": 40, "num_experts_per_tok": 1,
        "num_hidden_layers": 48, "num_key_value_heads": 8, "num_local_experts": 128,
        "torch_dtype": "bfloat16", "vocab_size": 202048,
    },
    "torch_dtype": "bfloat16",
    "vision_config": {
        "hidden_act": "gelu", "hidden_size": 1408, "image_size": 336,
        "intermediate_size": 5632, "model_type": "llama4_vision_model",
        "multi_modal_projector_bias": False, "num_attention_heads": 16, "num_channels": 3,
        "num_hidden_layers": 34, "patch_size": 14, "pixel_shuffle_ratio": 0.5,
        "projector_input_dim": 4096, "projector_output_dim": 4096, "vision_output_dim": 4096,
    },
}  # fmt: skip

# google/siglip-so400m-patch14-384 config.json (SiglipModel: text + vision towers; the
# text_config leaves vocab_size 32000 and max_position_embeddings 64 to
# SiglipTextConfig's defaults). Published: 878 M (model page; registry notes).
SIGLIP_SO400M: dict[str, Any] = {
    "architectures": ["SiglipModel"],
    "model_type": "siglip",
    "text_config": {
        "hidden_size": 1152, "intermediate_size": 4304, "model_type": "siglip_text_model",
        "num_attention_heads": 16, "num_hidden_layers": 27,
    },
    "torch_dtype": "float32",
    "vision_config": {
        "hidden_size": 1152, "image_size": 384, "intermediate_size": 4304,
        "model_type": "siglip_vision_model", "num_attention_heads": 16,
        "num_hidden_layers": 27, "patch_size": 14,
    },
}  # fmt: skip


@pytest.mark.parametrize(
    ("config", "published_b"),
    [
        pytest.param(QWEN25_VL_7B, 8.29, id="qwen2.5-vl-7b"),
        pytest.param(GEMMA3_4B, 4.30, id="gemma3-4b"),
        pytest.param(GEMMA3_12B, 12.19, id="gemma3-12b"),
        pytest.param(GEMMA3_27B, 27.43, id="gemma3-27b"),
        pytest.param(LLAMA4_SCOUT, 109.0, id="llama4-scout"),
        pytest.param(LLAMA4_MAVERICK, 400.0, id="llama4-maverick"),
        pytest.param(SIGLIP_SO400M, 0.878, id="siglip-so400m"),
        pytest.param(MLLAMA_11B, 10.67, id="llama-3.2-11b-vision"),
    ],
)
def test_multimodal_totals_within_half_a_percent(
    config: dict[str, Any], published_b: float
) -> None:
    arch = parse_hf_config(config)
    assert arch.vision is not None
    assert arch.counted_parameters / 1e9 == pytest.approx(published_b, rel=0.005)


def test_llama4_scout_matches_vllm_weights_at_tp4() -> None:
    """llm-d-planner's vLLM v0.19.0 log (row068): 'Model loading took 53.12 GiB' per GPU
    at TP4, of which 2.5 GiB is the rotary table: (53.12 - 2.5) × 4 GiB / 2 bytes =
    108.70 B parameters if all are sharded; the tower-by-tower count is 108.64 B."""
    arch = parse_hf_config(LLAMA4_SCOUT)
    assert arch.counted_parameters == pytest.approx((53.12 - 2.5) * 4 * 2**30 / 2, rel=0.001)
    est = estimate(arch, engine="vllm", context=8192, tensor_parallel=4)
    # vLLM 0.19 split the tower here; the estimate keeps it whole on every GPU (see
    # test_towers_stay_whole_on_every_gpu_as_measured), so it is high by the tower's share
    assert 53.12 * 1024 <= est.weights_mb <= 53.12 * 1024 * 1.03


def test_llama4_maverick_interleaves_moe_and_dense_layers() -> None:
    arch = parse_hf_config(LLAMA4_MAVERICK)
    assert arch.moe is not None and arch.moe.moe_layers == 24 and arch.dense_layers == 24
    assert arch.intermediate_size == 16384  # intermediate_size_mlp on the dense layers
    assert arch.moe.expert_intermediate_size == 8192 and arch.moe.num_shared_experts == 1


def test_towers_stay_whole_on_every_gpu_as_measured() -> None:
    """vLLM's source splits known towers, but the measured Qwen2.5-VL-7B TP2 run (calibration
    row extra025) holds the whole tower per GPU: every engine is charged the whole tower."""
    qwen = parse_hf_config(QWEN25_VL_7B)
    assert qwen.vision is not None
    share = qwen.vision.tp_sharded_parameters / qwen.vision.parameters
    assert 0.99 < share < 1  # what a split would leave whole: patch embedding and norms
    whole = estimate(qwen, engine="vllm", context=4096, tensor_parallel=1).weights_mb
    split = estimate(qwen, engine="vllm", context=4096, tensor_parallel=2).weights_mb
    tower_mb = qwen.vision.parameters * 2 / 2**20
    assert split == pytest.approx((whole - tower_mb) / 2 + tower_mb, rel=0.01)
    sglang = estimate(qwen, engine="sglang", context=4096, tensor_parallel=2).weights_mb
    assert sglang == pytest.approx(split, rel=0.01)
    generic = {**QWEN25_VL_7B, "vision_config": {**QWEN25_VL_7B["vision_config"]}}
    generic["model_type"] = "some_new_vl"
    generic["vision_config"]["model_type"] = "some_new_vision"
    unknown = parse_hf_config(generic)
    assert unknown.vision is not None and unknown.vision.tp_sharded_parameters == 0


def test_mla_down_projections_stay_whole_at_tp16() -> None:
    """vLLM's deepseek_v2.py: q_a_proj / kv_a_proj_with_mqa are ReplicatedLinear (fused
    as fused_qkv_a_proj), the gate a GateLinear; 61 × 7168 × (1536 + 512 + 64) FP8 bytes
    = 0.92 GB on every GPU instead of 1/16 of it."""
    arch = parse_hf_config(DEEPSEEK_V3)
    est = estimate(arch, engine="vllm", context=4096, tensor_parallel=16)
    mla = 61 * 7168 * (1536 + 512 + 64)
    router = 58 * 7168 * 256 * 4
    norms = (61 * (2 * 7168 + 1536 + 512) + 7168) * 4
    rope = 163840 * 64 * 2  # the rotary table is on every GPU too
    full = estimate(arch, engine="vllm", context=4096, tensor_parallel=1).weights_mb * 2**20
    naive = full / 16
    assert est.weights_mb * 2**20 - naive == pytest.approx(
        (mla + router + norms + rope) * 15 / 16, rel=0.005
    )
    assert any("MLA down-projections" in a for a in est.assumptions)


def test_safetensors_replicated_tensors_by_name(tmp_path: Any) -> None:
    tensors = {
        "model.layers.0.self_attn.q_a_proj.weight": np.zeros((8, 16), np.float16),
        "model.layers.0.self_attn.kv_a_proj_with_mqa.weight": np.zeros((4, 16), np.float16),
        "model.layers.0.input_layernorm.weight": np.zeros(16, np.float16),
        "model.layers.0.mlp.gate.weight": np.zeros((4, 16), np.float16),
        "model.layers.0.mlp.gate_proj.weight": np.zeros((32, 16), np.float16),
        "model.layers.0.self_attn.q_b_proj.weight": np.zeros((32, 8), np.float16),
    }
    save_file(tensors, str(tmp_path / "model.safetensors"))
    weights = safetensors_weights([tmp_path / "model.safetensors"], None)
    assert weights.replicated_bytes == (8 * 16 + 4 * 16 + 16 + 4 * 16) * 2


def test_mllama_cross_attention_layers_cache_image_tokens() -> None:
    arch = parse_hf_config(MLLAMA_11B)
    assert (arch.attention_layers, arch.cross_attention_layers) == (32, 8)
    assert arch.cross_attention_tokens == 4 * 1601
    per_layer_token = 2 * 8 * 128 * 2
    encoder = math.ceil(6404 / 16) * 16
    vllm = estimate(arch, engine="vllm", context=8192).kv_cache_mb
    # vLLM: every one of the 40 layers for the text and for the encoder tokens
    assert vllm == math.ceil(per_layer_token * 40 * (8192 + encoder) / 2**20)
    hf = estimate(arch, engine="transformers", context=8192).kv_cache_mb
    # transformers: 32 self-attention layers × text + 8 cross layers × encoder tokens
    assert hf == math.ceil(per_layer_token * (32 * 8192 + 8 * 6404) / 2**20)


@pytest.mark.parametrize(
    ("model_id", "published_b"),
    [("qwen3-vl-8b", 8.77), ("qwen2.5-vl-3b", 3.75), ("gemma-3-4b", 4.30)],
)
def test_registry_vision_configs(model_id: str, published_b: float) -> None:
    """The registry's hf_config blocks (each cites the model's config.json): Qwen3-VL-8B's
    deepstack tower (27 blocks, 3 extra mergers, 2304 learned positions) included."""
    import tomllib
    from pathlib import Path

    import gpuplan.models

    data = Path(gpuplan.models.__file__).parent / "data" / "registry.toml"
    entries = tomllib.loads(data.read_text(encoding="utf-8"))["models"]
    entry = next(e for e in entries if e["id"] == model_id)
    arch = parse_hf_config(entry["hf_config"])
    assert arch.vision is not None and arch.vision.tp_sharded_parameters > 0
    assert arch.counted_parameters / 1e9 == pytest.approx(published_b, rel=0.005)
