"""The flow's shared steps for every face (CLI, HTTP, Python): host → profile → candidates.

Commands and routes call these instead of stitching the stages together
themselves, so `gpuplan select`, `gpuplan plan` and
``GET /v1/models/select_by_role`` can never disagree about a budget or a cost.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.hardware import Host
from gpuplan.models.candidates import DEFAULT_CONTEXT, Candidate, build_candidates
from gpuplan.models.fit import FitRow, fit_registry
from gpuplan.models.joint import JointSelection, select_joint
from gpuplan.models.policy import SelectionPolicy
from gpuplan.models.registry import Backend, ModelEntry, Role
from gpuplan.models.vram import coster_for_gpu
from gpuplan.profiles import ProfileDocument, Resolution, explain, profile_document

__all__ = [
    "CPU_BACKENDS",
    "DEFAULT_ROLES",
    "Plan",
    "host_candidates",
    "largest_gpu_mb",
    "make_plan",
    "selection_policy",
]

DEFAULT_ROLES: tuple[Role, ...] = ("chat", "embedding", "caption")
"""What `gpuplan plan` chooses for when no roles are given: the common trio."""

CPU_BACKENDS: frozenset[Backend] = frozenset({"llamacpp", "ollama", "transformers"})
"""Engines that serve on a CPU; vLLM, SGLang and TensorRT-LLM need a GPU here."""


def largest_gpu_mb(host: Host) -> int | None:
    """Total memory of the host's largest GPU (MiB), None on a CPU-only host."""
    sizes = [gpu.vram_total_mb for gpu in host.gpus if gpu.vram_total_mb is not None]
    return max(sizes) if sizes else None


def host_candidates(
    host: Host, entries: Iterable[ModelEntry], *, context: int = DEFAULT_CONTEXT
) -> tuple[Candidate, ...]:
    """Every registry variant costed for this host's largest GPU, at ``context`` tokens.

    A CPU-only host keeps only variants whose engine runs on a CPU.
    """
    candidates = build_candidates(
        entries, context=context, coster=coster_for_gpu(largest_gpu_mb(host))
    )
    if host.gpus:
        return candidates
    return tuple(c for c in candidates if c.backend in CPU_BACKENDS)


def selection_policy(resolution: Resolution, host: Host) -> SelectionPolicy:
    """The active profile as a selection policy; an unset budget means all usable VRAM."""
    return SelectionPolicy.from_profile(
        resolution.profile, name=resolution.name, max_vram_mb=host.total_usable_vram_mb
    )


class Plan(BaseModel):
    """The whole answer for one host: hardware, profile and why, what fits, what to serve."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hardware: Host
    profile: ProfileDocument
    profile_why: tuple[str, ...] = Field(description="Why this profile, in words.")
    context: int = Field(description="Tokens of context each model was costed at.")
    fitting: tuple[FitRow, ...] = Field(description="Registry variants that fit these GPUs.")
    variants_checked: int = Field(description="Registry variants that were checked.")
    selection: JointSelection = Field(description="One model per role, fitting together.")
    notes: tuple[str, ...] = ()


def make_plan(
    host: Host,
    resolution: Resolution,
    entries: Sequence[ModelEntry],
    *,
    roles: Sequence[Role | str] = DEFAULT_ROLES,
    context: int = DEFAULT_CONTEXT,
) -> Plan:
    """Fit every registry variant to the GPUs and choose a set for ``roles``."""
    budgets = [host.usable_vram_mb(gpu) for gpu in host.gpus]
    sizes = [gpu.vram_total_mb for gpu in host.gpus]
    known = [size for size in sizes if size is not None]
    rows = (
        fit_registry(
            entries,
            budgets,
            context=context,
            gpu_memory_mb=known if len(known) == len(sizes) else None,
        )
        if host.gpus
        else []
    )
    policy = selection_policy(resolution, host)
    selection = select_joint(host_candidates(host, entries, context=context), roles, policy)
    notes: list[str] = []
    if not host.gpus:
        notes.append(
            "No GPU: the selection keeps engines that run on a CPU (llama.cpp, Ollama, "
            f"transformers) and the {resolution.name} profile's budget applies to RAM."
        )
    return Plan(
        hardware=host,
        profile=profile_document(resolution, host),
        profile_why=explain(resolution, host).why,
        context=context,
        fitting=tuple(row for row in rows if row.fits),
        variants_checked=sum(len(entry.variants) for entry in entries),
        selection=selection,
        notes=tuple(notes),
    )
