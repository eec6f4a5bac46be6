"""The planning facade's launch step: one ``LaunchRequest`` per placed service.

Placement says where each service runs and with what budget; a launch renderer
(``gpuplan.launch.render``) says how its engine is started there. Between the
two, this module looks up what a renderer must not have to: the registry
variant and what the engine loads (``model_source``), the estimator's weights
and KV cache per GPU at the planning context, each device's memory and MIG
slice, and what co-resident services hold on it (``reserved_before_mb`` for
those started earlier — SGLang sizes itself from free memory — and
``reserved_total_mb`` for all of them), a start order and a port.

A service without one model (a zoo, an explicit ``vram_mb`` with no ``model``)
or not on a GPU gets no request: there is no engine line to write for it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from gpuplan.errors import GpuplanError
from gpuplan.hardware import Host
from gpuplan.launch.model import GpuSlot, LaunchConfig, LaunchRequest
from gpuplan.memory.figure import DEFAULT_CONTEXT
from gpuplan.models.registry import ModelEntry, Variant
from gpuplan.placement.model import Placement, Service
from gpuplan.profiles.model import DeploymentProfile

__all__ = ["BASE_PORT", "launch_configs", "launch_requests"]

BASE_PORT = 8000
"""The first service listens here, the next on 8001, … (one port per service)."""

log = logging.getLogger(__name__)


def _variant(entry: ModelEntry, quantization: str | None) -> Variant:
    if quantization is not None:
        for variant in entry.variants:
            if variant.quantization.lower() == quantization.lower():
                return variant
    return entry.variants[0]


def _source(entry: ModelEntry, variant: Variant) -> str:
    path = getattr(entry, "path", None)
    if isinstance(path, str) and path:
        return path
    if variant.repo:
        return variant.repo if not variant.file else f"{variant.repo}/{variant.file}"
    return variant.file or entry.id


def _per_gpu(
    entry: ModelEntry, variant: Variant, gpus: int, context: int, gpu_memory_mb: int | None
) -> tuple[int, int, int | None]:
    """(weights, KV cache) per GPU in MiB and the context they are for (None: no KV cache)."""
    from gpuplan.memory.vram import estimate_variant, has_arch, weights_only_mb
    from gpuplan.selection.candidates import planning_context

    tokens = planning_context(entry, context)
    try:
        if tokens is not None and has_arch(entry) and variant.vram_estimate_mb is None:
            estimate = estimate_variant(
                entry,
                variant,
                context=tokens,
                tensor_parallel=gpus,
                gpu_memory_mb=gpu_memory_mb,
            )
            return estimate.weights_mb, estimate.kv_cache_mb, tokens
        if variant.vram_estimate_mb is not None:
            weights = variant.weights_mb or variant.vram_estimate_mb
            return -(-weights // gpus), 0, tokens
        total, _ = weights_only_mb(entry, variant)
        return -(-total // gpus), 0, None
    except GpuplanError as error:  # an estimate that fails must not stop the plan
        log.info("no per-GPU estimate for %s: %s", entry.id, error)
        return 0, 0, tokens


def launch_requests(
    placement: Placement,
    services: Sequence[Service],
    host: Host,
    profile: DeploymentProfile,
    *,
    entries: Sequence[ModelEntry] | None = None,
    context: int = DEFAULT_CONTEXT,
    base_port: int = BASE_PORT,
) -> tuple[LaunchRequest, ...]:
    """A request for each placed service with one model the registry (or disk) knows."""
    from gpuplan.memory.engines import normalize_engine
    from gpuplan.memory.vram import engine_for

    if entries is None:
        from gpuplan.models.registry import load_registry

        entries = tuple(load_registry())
    by_id = {entry.id: entry for entry in entries}
    by_name = {service.name: service for service in services}
    gpus = {gpu.index: gpu for gpu in host.gpus}

    def key(index: int, mig: int | None) -> tuple[int, int | None]:
        return index, mig

    # what each service holds on each device, in start (input) order
    holders: dict[tuple[int, int | None], list[tuple[str, int]]] = {}
    for assignment in placement.assignments:
        if not assignment.gpu_indices:
            continue
        share = -(-assignment.vram_budget_mb // len(assignment.gpu_indices))
        for index in assignment.gpu_indices:
            holders.setdefault(key(index, assignment.mig_device), []).append(
                (assignment.service, share)
            )
    settings = profile.engine.model_dump(mode="json", exclude_none=True)
    requests: list[LaunchRequest] = []
    for position, assignment in enumerate(placement.assignments):
        service = by_name.get(assignment.service)
        if service is None or service.model is None or not assignment.gpu_indices:
            continue
        entry = by_id.get(service.model)
        if entry is None:
            continue
        variant = _variant(entry, service.quantization)
        try:
            engine = normalize_engine(service.engine or engine_for(entry.backend_for(variant)))
        except GpuplanError:
            continue
        slots: list[GpuSlot] = []
        started_before: set[str] = set()
        for index in assignment.gpu_indices:
            gpu = gpus[index]
            device_key = key(index, assignment.mig_device)
            others = holders.get(device_key, [])
            names = [name for name, _ in others]
            mine = names.index(service.name) if service.name in names else len(names)
            before = sum(share for _, share in others[:mine])
            after = sum(share for name, share in others if name != service.name)
            started_before.update(names[:mine])
            mig = next((m for m in gpu.mig_devices if m.index == assignment.mig_device), None)
            slots.append(
                GpuSlot(
                    index=index,
                    uuid=mig.uuid if mig is not None else gpu.uuid,
                    vendor=gpu.vendor if gpu.vendor in ("nvidia", "amd") else "unknown",
                    name=gpu.name,
                    total_mb=(mig.vram_total_mb if mig is not None else gpu.vram_total_mb) or 0,
                    mig_profile=mig.profile if mig is not None else None,
                    reserved_before_mb=before,
                    reserved_total_mb=after,
                )
            )
        weights, kv, tokens = _per_gpu(
            entry, variant, len(slots), context, min(slot.total_mb for slot in slots) or None
        )
        requests.append(
            LaunchRequest(
                service=service.name,
                model_id=entry.id,
                model_source=_source(entry, variant),
                engine=engine,
                quantization=variant.quantization,
                gpus=tuple(slots),
                vram_budget_mb=assignment.vram_budget_mb,
                weights_mb=weights,
                kv_cache_mb=kv,
                context_tokens=tokens,
                port=base_port + position,
                start_order=len(started_before),
                engine_settings=settings,
            )
        )
    return tuple(requests)


def launch_configs(requests: Sequence[LaunchRequest]) -> tuple[LaunchConfig, ...]:
    """Each request rendered by the launch stage (``gpuplan.launch.render``), when it exists.

    Until the engine renderers are installed this is empty, and ``gpuplan plan``
    leaves ``launch`` out; a request a renderer refuses is left out with a log line.
    """
    try:
        from gpuplan.launch import render  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return ()
    if not callable(render):
        return ()
    configs = []
    for request in requests:
        try:
            configs.append(render(request))
        except GpuplanError as error:
            log.info("no launch line for %s: %s", request.service, error)
    return tuple(configs)
