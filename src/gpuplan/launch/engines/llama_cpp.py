"""llama.cpp: ``llama-server`` with every layer on the GPU and fixed, estimated sizes.

llama.cpp takes no memory fraction: it allocates the weights it offloads, the KV
cache for ``--ctx-size`` and a compute buffer. So co-residence holds when those are
the sizes the estimate was made for: all layers offloaded (``--n-gpu-layers all``),
``--ctx-size`` = context × ``--parallel`` (each slot gets ctx-size / parallel when
the slot count is explicit, llama.cpp's non-unified KV), and ``--fit off`` so the
server does not re-fit unset values to whatever memory happens to be free. Several
GPUs are split by layer with ``--tensor-split`` in the ratio of the per-GPU budgets
and ``--main-gpu`` 0 (an index among the *visible* devices). ``-fa`` takes a value
(``on|off|auto``) since mid-2025.
"""

from __future__ import annotations

from gpuplan.launch.engines._common import (
    Layered,
    apply_overrides,
    clamp_budget,
    flash_off_warning,
    ignored_profile_keys,
    is_amd,
    is_embedder,
    kv_dtype_for,
    profile_flash_attention,
    profile_key,
    visible_devices_env,
)
from gpuplan.launch.model import LaunchConfig, LaunchRequest

__all__ = ["ENGINE_VERSION", "default_image", "render"]

ENGINE_VERSION = "0c1e57098"


def default_image(*, amd: bool, gpus: bool = True) -> str:
    """llama.cpp's server image for the device: CUDA, ROCm, or the CPU build."""
    tag = ("server-rocm" if amd else "server-cuda") if gpus else "server"
    return f"ghcr.io/ggml-org/llama.cpp:{tag}"


"""llama.cpp commit (vendored by llama-cpp-python 0.3.36) whose common/arg.cpp flags this emits."""

_HANDLED = (
    "device",
    "tensor_parallel_size",
    "enable_flash_attention",
    "attention_impl",
    "quantization_method",
    "quantization_bits",
)


GGML_KV = {
    "fp32": "f32",
    "fp16": "f16",
    "bf16": "bf16",
    "q8_0": "q8_0",
    "q5_1": "q5_1",
    "q5_0": "q5_0",
    "q4_1": "q4_1",
    "q4_0": "q4_0",
    "iq4_nl": "iq4_nl",
}
"""gpuplan KV dtype → llama.cpp's cache types (``kv_cache_types`` in common/arg.cpp)."""

_SHORT = {
    "-m": "--model",
    "-hf": "--hf-repo",
    "-hfr": "--hf-repo",
    "-hff": "--hf-file",
    "-a": "--alias",
    "-ngl": "--n-gpu-layers",
    "--gpu-layers": "--n-gpu-layers",
    "-fit": "--fit",
    "-sm": "--split-mode",
    "-ts": "--tensor-split",
    "-mg": "--main-gpu",
    "-c": "--ctx-size",
    "-np": "--parallel",
    "-fa": "--flash-attn",
    "-ctk": "--cache-type-k",
    "-ctv": "--cache-type-v",
}
"""common/arg.cpp's other names for the flags this emits: ``--set -fa=off`` replaces
``--flash-attn`` instead of adding a second, conflicting flag the checks miss."""

_FALSEY = frozenset({"off", "disabled", "false", "0"})
"""Values llama.cpp's ``is_falsey`` (common/arg.cpp) reads as off."""


def _model_flags(source: str) -> list[tuple[str, str]]:
    """A local GGUF goes to ``--model``; ``user/repo/file.gguf`` to ``--hf-repo`` +
    ``--hf-file``; ``user/repo[:quant]`` to ``--hf-repo`` (llama.cpp downloads it)."""
    if source.startswith(("/", "./", "../", "~")) or source.count("/") == 0:
        return [("--model", source)]
    parts = source.split("/")
    if source.endswith(".gguf") and len(parts) >= 3:
        return [("--hf-repo", "/".join(parts[:2])), ("--hf-file", "/".join(parts[2:]))]
    return [("--hf-repo", source)]


