"""TensorRT-LLM: ``trtllm-serve serve`` with a KV fraction of what is free after the weights.

``--kv_cache_free_gpu_memory_fraction`` (alias of ``--free_gpu_memory_fraction``,
default 0.9) is the share of the memory still free *after* the weights and runtime
buffers are in place that the KV cache takes. With a co-resident service that 0.9
would swallow its memory, so the fraction is the estimate's KV over what is free at
that point: device memory − what earlier services hold − this service's weights
and activations. NVIDIA only (CUDA); MIG slices work as devices.
"""

from __future__ import annotations

from gpuplan.errors import LaunchError
from gpuplan.launch.engines._common import (
    MAX_SHARE,
    Layered,
    apply_overrides,
    clamp_budget,
    floor_fraction,
    ignored_profile_keys,
    is_amd,
    profile_key,
    visible_devices_env,
)
from gpuplan.launch.model import LaunchConfig, LaunchRequest

__all__ = ["ENGINE_VERSION", "default_image", "kv_and_rest_mb", "render"]

ENGINE_VERSION = "00209af1"


def default_image(*, amd: bool, gpus: bool = True) -> str | None:
    """None: the NGC release image matching this commit is not known (and no ROCm build)."""
    return None


"""TensorRT-LLM commit whose ``trtllm-serve serve`` click options this emits (the release
it belongs to is not known here; see tests/launch/data/flags/tensorrt-llm-00209af1.json)."""

_HANDLED = ("device", "tensor_parallel_size", "enable_flash_attention", "attention_impl")


def kv_and_rest_mb(request: LaunchRequest, budget_mb: int) -> tuple[int, int]:
    """(KV cache, everything else) per GPU within ``budget_mb``, from the estimate."""
    if request.kv_cache_mb > 0:
        kv = min(request.kv_cache_mb, budget_mb)
    elif request.weights_mb > 0:
        kv = max(0, budget_mb - request.weights_mb) // 2
    else:
        kv = budget_mb // 2
    return kv, budget_mb - kv


def render(request: LaunchRequest) -> LaunchConfig:
    if not request.gpus:
        raise LaunchError(
            f"service {request.service!r}: TensorRT-LLM needs an NVIDIA GPU",
            hint="place it on a GPU or serve it with llama.cpp or Ollama on CPU",
        )
    if is_amd(request):
        names = ", ".join(slot.name or f"GPU {slot.index}" for slot in request.gpus)
        raise LaunchError(
            f"service {request.service!r}: TensorRT-LLM runs on NVIDIA GPUs only, not {names}",
            hint="serve it with vllm, sglang, llama.cpp or ollama (set `engine`)",
        )
    notes: list[str] = []
    flags = Layered()
    env = Layered()
    devices, device_notes = visible_devices_env(request)
    notes += device_notes
    for key, value in devices.items():
        env.set(key, value, "estimate")

    flags.set("--host", "0.0.0.0", "estimate")
    flags.set("--port", request.port, "estimate")
    flags.set("--backend", "pytorch", "estimate")
    flags.set("--tp_size", len(request.gpus), "estimate")
    budget = clamp_budget(request, notes)
    kv, rest = kv_and_rest_mb(request, budget)
    free_after = min(slot.total_mb - slot.reserved_before_mb for slot in request.gpus) - rest
    fraction = min(floor_fraction(kv, free_after), MAX_SHARE)
    flags.set("--kv_cache_free_gpu_memory_fraction", f"{fraction:.3f}", "estimate")
    notes.append(
        f"--kv_cache_free_gpu_memory_fraction {fraction:.3f} = {kv} MiB KV cache / "
        f"{free_after} MiB free after weights and buffers (default 0.9 would take the "
        "memory of services that start later)"
    )
    if request.weights_mb == 0 and request.kv_cache_mb == 0:
        notes.append("no weights/KV estimate: half the budget is taken as KV cache")
    if request.context_tokens:
        flags.set("--max_seq_len", request.context_tokens, "estimate")
    flags.set("--max_batch_size", request.max_concurrency, "estimate")

    if request.kv_cache_dtype not in (None, "auto"):
        notes.append(
            f"KV-cache dtype {request.kv_cache_dtype}: trtllm-serve has no flag for it; set "
            "kv_cache_config.dtype in an --extra_llm_api_options YAML"
        )
    tp = profile_key(request, "tensor_parallel_size")
    if tp is not None and tp != len(request.gpus):
        notes.append(
            f"profile engine.tensor_parallel_size = {tp} ignored: the service is placed on "
            f"{len(request.gpus)} GPU(s)"
        )
    for key in ("enable_mixed_precision", "mixed_precision_dtype", "quantization_method"):
        if profile_key(request, key) is not None:
            notes.append(
                f"profile engine.{key}: trtllm-serve takes dtype and quantization from the "
                "checkpoint (or an --extra_llm_api_options YAML); not passed"
            )
    handled = [*_HANDLED, "enable_mixed_precision", "mixed_precision_dtype"]
    handled += ["quantization_bits", "quantization_method"]
    apply_overrides(flags, env, request.overrides, style="underscore")
    notes += flags.notes + env.notes
    notes += ignored_profile_keys(request, handled, "TensorRT-LLM")
    image = request.overrides.get("image")
    if image is None:
        notes.append(
            "no image: the NGC release image matching this commit is not known; "
            "pass one with the `image` override"
        )
    return LaunchConfig(
        service=request.service,
        engine="tensorrt-llm",
        engine_version=ENGINE_VERSION,
        argv=("trtllm-serve", "serve", request.model_source, *flags.argv()),
        env=env.env(),
        image=None if image is None else str(image),
        port=request.port,
        health_path="/health",
        notes=tuple(notes),
    )
