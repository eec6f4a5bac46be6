"""SGLang: ``python -m sglang.launch_server`` with a static fraction of *free* memory.

``--mem-fraction-static`` is the share of the memory free when the server starts (before
its weights load) that SGLang takes for weights plus its KV pool; CUDA graphs and
activations come on top (0.5.23's model runner samples that free memory as
``pre_model_load_memory`` and keeps ``free × (1 − fraction)`` as slack). So the fraction
depends on what co-resident services already hold — the start order — and is computed
from ``reserved_before_mb``: static = weights + KV of the estimate, over (device memory
− what earlier services hold). Services on one GPU must then be started in
``start_order``, each after the previous one is healthy.
"""

from __future__ import annotations

from gpuplan.launch.engines._common import (
    Layered,
    apply_overrides,
    clamp_budget,
    floor_fraction,
    ignored_profile_keys,
    is_amd,
    is_embedder,
    kv_dtype_for,
    profile_dtype,
    profile_key,
    visible_devices_env,
)
from gpuplan.launch.model import LaunchConfig, LaunchRequest

__all__ = ["ENGINE_VERSION", "STATIC_SHARE_WITHOUT_ESTIMATE", "default_image", "render"]

ENGINE_VERSION = "0.5.23"


def default_image(*, amd: bool, gpus: bool = True) -> str:
    """SGLang's release image; on AMD its MI300-series ROCm 7 build."""
    suffix = "-rocm700-mi30x" if amd else ""
    return f"lmsysorg/sglang:v{ENGINE_VERSION}{suffix}"


"""SGLang release whose ``ServerArgs.add_cli_args`` flags this emits."""

STATIC_SHARE_WITHOUT_ESTIMATE = 0.85
"""Share of the budget taken as static (weights + KV) when the estimate gives neither."""

_HANDLED = (
    "device",
    "tensor_parallel_size",
    "quantization_method",
    "quantization_bits",
    "enable_mixed_precision",
    "mixed_precision_dtype",
    "enable_flash_attention",
    "attention_impl",
)

_KV = {"bf16": "bf16", "fp8": "fp8_e4m3", "fp8_e4m3": "fp8_e4m3", "fp8_e5m2": "fp8_e5m2"}
"""gpuplan KV dtype → SGLang's ``--kv-cache-dtype`` choices (fields/model.py)."""

_QUANT = {"awq": "awq", "gptq": "gptq", "fp8": "fp8", "bnb-4bit": "bitsandbytes"}


def static_mb(request: LaunchRequest, budget_mb: int) -> int:
    """Weights + KV pool per GPU: what ``--mem-fraction-static`` must cover."""
    known = request.weights_mb + request.kv_cache_mb
    if known > 0:
        return min(known, budget_mb)
    return int(budget_mb * STATIC_SHARE_WITHOUT_ESTIMATE)


def render(request: LaunchRequest) -> LaunchConfig:
    notes: list[str] = []
    flags = Layered()
    env = Layered()
    devices, device_notes = visible_devices_env(request, amd_variable="HIP")
    notes += device_notes
    for key, value in devices.items():
        env.set(key, value, "estimate")

    flags.set("--model-path", request.model_source, "estimate")
    flags.set("--served-model-name", request.model_id, "estimate")
    flags.set("--host", "0.0.0.0", "estimate")
    flags.set("--port", request.port, "estimate")
    flags.set("--tp-size", max(1, len(request.gpus)), "estimate")
    if request.gpus:
        budget = clamp_budget(request, notes)
        static = static_mb(request, budget)
        free = min(slot.total_mb - slot.reserved_before_mb for slot in request.gpus)
        fraction = floor_fraction(static, free)
        flags.set("--mem-fraction-static", f"{fraction:.3f}", "estimate")
        before = max(slot.reserved_before_mb for slot in request.gpus)
        order = (
            f"; start it after the services that hold {before} MiB there (start order "
            f"{request.start_order}): SGLang measures free memory at start-up"
            if before
            else ""
        )
        notes.append(
            f"--mem-fraction-static {fraction:.3f} = {static} MiB weights + KV pool / "
            f"{free} MiB free when it starts{order}"
        )
    else:
        flags.set("--device", "cpu", "estimate")
    if request.context_tokens:
        flags.set("--context-length", request.context_tokens, "estimate")
    flags.set("--max-running-requests", request.max_concurrency, "estimate")
    kv = kv_dtype_for(request, _KV, "SGLang")
    if kv:
        flags.set("--kv-cache-dtype", kv, "estimate")
    if is_embedder(request):
        flags.set("--is-embedding", None, "estimate")

    _profile(request, flags, notes)
    apply_overrides(flags, env, request.overrides, style="dash")
    notes += flags.notes + env.notes
    notes += ignored_profile_keys(request, _HANDLED, "SGLang")
    image = request.overrides.get("image") or default_image(amd=is_amd(request))
    if is_amd(request) and "image" not in request.overrides:
        notes.append(
            "SGLang's ROCm images are tagged per ROCm version and GPU family (…-rocm700-mi30x "
            "for MI300-series): pick the one for your GPU with --set image=…"
        )
    return LaunchConfig(
        service=request.service,
        engine="sglang",
        engine_version=ENGINE_VERSION,
        argv=("python3", "-m", "sglang.launch_server", *flags.argv()),
        env=env.env(),
        image=str(image),
        port=request.port,
        health_path="/health",
        notes=tuple(notes),
    )


def _profile(request: LaunchRequest, flags: Layered, notes: list[str]) -> None:
    tp = profile_key(request, "tensor_parallel_size")
    if tp is not None and request.gpus and tp != len(request.gpus):
        notes.append(
            f"profile engine.tensor_parallel_size = {tp} ignored: the service is placed on "
            f"{len(request.gpus)} GPU(s)"
        )
    profile_dtype(request, flags, notes)
    method = profile_key(request, "quantization_method")
    if method in _QUANT:
        flags.set("--quantization", _QUANT[method], "profile", "engine.quantization_method")
    elif method is not None:
        notes.append(
            f"profile engine.quantization_method = {method!r}: SGLang has no quantization "
            "by that name; not passed"
        )
    if profile_key(request, "enable_flash_attention") or profile_key(request, "attention_impl"):
        notes.append(
            "profile attention settings: SGLang picks its attention backend per GPU "
            "(FlashInfer/FA3 on NVIDIA, aiter/triton on ROCm); not passed"
        )
    if profile_key(request, "device") == "cpu" and request.gpus:
        notes.append("profile engine.device = 'cpu' ignored: the service is placed on a GPU")