def render(request: LaunchRequest) -> LaunchConfig:
    notes: list[str] = []
    flags = Layered()
    env = Layered()
    devices, device_notes = visible_devices_env(request, amd_variable="ROCR")
    notes += device_notes
    for key, value in devices.items():
        env.set(key, value, "estimate")

    for flag, value in _model_flags(request.model_source):
        flags.set(flag, value, "estimate")
    flags.set("--alias", request.model_id, "estimate")
    flags.set("--host", "0.0.0.0", "estimate")
    flags.set("--port", request.port, "estimate")
    if request.gpus:
        clamp_budget(request, notes, fixed=True)
        flags.set("--n-gpu-layers", "all", "estimate")
        flags.set("--fit", "off", "estimate")
        if len(request.gpus) == 1:
            flags.set("--split-mode", "none", "estimate")
        else:
            flags.set("--split-mode", "layer", "estimate")
            share = max(1, request.vram_budget_mb // len(request.gpus))
            flags.set("--tensor-split", ",".join(str(share) for _ in request.gpus), "estimate")
            notes.append(
                f"--tensor-split: layers split over {len(request.gpus)} GPUs in the ratio of "
                "their budgets (llama.cpp splits by layer; no tensor-parallel head rule)"
            )
        flags.set("--main-gpu", 0, "estimate")
    else:
        flags.set("--n-gpu-layers", 0, "estimate")
    parallel = request.max_concurrency
    if request.context_tokens:
        flags.set("--ctx-size", request.context_tokens * parallel, "estimate")
        if parallel > 1:
            notes.append(
                f"--ctx-size {request.context_tokens * parallel} = {request.context_tokens} "
                f"tokens × {parallel} slots (each slot gets ctx-size / parallel)"
            )
    flags.set("--parallel", parallel, "estimate")
    if is_embedder(request):
        flags.set("--embedding", None, "estimate")
    flags.set("--flash-attn", "auto", "estimate")
    kv = kv_dtype_for(request, GGML_KV, "llama.cpp")
    if kv:
        flags.set("--cache-type-k", kv, "estimate")
        flags.set("--cache-type-v", kv, "estimate")
        if kv not in ("f32", "f16", "bf16"):
            flags.set("--flash-attn", "on", "estimate")
            notes.append(f"--flash-attn on: llama.cpp needs it for a {kv} V cache")

    _profile(request, flags, notes)
    overrides = {_SHORT.get(key, key): value for key, value in request.overrides.items()}
    apply_overrides(flags, env, overrides, style="dash")
    v_cache = flags.entries.get("--cache-type-v")
    fa = flags.entries.get("--flash-attn")
    fa_off = fa is not None and fa.value in _FALSEY
    if v_cache and v_cache.value not in ("f32", "f16", "bf16") and fa and fa_off:
        notes.append(
            f"cannot start: a {v_cache.value} V cache needs Flash Attention, but --flash-attn "
            f"is off (from the {fa.source}); llama.cpp refuses it"
        )
    elif fa and fa_off and fa.source != "estimate":
        notes += flash_off_warning(request, f"--flash-attn {fa.value} (from the {fa.source})")
    notes += flags.notes + env.notes
    notes += ignored_profile_keys(request, _HANDLED, "llama.cpp")
    image = request.overrides.get("image") or default_image(
        amd=is_amd(request), gpus=bool(request.gpus)
    )
    if "image" not in request.overrides:
        tag = default_image(amd=is_amd(request), gpus=bool(request.gpus)).rpartition(":")[2]
        notes.append(
            f"image tag {tag!r} floats; pin the build that matches llama.cpp "
            f"{ENGINE_VERSION} for reproducible flags"
        )
    return LaunchConfig(
        service=request.service,
        engine="llama.cpp",
        engine_version=ENGINE_VERSION,
        argv=("llama-server", *flags.argv()),
        env=env.env(),
        image=str(image),
        port=request.port,
        health_path="/health",
        notes=tuple(notes),
    )


def _profile(request: LaunchRequest, flags: Layered, notes: list[str]) -> None:
    flash = profile_flash_attention(request)
    impl = profile_key(request, "attention_impl")
    if flash is not None:
        flags.set(
            "--flash-attn", "on" if flash else "off", "profile", "engine.enable_flash_attention"
        )
    elif impl in ("sdpa", "eager"):
        notes.append(
            f"profile engine.attention_impl = {impl!r} names a PyTorch attention kernel; "
            "llama.cpp keeps --flash-attn auto (set enable_flash_attention to choose)"
        )
    if profile_key(request, "quantization_method") is not None:
        notes.append(
            "profile engine.quantization_method: llama.cpp serves the GGUF file's own "
            f"quantization ({request.quantization}); not passed"
        )
    tp = profile_key(request, "tensor_parallel_size")
    if tp is not None and request.gpus and tp != len(request.gpus):
        notes.append(
            f"profile engine.tensor_parallel_size = {tp} ignored: the service is placed on "
            f"{len(request.gpus)} GPU(s)"
        )
    if profile_key(request, "device") == "cpu" and request.gpus:
        notes.append("profile engine.device = 'cpu' ignored: the service is placed on a GPU")
