"""Ollama: one ``ollama serve`` per service, its environment and the model's Modelfile.

Ollama runs llama.cpp underneath, so the knobs are llama.cpp's in Ollama's names:
``num_gpu`` is a layer count (999 = every layer, the estimate's full offload),
``num_ctx`` the context per sequence (Ollama multiplies it by
``OLLAMA_NUM_PARALLEL``), ``OLLAMA_KV_CACHE_TYPE`` takes llama.cpp's cache types (a
quantized one needs flash attention, so ``OLLAMA_FLASH_ATTENTION=1`` comes with it;
otherwise Ollama's own ``--flash-attn auto`` decides, as the estimate assumes).
One server per service keeps one model resident (``OLLAMA_MAX_LOADED_MODELS=1``,
``OLLAMA_KEEP_ALIVE=-1``: the placement counted its memory, so it must not be
unloaded and reloaded elsewhere), and
``OLLAMA_GPU_OVERHEAD`` hides what is left beside the budget once co-resident
services hold theirs (Ollama subtracts it from the memory it sees free), so its own
scheduler plans on the budget, not on the spare room.
"""

from __future__ import annotations

import re

from gpuplan.launch.engines._common import (
    Layered,
    apply_overrides,
    clamp_budget,
    flash_off_warning,
    ignored_profile_keys,
    is_amd,
    kv_dtype_for,
    profile_flash_attention,
    profile_key,
    room_mb,
    visible_devices_env,
)
from gpuplan.launch.model import LaunchConfig, LaunchRequest

__all__ = ["ENGINE_VERSION", "default_image", "render"]

ENGINE_VERSION = "0.32.15"


def default_image(*, amd: bool, gpus: bool = True) -> str:
    """Ollama's release image; its ROCm build carries the -rocm tag."""
    return f"ollama/ollama:{ENGINE_VERSION}-rocm" if amd else f"ollama/ollama:{ENGINE_VERSION}"


"""Ollama release whose ``envconfig`` variables and ``api.Options`` parameters this emits."""

_HANDLED = ("device", "tensor_parallel_size", "enable_flash_attention", "attention_impl")

_MIB = 1024 * 1024
_OLLAMA_KV = {"fp16": "f16", "q8_0": "q8_0", "q4_0": "q4_0"}
"""gpuplan KV dtype → ``OLLAMA_KV_CACHE_TYPE``; a quantized cache needs Flash Attention."""

_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False"})
"""What Go's ``strconv.ParseBool`` reads as false (Ollama's envconfig.BoolWithDefault,
after trimming spaces and quotes); anything it cannot parse turns the setting on."""

_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})
"""What ``strconv.ParseBool`` reads as true."""


def _model_name(request: LaunchRequest) -> str:
    """Name the Modelfile is created under: the service name, in Ollama's alphabet."""
    return re.sub(r"[^a-z0-9._-]+", "-", request.service.lower()).strip("-.") or "model"


def _pulled(request: LaunchRequest) -> bool:
    """A library tag (``llama3.1:8b``) or ``hf.co/{repo}:{QUANT}`` is pulled first; a local
    GGUF (a path, or a bare ``*.gguf`` file name beside the Modelfile) is not."""
    source = request.model_source
    return not (source.startswith(("/", "./", "../", "~")) or source.lower().endswith(".gguf"))


