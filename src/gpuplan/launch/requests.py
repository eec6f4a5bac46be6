"""From a placement to launch requests: devices, co-residents, start order, what to load.

Placement says which devices each service has and its budget; a renderer also
needs what shares those devices with it. For every device this module lists the
services on it in placement order — that is the start order — and gives each one
``reserved_before_mb`` (the budgets of the services started before it there:
SGLang sizes from the memory free when it starts) and ``reserved_total_mb`` (the
budgets of every other service there: vLLM's fraction must leave them room).
Services without an engine (a detector given as ``vram_mb``) get no launch line
but still hold their budget on their device.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gpuplan.errors import GpuplanError
from gpuplan.hardware.model import GPU, Host
from gpuplan.launch.model import GpuSlot, LaunchRequest
from gpuplan.memory.engines import Engine, normalize_engine
from gpuplan.memory.figure import DEFAULT_CONTEXT
from gpuplan.models.registry import ModelEntry, Variant
from gpuplan.placement.model import Assignment, Placement, Service

if TYPE_CHECKING:
    from gpuplan.memory.estimate import Estimate

__all__ = ["ALL_SERVICES", "LAUNCHABLE", "launch_requests", "parse_overrides"]

ALL_SERVICES = "*"
"""Key of ``overrides`` whose flags apply to every service."""

LAUNCHABLE: frozenset[str] = frozenset({"vllm", "sglang", "llama.cpp", "ollama", "tensorrt-llm"})
"""Engines gpuplan writes a server launch line for."""

Device = tuple[int, int | None]  # (GPU index, MIG device index or None)


def _devices(assignment: Assignment) -> list[Device]:
    return [(index, assignment.mig_device) for index in assignment.gpu_indices]


def _slot(host: Host, device: Device, before: int, others: int) -> GpuSlot:
    index, mig = device
    gpu: GPU | None = next((g for g in host.gpus if g.index == index), None)
    if gpu is None:
        raise GpuplanError(
            f"placement names GPU {index}, which this host does not have",
            hint="re-run the plan on this host",
        )
    vendor = gpu.vendor if gpu.vendor in ("nvidia", "amd") else "unknown"
    same_vendor = sorted(g.index for g in host.gpus if g.vendor == gpu.vendor)
    common: dict[str, Any] = {
        "vendor_index": same_vendor.index(gpu.index),
        "bf16": _bf16(gpu),
    }
    if mig is not None:
        slice_ = next((m for m in gpu.mig_devices if m.index == mig), None)
        if slice_ is not None:
            return GpuSlot(
                index=index,
                uuid=slice_.uuid,
                vendor=vendor,
                name=gpu.name,
                total_mb=slice_.vram_total_mb or 0,
                mig_profile=slice_.profile,
                reserved_before_mb=before,
                reserved_total_mb=others,
                **common,
            )
    return GpuSlot(
        index=index,
        uuid=gpu.uuid,
        vendor=vendor,
        name=gpu.name,
        total_mb=gpu.vram_total_mb or 0,
        reserved_before_mb=before,
        reserved_total_mb=others,
        **common,
    )


_AMD_NO_BF16 = ("gfx900", "gfx906", "gfx10")
"""AMD targets without BF16 arithmetic: Vega (gfx900/906) and RDNA1/2 (gfx10xx).
CDNA1 (gfx908, MI100) onward and RDNA3 (gfx11xx) compute in BF16."""


def _bf16(gpu: GPU) -> bool | None:
    """Whether the GPU computes in BF16: CUDA compute capability 8.0+ (Ampere on),
    AMD gfx908+ except RDNA1/2; None when the plan does not say."""
    if gpu.vendor == "nvidia":
        capability = gpu.compute_capability_tuple
        return None if capability is None else capability >= (8, 0)
    if gpu.vendor == "amd" and gpu.architecture and gpu.architecture.startswith("gfx"):
        return not gpu.architecture.startswith(_AMD_NO_BF16)
    return None


def _variant(entry: ModelEntry, quantization: str | None) -> Variant:
    for variant in entry.variants:
        if quantization is None or variant.quantization.lower() == quantization.lower():
            return variant
    return entry.variants[0]


def _source(engine: Engine, entry: ModelEntry | None, variant: Variant | None, model: str) -> str:
    """What the engine loads: a local path as given, else the registry's repo / file / tag."""
    if entry is None or variant is None:
        return model
    repo = variant.repo or getattr(entry, "repo", None)
    if engine == "ollama":
        return _ollama_source(entry, variant, repo, model)
    if engine == "llama.cpp":
        if repo and variant.file:
            return f"{repo}/{variant.file}"
        return f"{repo}:{variant.quantization}" if repo else model
    return repo or model


