"""A small registry shaped like seed 001's, and the seed's five profiles as policies.

VRAM figures are fixed (``vram_estimate_mb``) so selection is tested on its own,
without the estimator; the figures are the seeds' own where the seeds give one.
"""

from __future__ import annotations

from pathlib import Path

from gpuplan.models.registry import Registry, load_registry
from gpuplan.selection.candidates import Candidate, build_candidates
from gpuplan.selection.policy import SelectionPolicy

SEED_REGISTRY_TOML = """
[[models]]
id = "florence-2-large"
name = "Florence-2 Large"
backend = "ollama"
family = "florence2"
parameters_b = 0.77
kv_cache = false
role_priority = { keywords = 95, caption = 90, object_detection = 95 }
source = "seed 001 example response"
[[models.variants]]
quantization = "Q4_K_M"
vram_estimate_mb = 3500
vram_estimate_source = "seed 001 example response"

[[models]]
id = "qwen3-vl"
name = "Qwen3-VL"
backend = "vllm"
family = "qwen3_vl"
parameters_b = 8.77
context_length = 262144
source = "seed 001 example response"
[models.role_priority]
keywords = 80
caption = 85
description = 95
narration = 95
vision_general = 90
[[models.variants]]
quantization = "FP8"
vram_estimate_mb = 10600
vram_estimate_source = "seed 000: qwen3-vl-8b-instruct FP8 10.6 GB"
[[models.variants]]
quantization = "BF16"
vram_estimate_mb = 17800
vram_estimate_source = "test figure"

[[models]]
id = "qwen25vl"
name = "Qwen2.5-VL"
backend = "vllm"
family = "qwen2_5_vl"
parameters_b = 8.29
role_priority = { keywords = 75, caption = 80, description = 85, narration = 80 }
source = "seed 001 example response"
[[models.variants]]
quantization = "FP8"
vram_estimate_mb = 6400
vram_estimate_source = "seed 001 example response"

[[models]]
id = "narrator-small"
name = "Narrator Small"
backend = "vllm"
family = "test"
parameters_b = 4.0
role_priority = { narration = 95 }
source = "test"
[[models.variants]]
quantization = "FP8"
vram_estimate_mb = 5000
vram_estimate_source = "test figure"

[[models]]
id = "mistral-7b"
name = "Mistral 7B"
backend = "vllm"
family = "mistral"
parameters_b = 7.25
role_priority = { chat = 60 }
source = "test"
[[models.variants]]
quantization = "FP8"
vram_estimate_mb = 8000
vram_estimate_source = "test figure"
[[models.variants]]
quantization = "Q4_K_M"
backend = "llamacpp"
vram_estimate_mb = 5000
vram_estimate_source = "test figure"

[[models]]
id = "siglip-large"
name = "SigLIP Large"
backend = "transformers"
family = "siglip"
parameters_b = 0.65
kv_cache = false
dtype = "fp32"
role_priority = { embedding = 90 }
source = "seed 000"
[[models.variants]]
quantization = "FP32"
vram_estimate_mb = 2600
vram_estimate_source = "seed 000: siglip-large-patch16-384 FP32 2.6 GB"

[[models]]
id = "llama-70b"
name = "Llama 70B"
backend = "vllm"
family = "llama"
parameters_b = 70.6
role_priority = { chat = 95, reasoning = 85 }
source = "test"
[[models.variants]]
quantization = "Q4_K_M"
backend = "llamacpp"
vram_estimate_mb = 42000
vram_estimate_source = "test figure"
[[models.variants]]
quantization = "FP8"
vram_estimate_mb = 72000
vram_estimate_source = "test figure"
"""

SEED_MODEL_IDS = (
    "florence-2-large",
    "qwen3-vl",
    "qwen25vl",
    "narrator-small",
    "mistral-7b",
    "siglip-large",
    "llama-70b",
)

CONSTRAINED_16GB = SelectionPolicy(
    name="constrained_16gb",
    max_vram_mb=14000,
    max_concurrent_models=1,
    preferred_quantizations=("q4_k_m", "fp8", "awq", "q5_k_m", "q8_0"),
    model_selection_bias="vram_efficient",
)
BALANCED_24GB = SelectionPolicy(
    name="balanced_24gb",
    max_vram_mb=22000,
    max_concurrent_models=2,
    preferred_quantizations=("fp8", "awq", "q4_k_m", "q5_k_m"),
    model_selection_bias="balanced",
)
MULTI_GPU_2X16GB = SelectionPolicy(
    name="multi_gpu_2x16gb",
    max_vram_mb=28000,
    max_concurrent_models=3,
    preferred_quantizations=("fp8", "awq", "bf16", "q5_k_m"),
    model_selection_bias="quality",
)
GENEROUS_96GB = SelectionPolicy(
    name="generous_96gb",
    max_vram_mb=90000,
    max_concurrent_models=5,
    preferred_quantizations=("fp8", "awq", "bf16", "fp16"),
    model_selection_bias="quality",
)
DEVELOPMENT = SelectionPolicy(
    name="development",
    max_vram_mb=10000,
    max_concurrent_models=1,
    preferred_quantizations=("q4_k_m", "q5_k_m", "q8_0"),
    model_selection_bias="vram_efficient",
)
SEED_POLICIES = (CONSTRAINED_16GB, BALANCED_24GB, MULTI_GPU_2X16GB, GENEROUS_96GB, DEVELOPMENT)


def write_seed_registry(directory: Path) -> Path:
    path = directory / "seed-models.toml"
    path.write_text(SEED_REGISTRY_TOML, encoding="utf-8")
    return path


def seed_registry(directory: Path) -> Registry:
    return load_registry([write_seed_registry(directory)], packaged=False, user=False, env={})


def seed_candidates(directory: Path) -> tuple[Candidate, ...]:
    return build_candidates(seed_registry(directory))
