"""Launch requests for the golden cases: one GPU, two co-residents, TP over two, MIG, AMD.

Figures are realistic: totals are what nvidia-smi / amd-smi report for the card
(MiB), budgets leave the headroom placement leaves, weights and KV are the
estimator's order of magnitude for the model named.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from gpuplan.launch import GpuSlot, LaunchRequest

ENGINES = ("vllm", "sglang", "llama.cpp", "ollama", "tensorrt-llm")
CASES = ("one_gpu", "coresident", "tp2", "mig", "amd")
DATA = Path(__file__).parent / "data"

_SOURCES = {
    # engine → (8B model, 70B model)
    "vllm": (
        "meta-llama/Llama-3.1-8B-Instruct",
        "hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4",
    ),
    "sglang": (
        "meta-llama/Llama-3.1-8B-Instruct",
        "hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4",
    ),
    "tensorrt-llm": (
        "meta-llama/Llama-3.1-8B-Instruct",
        "hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4",
    ),
    "llama.cpp": (
        "/models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf",
        "/models/Meta-Llama-3.1-70B-Instruct-Q4_K_M.gguf",
    ),
    "ollama": ("llama3.1:8b-instruct-q4_K_M", "llama3.1:70b-instruct-q4_K_M"),
}
_GGUF = {"llama.cpp", "ollama"}

RTX_4090 = {"name": "NVIDIA GeForce RTX 4090", "total_mb": 24564}
A5500 = {"name": "NVIDIA RTX A5500", "total_mb": 24564}
A100_MIG = {"name": "NVIDIA A100-SXM4-80GB", "total_mb": 40192, "mig_profile": "3g.40gb"}
MI300X = {"name": "AMD Instinct MI300X", "total_mb": 196592, "vendor": "amd"}


def _small(engine: str) -> dict[str, Any]:
    gguf = engine in _GGUF
    return {
        "model_id": "llama-3.1-8b-instruct",
        "model_source": _SOURCES[engine][0],
        "engine": engine,
        "quantization": "Q4_K_M" if gguf else "bf16",
        "weights_mb": 4700 if gguf else 15320,
        "kv_cache_mb": 4096,
        "context_tokens": 8192,
        "max_concurrency": 4,
    }


def requests_for(engine: str, case: str) -> list[LaunchRequest]:
    """The service(s) of one golden case; co-residents come in start order."""
    small = _small(engine)
    gguf = engine in _GGUF
    if case == "one_gpu":
        gpu = GpuSlot(index=0, uuid="GPU-6c2e1b7a-2f0d-4c55-9d1e-0b5e4a7f3c11", **RTX_4090)
        return [LaunchRequest(service="chat", gpus=(gpu,), vram_budget_mb=22000, **small)]
    if case == "coresident":
        # 22000 MiB of the A5500's 24564 between two services (2 GiB headroom, seed 000)
        uuid = "GPU-0b7e5d3c-8a41-4f2e-a9c6-1d2e3f4a5b6c"
        if gguf:
            budgets = (13500, 8500)
            llm = small
            helper = {
                **small,
                "model_id": "qwen2.5-3b-instruct",
                "model_source": "/models/Qwen2.5-3B-Instruct-Q8_0.gguf"
                if engine == "llama.cpp"
                else "qwen2.5:3b-instruct-q8_0",
                "quantization": "Q8_0",
                "weights_mb": 3300,
                "kv_cache_mb": 2304,
                "context_tokens": 32768,
                "max_concurrency": 2,
            }
        else:
            budgets = (17500, 4500)
            llm = {**small, "kv_cache_mb": 1024, "max_concurrency": 1}
            helper = {
                **small,
                "model_id": "qwen2.5-1.5b-instruct",
                "model_source": "Qwen/Qwen2.5-1.5B-Instruct",
                "weights_mb": 2950,
                "kv_cache_mb": 448,
                "context_tokens": 16384,
                "max_concurrency": 2,
            }
        first = GpuSlot(index=0, uuid=uuid, reserved_total_mb=budgets[1], **A5500)
        second = GpuSlot(
            index=0, uuid=uuid, reserved_before_mb=budgets[0], reserved_total_mb=budgets[0], **A5500
        )
        return [
            LaunchRequest(
                service="ai-llm", gpus=(first,), vram_budget_mb=budgets[0], port=8000, **llm
            ),
            LaunchRequest(
                service="ai-helper",
                gpus=(second,),
                vram_budget_mb=budgets[1],
                port=8001,
                start_order=1,
                **helper,
            ),
        ]
    if case == "tp2":
        gpus = (
            GpuSlot(index=0, uuid="GPU-11111111-2222-3333-4444-555555555555", **RTX_4090),
            GpuSlot(index=1, uuid="GPU-66666666-7777-8888-9999-000000000000", **RTX_4090),
        )
        big = {
            **small,
            "model_id": "llama-3.1-70b-instruct",
            "model_source": _SOURCES[engine][1],
            "quantization": "Q4_K_M" if gguf else "awq",
            "weights_mb": 20300 if gguf else 18700,
            "kv_cache_mb": 1280,
            "context_tokens": 8192,
            "max_concurrency": 1,
        }
        return [LaunchRequest(service="chat-70b", gpus=gpus, vram_budget_mb=44000, **big)]
    if case == "mig":
        gpu = GpuSlot(index=0, uuid="MIG-4f5e6d7c-8b9a-5c0d-9e1f-2a3b4c5d6e7f", **A100_MIG)
        return [LaunchRequest(service="chat", gpus=(gpu,), vram_budget_mb=36000, **small)]
    if case == "amd":
        gpu = GpuSlot(index=3, uuid="GPU-5f3c2a1b0e9d8c7b", **MI300X)
        big = {
            **small,
            "model_id": "llama-3.1-70b-instruct",
            "model_source": _SOURCES[engine][1]
            .replace("-AWQ-INT4", "")
            .replace("hugging-quants", "meta-llama")
            if not gguf
            else _SOURCES[engine][1],
            "quantization": "Q4_K_M" if gguf else "bf16",
            "weights_mb": 40500 if gguf else 134600,
            "kv_cache_mb": 20480,
            "context_tokens": 32768,
            "max_concurrency": 8,
            "engine_settings": {"mixed_precision_dtype": "bf16", "enable_flash_attention": True},
        }
        return [LaunchRequest(service="chat-70b", gpus=(gpu,), vram_budget_mb=180000, **big)]
    raise AssertionError(case)


@cache
def flag_set(engine: str) -> dict[str, Any]:
    """The engine's flag set at the version its renderer targets (extracted test data)."""
    from gpuplan.launch import ENGINE_VERSIONS

    path = DATA / "flags" / f"{engine}-{ENGINE_VERSIONS[engine]}.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data