def _is_ollama_tag(variant: Variant) -> bool:
    return bool(variant.file) and variant.backend == "ollama"


def _ollama_source(entry: ModelEntry, variant: Variant, repo: str | None, model: str) -> str:
    """An Ollama reference ``FROM``/``ollama pull`` accept, never a bare GGUF file name.

    The variant's own library tag (``gemma3:12b``) first, then a library tag of the same
    quantization among the model's variants, then ``hf.co/{repo}:{QUANT}`` — Ollama pulls
    a GGUF repo's file of that quantization from Hugging Face (ollama.com docs, "Use
    Ollama with any GGUF Model on Hugging Face Hub") — else the model as given (a path).
    """
    if _is_ollama_tag(variant):
        return str(variant.file)
    for other in entry.variants:
        if _is_ollama_tag(other) and other.quantization.lower() == variant.quantization.lower():
            return str(other.file)
    if repo and (variant.file or "").lower().endswith(".gguf"):
        return f"hf.co/{repo}:{variant.quantization.upper()}"
    return model


_UNQUANTIZED = frozenset({"bf16", "fp16", "fp32", "fp8"})
"""Variants whose checkpoint keeps the model's released dtype for the non-quantized parts
(an FP8 checkpoint's ``torch_dtype`` is still bfloat16); AWQ/GPTQ/GGUF set their own."""


def _model_dtype(entry: ModelEntry | None, variant: Variant | None) -> str | None:
    if entry is None or variant is None or variant.quantization.lower() not in _UNQUANTIZED:
        return None
    return entry.dtype


def _estimate(
    entry: ModelEntry,
    variant: Variant,
    *,
    context: int,
    concurrency: int,
    tp: int,
    gpu_mb: int | None,
    flash_attention: bool | None = None,
) -> Estimate | None:
    """The estimator's figure per GPU; None when it cannot model the variant."""
    from gpuplan.memory.vram import estimate_variant

    try:
        return estimate_variant(
            entry,
            variant,
            context=context,
            concurrency=concurrency,
            tensor_parallel=tp,
            gpu_memory_mb=gpu_mb,
            flash_attention=flash_attention,
        )
    except GpuplanError:
        return None


