"""How each engine turns its flags into memory — the engines' own rules, re-derived from argv.

Used to check that the flags a renderer emits make co-resident services fit: the
services start in start order on one device, each takes what its flags tell its
engine to take, and nothing may take more than the device has left.
"""

from __future__ import annotations

from gpuplan.launch import LaunchConfig, LaunchRequest


def flag_value(config: LaunchConfig, flag: str) -> str:
    argv = list(config.argv)
    return argv[argv.index(flag) + 1]


def claim_mb(request: LaunchRequest, config: LaunchConfig, free_mb: float) -> float:
    """MiB the engine holds on its (first) device once started with ``free_mb`` free there."""
    slot = request.gpus[0]
    budget = request.vram_budget_mb / len(request.gpus)
    if request.engine == "vllm":
        # gpu_memory_utilization × total: the process's whole share of the device.
        claim = float(flag_value(config, "--gpu-memory-utilization")) * slot.total_mb
        assert claim <= free_mb, "vLLM refuses to start: less free than utilization × total"
        return claim
    if request.engine == "sglang":
        # static pool = fraction × free-at-start; activations/graphs come on top.
        fraction = float(flag_value(config, "--mem-fraction-static"))
        static = fraction * free_mb
        rest = max(0.0, budget - (request.weights_mb + request.kv_cache_mb))
        if request.weights_mb + request.kv_cache_mb == 0:
            rest = budget * 0.15
        return static + rest
    if request.engine == "tensorrt-llm":
        fraction = float(flag_value(config, "--kv_cache_free_gpu_memory_fraction"))
        kv = request.kv_cache_mb
        rest = budget - kv
        return rest + fraction * (free_mb - rest)
    # llama.cpp and Ollama allocate fixed sizes: weights + KV(ctx) + compute buffer,
    # which is the budget the estimate gave.
    return budget


def check_coresidents(pairs: list[tuple[LaunchRequest, LaunchConfig]]) -> float:
    """Start the services in order on their shared device; return the MiB left at the end."""
    total = pairs[0][0].gpus[0].total_mb
    free = float(total)
    for request, config in sorted(pairs, key=lambda pair: pair[0].start_order):
        claim = claim_mb(request, config, free)
        assert claim <= free + 1e-6, f"{request.service} takes {claim:.0f} MiB of {free:.0f} free"
        free -= claim
    return free
