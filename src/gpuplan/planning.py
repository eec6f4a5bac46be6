"""The flow's shared steps for every face (CLI, HTTP, Python): host → profile → candidates.

Commands and routes call these instead of stitching the stages together
themselves, so `gpuplan select`, `gpuplan plan` and
``GET /v1/models/select_by_role`` can never disagree about a budget or a cost.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.errors import GpuplanError
from gpuplan.hardware import Host
from gpuplan.launch.model import LaunchConfig, LaunchRequest
from gpuplan.memory.figure import DEFAULT_CONTEXT, VramFigure
from gpuplan.memory.vram import coster_for_gpu, variant_vram
from gpuplan.models.registry import Backend, ModelEntry, Role, Variant
from gpuplan.placement import Demand, assign
from gpuplan.placement.devices import On
from gpuplan.placement.model import Assignment, GpuFill, Placement, Service, Strategy
from gpuplan.profiles import ProfileDocument, Resolution, explain, profile_document
from gpuplan.profiles.model import ggml_flash_attention
from gpuplan.selection.candidates import Candidate, build_candidates
from gpuplan.selection.engine_block import EngineBlock, GpuKind, engine_block
from gpuplan.selection.fit import FitRow, fit_registry
from gpuplan.selection.joint import JointSelection, select_joint
from gpuplan.selection.policy import SelectionPolicy

__all__ = [
    "CPU_BACKENDS",
    "DEFAULT_ROLES",
    "DEFAULT_STRATEGY",
    "Plan",
    "engine_blocks",
    "fit_rows",
    "host_candidates",
    "idle_gpu_mb",
    "largest_gpu_mb",
    "launch_configs",
    "make_plan",
    "plan_launch_requests",
    "selection_policy",
]

DEFAULT_STRATEGY: Strategy = "vram_based"
"""Seed 004's recommended strategy: largest first onto the GPU with most free memory."""

DEFAULT_ROLES: tuple[Role, ...] = ("chat", "embedding", "caption")
"""What `gpuplan plan` chooses for when no roles are given: the common trio."""

CPU_BACKENDS: frozenset[Backend] = frozenset({"llamacpp", "ollama", "transformers"})
"""Engines that serve on a CPU; vLLM, SGLang and TensorRT-LLM need a GPU here."""


def largest_gpu_mb(host: Host) -> int | None:
    """Total memory of the host's largest GPU (MiB), None on a CPU-only host."""
    sizes = [gpu.vram_total_mb for gpu in host.gpus if gpu.vram_total_mb is not None]
    return max(sizes) if sizes else None


def fit_rows(
    host: Host,
    entries: Sequence[ModelEntry],
    *,
    context: int,
    concurrency: int = 1,
    flash_attention: bool | None = None,
) -> list[FitRow]:
    """How every registry variant fits this host's devices (GPUs or MIG slices), each
    holding ``concurrency`` sequences of ``context`` tokens at once; ``flash_attention``
    is the profile's for llama.cpp / Ollama (``profiles.ggml_flash_attention``)."""
    budgets = host.device_budgets_mb()
    if not budgets:
        return []
    sizes = list(host.device_totals_mb())  # each device's memory
    # A process sees one MIG slice; tensor parallelism cannot span slices.
    mig = any(gpu.mig_mode for gpu in host.gpus)
    return fit_registry(
        entries,
        budgets,
        context=context,
        gpu_memory_mb=sizes,
        concurrency=concurrency,
        flash_attention=flash_attention,
        **({"max_split": 1} if mig else {}),
    )


