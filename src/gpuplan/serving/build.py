"""From the active profile and host to a scheduler: budget, estimates, priorities.

The budget is the profile's (seed 000): ``strategy``, ``max_concurrent_models``,
``grace_period_seconds``, ``autostart_timeout_seconds`` and the selection
policy's ``max_vram_mb``; each GPU's own usable memory (total − headroom) caps
what goes on it, less what other processes hold now when the host was detected
through NVML. A service's memory is its ``vram_budget_override_mb`` or
``vram_mb``, else the estimate of the variant of its ``model`` the profile would
load; its eviction priority is its ``priority``, else the model's
``role_priority`` for the service's role.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from gpuplan.hardware import Host
from gpuplan.profiles.model import DeploymentProfile
from gpuplan.selection.candidates import Candidate
from gpuplan.selection.select import RoleSelector
from gpuplan.serving.model import ServiceSpec
from gpuplan.serving.scheduler import Scheduler, SchedulerConfig

__all__ = ["build_scheduler", "default_log_dir", "live_gpu_used", "live_process_memory"]


def default_log_dir() -> Path:
    """Where backend logs go: $XDG_STATE_HOME/gpuplan/serving (~/.local/state/…)."""
    import os

    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "gpuplan" / "serving"


def live_gpu_used(
    host: Host, *, every_seconds: float = 1.0
) -> Callable[[], Mapping[int, int] | None]:
    """NVML's used MiB per GPU now (cached ``every_seconds``); None unless detected by NVML."""
    cache: list[tuple[float, Mapping[int, int] | None]] = []

    def used() -> Mapping[int, int] | None:
        if host.source not in ("nvml", "nvidia-smi"):
            return None
        now = time.monotonic()
        if cache and now - cache[0][0] < every_seconds:
            return cache[0][1]
        from gpuplan.hardware.nvml import NvmlUnavailable, query

        try:
            inventory = query()
            value: Mapping[int, int] | None = {
                gpu.index: gpu.vram_used_mb
                for gpu in inventory.gpus
                if gpu.vram_used_mb is not None
            }
        except NvmlUnavailable:
            value = None
        cache[:] = [(now, value)]
        return value

    return used


def live_process_memory(host: Host) -> Callable[[list[int]], Mapping[int, int] | None] | None:
    """NVML's per-GPU MiB for a list of pids, on an NVML-detected host; else None."""
    if host.source not in ("nvml", "nvidia-smi"):
        return None

    def measure(pids: list[int]) -> Mapping[int, int] | None:
        from gpuplan.hardware.nvml import NvmlUnavailable, process_memory_mb

        try:
            return process_memory_mb(pids)
        except NvmlUnavailable:
            return None

    return measure


def _estimate(spec: ServiceSpec, selector: RoleSelector | None) -> int | None:
    if spec.model is None or selector is None:
        return None

    def wanted(c: Candidate) -> bool:
        quant = spec.quantization
        return c.model_id == spec.model and (
            quant is None or c.quantization.lower() == quant.lower()
        )

    fitting = [c for c in selector.fitting_models() if wanted(c)]
    variants = fitting or [c for c in selector.candidates if wanted(c)]
    return variants[0].vram_estimate_mb if variants else None


def _priority(spec: ServiceSpec, selector: RoleSelector | None) -> int:
    if spec.priority is not None:
        return spec.priority
    if selector is None or spec.model is None or spec.role is None:
        return 0
    for candidate in selector.candidates:
        if candidate.model_id == spec.model:
            priorities = {str(role): value for role, value in candidate.role_priority.items()}
            return priorities.get(spec.role, 0)
    return 0


def build_scheduler(
    services: Sequence[ServiceSpec],
    *,
    profile: DeploymentProfile,
    host: Host,
    total_mb: int | None,
    selector: RoleSelector | None = None,
    log_dir: Path | None = None,
    queue_limit: int = 16,
) -> Scheduler:
    """A scheduler that holds ``services`` to ``profile`` on ``host``."""
    estimates = {}
    for spec in services:
        value = _estimate(spec, selector)
        if value is not None:
            estimates[spec.name] = value
    config = SchedulerConfig(
        strategy=profile.strategy,
        max_concurrent_models=profile.max_concurrent_models,
        total_mb=total_mb,
        gpu_usable_mb={gpu.index: host.usable_vram_mb(gpu) for gpu in host.gpus},
        grace_period_seconds=profile.grace_period_seconds,
        autostart_timeout_seconds=max(1, profile.autostart_timeout_seconds),
        queue_limit=queue_limit,
        log_dir=log_dir or default_log_dir(),
    )
    return Scheduler(
        services,
        config,
        estimates_mb=estimates,
        priorities={spec.name: _priority(spec, selector) for spec in services},
        gpu_used_now=live_gpu_used(host),
        measure_pids=live_process_memory(host),
    )
