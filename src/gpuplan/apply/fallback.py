"""A GPU that vanished since the plan: warn and fall back (seed 004), never crash.

Seed 004's runtime rule is "assigned GPU unavailable → log a warning and use an
available one". At apply time gpuplan does the same on the plan: a service whose
GPU is no longer on the host moves to the present GPU with the most usable
memory, with a warning naming both; with no GPU left it runs on the CPU.
"""

from __future__ import annotations

from gpuplan.hardware import Host
from gpuplan.store.model import GpuConfig

__all__ = ["fall_back_from_vanished_gpus"]


def fall_back_from_vanished_gpus(config: GpuConfig, host: Host) -> tuple[GpuConfig, list[str]]:
    """``config`` with vanished GPUs replaced, and one warning per moved service."""
    present = {gpu.index: gpu for gpu in host.gpus}
    warnings: list[str] = []
    services = []
    for service in config.services:
        missing = [i for i in service.gpu_indices if i not in present]
        if not missing:
            services.append(service)
            continue
        gone = ", ".join(str(i) for i in missing)
        if present:
            best = max(present.values(), key=lambda g: (host.usable_vram_mb(g), -g.index))
            kept = [i for i in service.gpu_indices if i in present]
            indices = tuple(dict.fromkeys([*kept, best.index]))[: len(service.gpu_indices)]
            warnings.append(
                f"{service.service} was assigned GPU {gone}, which is no longer present; "
                f"falling back to GPU {', '.join(str(i) for i in indices)} ({best.name})"
            )
            services.append(service.model_copy(update={"gpu_indices": indices, "mig_device": None}))
        else:
            warnings.append(
                f"{service.service} was assigned GPU {gone}, but no GPU is present; "
                "it falls back to the CPU"
            )
            services.append(service.model_copy(update={"gpu_indices": (), "mig_device": None}))
    return config.model_copy(update={"services": tuple(services)}), warnings