def host_candidates(
    host: Host,
    entries: Iterable[ModelEntry],
    *,
    context: int = DEFAULT_CONTEXT,
    rows: Sequence[FitRow] | None = None,
    concurrency: int = 1,
    flash_attention: bool | None = None,
) -> tuple[Candidate, ...]:
    """Every registry variant costed as it would run on this host, at ``context`` tokens
    for each of ``concurrency`` sequences served at once.

    A variant that fits one GPU is costed for it; one that needs tensor
    parallelism carries its per-GPU figure and GPU count (``fit``'s answer), so
    selection charges what it really takes and placement can check it. A
    CPU-only host keeps only variants whose engine runs on a CPU.
    """
    entries = list(entries)
    if not host.gpus:
        coster = functools.partial(
            variant_vram, host_ram=True, concurrency=concurrency, flash_attention=flash_attention
        )
        candidates = build_candidates(entries, context=context, coster=coster)
        return tuple(c for c in candidates if c.backend in CPU_BACKENDS)
    if rows is None:
        rows = fit_rows(
            host, entries, context=context, concurrency=concurrency,
            flash_attention=flash_attention,
        )  # fmt: skip
    by_key = {(row.model_id, row.quantization): row for row in rows}
    fallback = coster_for_gpu(
        largest_gpu_mb(host), concurrency=concurrency, flash_attention=flash_attention
    )

    def costed_by_fit(entry: ModelEntry, variant: Variant, tokens: int | None) -> VramFigure:
        # fit has costed every variant on these GPUs already: reuse its figure (one GPU,
        # or per GPU for a split that _as_fitted multiplies), never cost it twice.
        row = by_key.get((entry.id, variant.quantization))
        if row is None or row.context != tokens or row.concurrency != concurrency:
            return fallback(entry, variant, tokens)
        mib = row.vram_estimate_mb if row.fits else row.single_gpu_mb
        if mib is None:
            return fallback(entry, variant, tokens)
        return VramFigure(mib, row.vram_source, row.assumptions)

    candidates = build_candidates(entries, context=context, coster=costed_by_fit)
    shapes = {
        (row.model_id, row.quantization): row
        for row in rows
        if row.fits and row.concurrency == concurrency
    }
    return tuple(_as_fitted(c, shapes.get((c.model_id, c.quantization))) for c in candidates)


def _as_fitted(candidate: Candidate, row: FitRow | None) -> Candidate:
    if row is None:  # fits no device: keep its one-GPU cost; placement will reject it
        return candidate
    return candidate.model_copy(
        update={
            "gpus": row.gpus,
            "vram_per_gpu_mb": row.vram_estimate_mb,
            "vram_estimate_mb": row.vram_estimate_mb * row.gpus,
        }
    )


def selection_policy(resolution: Resolution, host: Host) -> SelectionPolicy:
    """The active profile as a selection policy; an unset budget means all usable VRAM.

    When auto-selection sized the profile on the largest GPU alone (a mismatched
    pair such as seed 004's RTX A5500 + RTX A400), the other GPUs are not part of
    the budget, and would sit idle: their usable VRAM is added to it, so the
    embedder or captioner can go there (``idle_gpu_mb``).
    """
    policy = SelectionPolicy.from_profile(
        resolution.profile, name=resolution.name, max_vram_mb=host.total_usable_vram_mb
    )
    if not host.gpus:
        return policy
    return dataclasses.replace(
        policy,
        max_vram_mb=policy.max_vram_mb + idle_gpu_mb(resolution, host),
        device_budgets_mb=host.device_budgets_mb(),
    )


def idle_gpu_mb(resolution: Resolution, host: Host) -> int:
    """Usable MiB of the GPUs an auto-selected profile left out of its budget (else 0)."""
    auto = resolution.auto
    if resolution.selection.by != "auto" or auto is None or auto.budget != "largest_gpu":
        return 0
    if len(host.gpus) < 2 or any(gpu.mig_mode for gpu in host.gpus):
        return 0
    largest = max(host.gpus, key=lambda g: g.vram_total_mb or 0)
    return sum(host.usable_vram_mb(g) for g in host.gpus if g is not largest)


def busy_gpu_notes(host: Host) -> list[str]:
    """A note for each GPU whose free memory now is below what the plan counts as usable.

    Plans assume the GPUs are the models' alone (a service is restarted onto
    them); memory other processes hold right now is said, not subtracted.
    """
    notes = []
    for gpu in host.gpus:
        if gpu.mig_mode and not gpu.mig_devices:
            notes.append(
                f"GPU {gpu.index} has MIG on but no MIG instances: engines see nothing there, "
                "so this plan puts nothing on it (create instances or turn MIG off)."
            )
            continue
        usable = host.usable_vram_mb(gpu)
        if gpu.vram_free_mb is not None and not gpu.mig_mode and gpu.vram_free_mb < usable:
            notes.append(
                f"GPU {gpu.index} has only {gpu.vram_free_mb} MiB free now, below the "
                f"{usable} MiB this plan uses: stop what holds it before launching, or "
                "plan with a larger --headroom-mb."
            )
    return notes