def render(request: LaunchRequest) -> LaunchConfig:
    notes: list[str] = []
    env = Layered()
    params = Layered()
    devices, device_notes = visible_devices_env(request, amd_variable="ROCR")
    notes += device_notes
    for key, value in devices.items():
        env.set(key, value, "estimate")

    env.set("OLLAMA_HOST", f"0.0.0.0:{request.port}", "estimate")
    env.set("OLLAMA_MAX_LOADED_MODELS", 1, "estimate")
    env.set("OLLAMA_KEEP_ALIVE", -1, "estimate")
    env.set("OLLAMA_NUM_PARALLEL", request.max_concurrency, "estimate")
    if request.context_tokens:
        env.set("OLLAMA_CONTEXT_LENGTH", request.context_tokens, "estimate")
        params.set("num_ctx", request.context_tokens, "estimate")
    if request.gpus:
        budget = clamp_budget(request, notes, fixed=True)
        overhead_mb = max(0, min(room_mb(slot) for slot in request.gpus) - budget)
        env.set("OLLAMA_GPU_OVERHEAD", overhead_mb * _MIB, "estimate")
        notes.append(
            f"OLLAMA_GPU_OVERHEAD {overhead_mb} MiB (in bytes): what is left on the GPU beside "
            f"this service's {budget} MiB budget once its co-residents run, so Ollama's "
            "scheduler plans on the budget only"
        )
        params.set("num_gpu", 999, "estimate")
        params.set("main_gpu", 0, "estimate")
        if len(request.gpus) > 1:
            env.set("OLLAMA_SCHED_SPREAD", 1, "estimate")
    else:
        params.set("num_gpu", 0, "estimate")

    kv = kv_dtype_for(request, _OLLAMA_KV, "Ollama")
    if kv:
        env.set("OLLAMA_KV_CACHE_TYPE", kv, "estimate")
        if kv != "f16":
            env.set("OLLAMA_FLASH_ATTENTION", 1, "estimate")
    flash = profile_flash_attention(request)
    if flash is not None:
        env.set("OLLAMA_FLASH_ATTENTION", int(flash), "profile", "engine.enable_flash_attention")
    tp = profile_key(request, "tensor_parallel_size")
    if tp is not None and request.gpus and tp != len(request.gpus):
        notes.append(
            f"profile engine.tensor_parallel_size = {tp} ignored: the service is placed on "
            f"{len(request.gpus)} GPU(s)"
        )

    for key, value in request.overrides.items():
        if key == "image":
            continue
        if key.isupper():
            apply_overrides(Layered(), env, {key: value})
        elif value is None or value is False:
            params.drop(key, "override")
        else:
            params.set(key, value, "override")
    cache = env.env().get("OLLAMA_KV_CACHE_TYPE", "f16")
    flash_env = env.env().get("OLLAMA_FLASH_ATTENTION")
    if flash_env is not None and flash_env.strip().strip("\"'") in _FALSE:
        if cache != "f16":
            notes.append(
                f"cannot start: OLLAMA_KV_CACHE_TYPE {cache} needs flash attention (llama.cpp "
                "refuses a quantized V cache without it), but OLLAMA_FLASH_ATTENTION is "
                f"{flash_env}"
            )
        else:
            notes += flash_off_warning(request, f"OLLAMA_FLASH_ATTENTION={flash_env}")
    elif flash_env is not None and flash_env.strip().strip("\"'") not in _TRUE:
        notes.append(
            f"OLLAMA_FLASH_ATTENTION {flash_env!r} is not a Go boolean: Ollama reads a value "
            "it cannot parse as on; write 0 or false to turn flash attention off"
        )
    notes += env.notes + params.notes
    notes += ignored_profile_keys(request, _HANDLED, "Ollama")

    name = _model_name(request)
    modelfile = [f"FROM {request.model_source}"]
    modelfile += [f"PARAMETER {key} {value}" for key, value in params.env().items()]
    if not _pulled(request):
        notes.append(
            f"FROM {request.model_source}: a local GGUF, not pulled; Ollama resolves a relative "
            "path from the Modelfile's folder"
        )
    notes.append(
        f"once the server is up, `ollama create {name} -f` the Modelfile written with this "
        "launch makes the model with these parameters"
        + (f" (after `ollama pull {request.model_source}`)" if _pulled(request) else "")
        + "; clients ask for it by that name"
    )
    image = request.overrides.get("image") or default_image(amd=is_amd(request))
    return LaunchConfig(
        service=request.service,
        engine="ollama",
        engine_version=ENGINE_VERSION,
        argv=("ollama", "serve"),
        env=env.env(),
        image=str(image),
        port=request.port,
        health_path="/api/version",
        notes=tuple(notes),
        files={"Modelfile": "\n".join(modelfile) + "\n"},
        after_start=(
            *((("ollama", "pull", request.model_source),) if _pulled(request) else ()),
            ("ollama", "create", name, "-f", "Modelfile"),
        ),
    )
