"""vLLM: ``vllm serve`` with the memory fraction that lets co-resident services start.

``--gpu-memory-utilization`` is a fraction of the GPU's *total* memory that this one
process may use (vLLM 0.33 defaults to 0.92); at start-up vLLM refuses to run when less
than that much is free (``request_memory`` in ``vllm/v1/worker/utils.py``: ``ceil(total
× utilization)`` must not exceed the free memory). So the fraction is the service's
budget over the device's total, cut to what the device has left once every other service
placed there holds its own budget — the fractions of co-resident services then add up to
at most 1. Whatever the budget holds beyond weights and activations becomes KV cache, so
``--max-model-len`` and ``--max-num-seqs`` pin the context and concurrency the estimate
was made for.
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

__all__ = ["ENGINE_VERSION", "default_image", "render"]

ENGINE_VERSION = "0.33.0"


def default_image(*, amd: bool, gpus: bool = True) -> str:
    """vLLM's image: the release on NVIDIA; AMD's rocm/vllm, whose tags say ROCm and GPU family."""
    return "rocm/vllm:latest" if amd else f"vllm/vllm-openai:v{ENGINE_VERSION}"


"""vLLM release whose ``EngineArgs.add_cli_args`` + ``make_arg_parser`` flags this emits."""

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

_KV = {"fp16": "float16", "bf16": "bfloat16", "fp8": "fp8", "fp8_e4m3": "fp8_e4m3"}
"""gpuplan KV dtype → vLLM's ``--kv-cache-dtype`` (CacheDType in vllm/config/cache.py)."""

_QUANT = {"awq": "awq", "gptq": "gptq", "fp8": "fp8", "bnb-4bit": "bitsandbytes"}


def render(request: LaunchRequest) -> LaunchConfig:
    notes: list[str] = []
    flags = Layered()
    env = Layered()
    devices, device_notes = visible_devices_env(request, amd_variable="HIP")
    notes += device_notes
    for key, value in devices.items():
        env.set(key, value, "estimate")

    flags.set("--host", "0.0.0.0", "estimate")
    flags.set("--port", request.port, "estimate")
    flags.set("--served-model-name", request.model_id, "estimate")
    tp = max(1, len(request.gpus))
    flags.set("--tensor-parallel-size", tp, "estimate")
    if request.gpus:
        budget = clamp_budget(request, notes)
        total = max(slot.total_mb for slot in request.gpus)  # safe on every rank
        utilization = floor_fraction(budget, total)
        flags.set("--gpu-memory-utilization", f"{utilization:.3f}", "estimate")
        notes.append(
            f"--gpu-memory-utilization {utilization:.3f} = {budget} MiB budget / {total} MiB "
            "total per GPU (a fraction of TOTAL memory; vLLM's default 0.92 would not leave "
            "room for co-resident services)"
        )
    else:
        notes.append("no GPU: needs vLLM's CPU build; GPU memory flags are left out")
    if request.context_tokens:
        flags.set("--max-model-len", request.context_tokens, "estimate")
    flags.set("--max-num-seqs", request.max_concurrency, "estimate")
    kv = kv_dtype_for(request, _KV, "vLLM")
    if kv:
        flags.set("--kv-cache-dtype", kv, "estimate")
    if is_embedder(request):
        flags.set("--runner", "pooling", "estimate")
        notes.append(
            "--runner pooling: an embedding model (role 'embedding') serves /v1/embeddings"
        )

    _profile(request, flags, notes)
    apply_overrides(flags, env, request.overrides, style="dash")
    notes += flags.notes + env.notes
    notes += ignored_profile_keys(request, _HANDLED, "vLLM")
    image = request.overrides.get("image") or default_image(amd=is_amd(request))
    if is_amd(request) and "image" not in request.overrides:
        notes.append(
            "AMD publishes vLLM's ROCm builds as rocm/vllm, tagged by ROCm version, GPU family "
            f"and vLLM version: pin the tag with vLLM {ENGINE_VERSION} (--set image=…)"
        )
    return LaunchConfig(
        service=request.service,
        engine="vllm",
        engine_version=ENGINE_VERSION,
        argv=("vllm", "serve", request.model_source, *flags.argv()),
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
            f"{len(request.gpus)} GPU(s), and vLLM needs one rank per GPU"
        )
    profile_dtype(request, flags, notes)
    method = profile_key(request, "quantization_method")
    if method in _QUANT:
        flags.set("--quantization", _QUANT[method], "profile", "engine.quantization_method")
    elif method is not None:
        notes.append(
            f"profile engine.quantization_method = {method!r}: vLLM has no in-flight "
            "quantization by that name (it loads pre-quantized checkpoints as they are); "
            "not passed"
        )
    if profile_key(request, "enable_flash_attention") or profile_key(request, "attention_impl") in (
        "flash",
    ):
        notes.append(
            "profile asks for Flash Attention: vLLM selects its FlashAttention backend "
            "itself where the GPU supports it"
            + (" (ROCm: its own kernels)" if is_amd(request) else "")
        )
    if profile_key(request, "device") == "cpu" and request.gpus:
        notes.append("profile engine.device = 'cpu' ignored: the service is placed on a GPU")
