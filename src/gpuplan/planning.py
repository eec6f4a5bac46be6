"""The flow's shared steps for every face (CLI, HTTP, Python): host → profile → candidates.

Commands and routes call these instead of stitching the stages together
themselves, so `gpuplan select`, `gpuplan plan` and
``GET /v1/models/select_by_role`` can never disagree about a budget or a cost.
"""

from __future__ import annotations

from collections.abc import Iterable

from gpuplan.hardware import Host
from gpuplan.models.candidates import DEFAULT_CONTEXT, Candidate, build_candidates
from gpuplan.models.policy import SelectionPolicy
from gpuplan.models.registry import ModelEntry
from gpuplan.models.vram import coster_for_gpu
from gpuplan.profiles import Resolution

__all__ = ["host_candidates", "largest_gpu_mb", "selection_policy"]


def largest_gpu_mb(host: Host) -> int | None:
    """Total memory of the host's largest GPU (MiB), None on a CPU-only host."""
    sizes = [gpu.vram_total_mb for gpu in host.gpus if gpu.vram_total_mb is not None]
    return max(sizes) if sizes else None


def host_candidates(
    host: Host, entries: Iterable[ModelEntry], *, context: int = DEFAULT_CONTEXT
) -> tuple[Candidate, ...]:
    """Every registry variant costed for this host's largest GPU, at ``context`` tokens."""
    return build_candidates(entries, context=context, coster=coster_for_gpu(largest_gpu_mb(host)))


def selection_policy(resolution: Resolution, host: Host) -> SelectionPolicy:
    """The active profile as a selection policy; an unset budget means all usable VRAM."""
    return SelectionPolicy.from_profile(
        resolution.profile, name=resolution.name, max_vram_mb=host.total_usable_vram_mb
    )