class Plan(BaseModel):
    """The whole answer for one host: hardware, profile and why, what fits, what to serve."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hardware: Host
    profile: ProfileDocument
    profile_why: tuple[str, ...] = Field(description="Why this profile, in words.")
    context: int = Field(description="Tokens of context each model was costed at.")
    concurrency: int = Field(
        default=1,
        ge=1,
        description="Sequences each model serves at once; KV caches hold this many contexts "
        "and the launch lines cap the engines at it.",
    )
    fitting: tuple[FitRow, ...] = Field(description="Registry variants that fit these GPUs.")
    variants_checked: int = Field(description="Registry variants that were checked.")
    selection: JointSelection = Field(description="One model per role, fitting together.")
    engines: tuple[EngineBlock, ...] = Field(
        default=(),
        description="Engine settings derived from each loaded model (its engine, precision "
        "and GPUs) and the GPU vendor; they supersede the profile's hardware-only engine block.",
    )
    notes: tuple[str, ...] = ()
    strategy: Strategy = Field(default=DEFAULT_STRATEGY, description="Placement strategy used.")
    assignments: tuple[Assignment, ...] = Field(
        default=(), description="Where each service runs (one per service), and why."
    )
    gpus: tuple[GpuFill, ...] = Field(
        default=(), description="Every GPU after placement: used and usable MiB, services."
    )
    warnings: tuple[str, ...] = Field(
        default=(), description="Seed 004's placement warnings (warn but allow)."
    )
    solver: str | None = Field(default=None, description="Which placement algorithm ran.")
    launch: tuple[LaunchConfig, ...] = Field(
        default=(), description="How each placed service is started (engine, argv, env, image)."
    )
    services_file: str | None = Field(
        default=None,
        description="The services file whose services were placed; None: the role "
        "selection's models were placed (`selection` then says what is served).",
    )


def make_plan(
    host: Host,
    resolution: Resolution,
    entries: Sequence[ModelEntry],
    *,
    roles: Sequence[Role | str] = DEFAULT_ROLES,
    context: int = DEFAULT_CONTEXT,
    concurrency: int = 1,
    services: Sequence[Service] | None = None,
    strategy: Strategy | str = DEFAULT_STRATEGY,
    on: On = "total",
    services_file: str | None = None,
) -> Plan:
    """Fit every registry variant to the GPUs, choose a set for ``roles``, and place it.

    Every model is costed for ``concurrency`` sequences of ``context`` tokens at once,
    and launched capped at that many. ``services`` (a services file's, costed by
    ``load_services`` at the same context and concurrency) are placed instead of the
    selection's own models (``services_file`` names where they came from);
    ``strategy`` and ``on`` are ``gpuplan.placement.place``'s.
    """
    # The launch passes the profile's flash-attention choice to llama.cpp and Ollama, so
    # the plan costs them with it (off holds the attention scores too).
    flash = ggml_flash_attention(resolution.profile.engine)
    rows = fit_rows(host, entries, context=context, concurrency=concurrency, flash_attention=flash)
    policy = selection_policy(resolution, host)
    candidates = host_candidates(
        host, entries, context=context, rows=rows, concurrency=concurrency,
        flash_attention=flash,
    )  # fmt: skip
    selection = select_joint(candidates, roles, policy)
    notes = busy_gpu_notes(host)
    idle = idle_gpu_mb(resolution, host)
    if idle:
        notes.append(
            f"The profile's budget is sized on the largest GPU; the other GPU(s) add {idle} MiB "
            "so that supporting models (embedder, captioner) can run there instead of idling."
        )
    if not host.gpus:
        notes.append(
            "No GPU: the selection keeps engines that run on a CPU (llama.cpp, Ollama, "
            f"transformers) and the {resolution.name} profile's budget applies to RAM."
        )
    from gpuplan.placement import place
    from gpuplan.placement.services import services_from_selection

    if services is None:
        services_file = None
        services = services_from_selection(selection.models)
    placement = place(
        services,
        host,
        strategy=strategy,
        on=on,
        tensor_parallel_threshold_mb=resolution.profile.tensor_parallel_threshold_mb,
    )
    launch = launch_configs(
        placement, services, host, resolution, entries, context, concurrency=concurrency
    )
    return Plan(
        hardware=host,
        profile=profile_document(resolution, host),
        profile_why=explain(resolution, host).why,
        context=context,
        concurrency=concurrency,
        fitting=tuple(row for row in rows if row.fits),
        variants_checked=sum(len(entry.variants) for entry in entries),
        selection=selection,
        engines=engine_blocks(host, selection),
        notes=tuple(notes),
        strategy=placement.strategy,
        assignments=placement.assignments,
        gpus=placement.gpus,
        warnings=placement.warnings,
        solver=placement.solver,
        launch=launch,
        services_file=services_file,
    )


def launch_configs(
    placement: Placement,
    services: Sequence[Service],
    host: Host,
    resolution: Resolution,
    entries: Sequence[ModelEntry],
    context: int,
    *,
    concurrency: int = 1,
) -> tuple[LaunchConfig, ...]:
    """How each placed service with an engine is started (``gpuplan.launch``'s renderers).

    A service the launch stage cannot render (no engine of its own, an engine
    on the wrong vendor) is left out: the placement still holds its budget.
    """
    from gpuplan.launch import render

    requests, _skipped = plan_launch_requests(
        placement, services, host, resolution, entries, context=context, concurrency=concurrency
    )
    configs = []
    for request in requests:
        try:
            configs.append(render(request))
        except GpuplanError:
            continue  # the launch stage says why in `gpuplan render`
    return tuple(configs)


def _gpu_kind(host: Host) -> GpuKind:
    if not host.gpus:
        return "cpu"
    vendors = {gpu.vendor for gpu in host.gpus}
    if vendors == {"nvidia"}:
        return "nvidia"
    if vendors == {"amd"}:
        return "amd"
    return "other"


def _bf16(host: Host) -> bool:
    """Every GPU computes in bf16: NVIDIA Ampere (8.0) or newer, or an AMD GPU (CDNA 2+/RDNA 3)."""
    if not host.gpus:
        return False
    for gpu in host.gpus:
        cc = gpu.compute_capability_tuple
        if gpu.vendor == "amd":
            continue
        if cc is None or cc < (8, 0):
            return False
    return True


def engine_blocks(host: Host, selection: JointSelection) -> tuple[EngineBlock, ...]:
    """One engine block per loaded model, placed as ``assign`` would place the set."""
    backends = {(p.model_id, p.quantization): p.backend for p in selection.picks}
    budgets = host.device_budgets_mb()
    totals = host.device_totals_mb()
    models = selection.models
    placed = (
        assign([Demand(m.vram_per_gpu_mb or m.vram_estimate_mb, m.gpus) for m in models], budgets)
        if budgets
        else None
    )
    users: dict[int, int] = {}
    for devices in placed or ():
        for device in devices:
            users[device] = users.get(device, 0) + 1
    kind, bf16 = _gpu_kind(host), _bf16(host)
    blocks = []
    for position, model in enumerate(models):
        devices = placed[position] if placed is not None else ()
        sizes = [totals[d] for d in devices]
        blocks.append(
            engine_block(
                model,
                backends[(model.model_id, model.quantization)],
                kind=kind,
                bf16=bf16,
                gpu_memory_mb=min(sizes) if sizes else None,
                shares_gpu=any(users.get(d, 0) > 1 for d in devices),
            )
        )
    return tuple(blocks)


def plan_launch_requests(
    placement: Placement,
    services: Sequence[Service],
    host: Host,
    resolution: Resolution | None,
    entries: Sequence[ModelEntry],
    *,
    context: int = DEFAULT_CONTEXT,
    concurrency: int = 1,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[list[LaunchRequest], list[str]]:
    """``launch_requests`` with the active profile's engine block as the lowest-precedence
    engine settings: the one way `plan`, `render` and the web page build them."""
    from gpuplan.launch.requests import launch_requests

    engine = (
        resolution.profile.engine.model_dump(mode="json", exclude_none=True) if resolution else None
    )
    return launch_requests(
        placement, services, host, entries=entries, context=context,
        concurrency=concurrency, engine_settings=engine, overrides=overrides,
    )  # fmt: skip