def parse_overrides(items: Sequence[str], services: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``--set`` items as overrides: ``KEY=VALUE`` for all, ``SERVICE:KEY=VALUE`` for one.

    ``KEY`` alone or ``=true`` is a bare switch, ``=false`` removes a flag; an
    UPPER_CASE key is an environment variable, ``image`` the container image.
    """
    out: dict[str, dict[str, Any]] = {}
    known = set(services)
    for item in items:
        target, _, rest = item.partition(":") if ":" in item.split("=", 1)[0] else ("", "", item)
        key, eq, raw = rest.partition("=")
        key = key.strip()
        if not key:
            raise GpuplanError(
                f"--set {item!r} names no flag", hint="write --set KEY=VALUE or SERVICE:KEY=VALUE"
            )
        if target and target not in known:
            raise GpuplanError(
                f"--set {item!r}: no service {target!r} in this plan",
                hint="services here: " + (", ".join(sorted(known)) or "none"),
            )
        value: Any = True if not eq or raw.lower() == "true" else raw
        if eq and raw.lower() == "false":
            value = False
        out.setdefault(target or ALL_SERVICES, {})[key] = value
    return out


def _context(entry: ModelEntry | None, context: int) -> int | None:
    """The planned context, capped at the model's own limit; None for non-sequence models."""
    if entry is None:
        return context
    if entry.context_length is None:
        return None if not entry.kv_cache else context
    return min(context, entry.context_length)


def launch_requests(
    placement: Placement,
    services: Sequence[Service],
    host: Host,
    *,
    entries: Sequence[ModelEntry] = (),
    context: int = DEFAULT_CONTEXT,
    concurrency: int = 1,
    engine_settings: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    base_port: int = 8000,
) -> tuple[list[LaunchRequest], list[str]]:
    """One request per placed service that has an engine, and notes for those skipped.

    Each request asks for ``concurrency`` sequences of ``context`` tokens at once (its
    ``max_concurrency``): the renderers cap the engine at that many (vLLM
    ``--max-num-seqs``, SGLang ``--max-running-requests``, llama.cpp ``--parallel``
    with ``--ctx-size`` multiplied, Ollama ``OLLAMA_NUM_PARALLEL``), the same number
    placement costed the service's KV cache for.
    """
    by_name = {service.name: service for service in services}
    by_id = {entry.id: entry for entry in entries}
    per_device: dict[Device, list[tuple[str, int]]] = {}
    for assignment in placement.assignments:
        devices = _devices(assignment)
        share = assignment.vram_budget_mb // max(1, len(devices))
        for device in devices:
            per_device.setdefault(device, []).append((assignment.service, share))

    requests: list[LaunchRequest] = []
    notes: list[str] = []
    for number, assignment in enumerate(placement.assignments):
        service = by_name.get(assignment.service)
        if service is None or (service.engine is None and service.model is None):
            notes.append(f"{assignment.service}: no engine or model, so no launch line")
            continue
        entry = by_id.get(service.model) if service.model else None
        variant = _variant(entry, getattr(service, "quantization", None)) if entry else None
        engine_name = service.engine or (
            entry.backend_for(variant) if entry is not None and variant is not None else None
        )
        if engine_name is None:
            notes.append(f"{assignment.service}: no engine known; set `engine` to launch it")
            continue
        engine = normalize_engine(engine_name)
        if engine not in LAUNCHABLE:
            notes.append(
                f"{assignment.service}: served with {engine}, which has no server of its own; "
                "its container starts it (the Compose override still pins its GPU)"
            )
            continue
        slots = []
        start_order = 0
        for device in _devices(assignment):
            residents = per_device[device]
            position = [name for name, _ in residents].index(assignment.service)
            before = sum(mib for _, mib in residents[:position])
            others = sum(mib for name, mib in residents if name != assignment.service)
            slots.append(_slot(host, device, before, others))
            start_order = max(start_order, position)
        weights = kv = host_ram = shortfall = 0
        if entry is not None and variant is not None:
            largest = max((slot.total_mb for slot in slots), default=None)
            costed = functools.partial(
                _estimate, entry, variant, context=context, concurrency=concurrency,
                tp=max(1, len(slots)), gpu_mb=largest,
            )  # fmt: skip
            figure = costed()
            if figure is not None:
                weights, kv, host_ram = figure.weights_mb, figure.kv_cache_mb, figure.host_mb
            if figure is not None and engine in ("llama.cpp", "ollama") and slots:
                # A profile or --set can turn flash attention off; say what that costs.
                off = costed(flash_attention=False)
                budget = assignment.vram_budget_mb // len(slots)
                if off is not None and off.total_mb > figure.total_mb:
                    shortfall = max(0, off.total_mb - max(budget, figure.total_mb))
        requests.append(
            LaunchRequest(
                service=assignment.service,
                model_id=service.model or assignment.service,
                model_source=_source(engine, entry, variant, service.model or assignment.service),
                engine=engine,
                quantization=variant.quantization if variant else "unknown",
                model_dtype=_model_dtype(entry, variant),
                gpus=tuple(slots),
                vram_budget_mb=assignment.vram_budget_mb,
                weights_mb=weights,
                kv_cache_mb=kv,
                host_ram_mb=host_ram,
                flash_off_shortfall_mb=shortfall,
                context_tokens=_context(entry, context),
                max_concurrency=concurrency,
                port=base_port + number,
                start_order=start_order,
                role=service.role,
                engine_settings=dict(engine_settings or {}),
                overrides={
                    **(overrides or {}).get(ALL_SERVICES, {}),
                    **(overrides or {}).get(assignment.service, {}),
                },
            )
        )
    return requests, notes
