"""The devices a placement fills: whole GPUs, or the MIG slices of a GPU in MIG mode.

A process sees one MIG slice as a GPU of its own and nothing can span two, so a
slice is a device; compute instances of one GPU instance share its memory and
count once (as ``Host.device_usable_mb`` counts them). Each device carries what
the strategies rank by: usable memory (total − the host's headroom rule, or
what is free now with ``on="free"``), memory bandwidth from the GPU catalog (the
latency strategy's "fastest"), and its NVLink group when the topology is known.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from gpuplan.hardware.model import GPU, Host

__all__ = ["Device", "On", "host_devices"]

On = Literal["total", "free"]
"""Plan on each device's total memory (minus headroom) or on what is free now."""


@dataclass(frozen=True, slots=True)
class Device:
    """One place a service can run; ``position`` is its index in the device list."""

    position: int
    gpu_index: int
    name: str
    total_mb: int
    usable_mb: int
    bandwidth_gbs: float = 0.0
    mig_index: int | None = None
    mig_profile: str | None = None
    uuid: str | None = None
    link_group: int | None = None
    """Devices with the same group are joined by NVLink (None: unknown or none)."""

    @property
    def label(self) -> str:
        """'GPU 1' or 'GPU 0 MIG 2', as warnings and reasons name it."""
        if self.mig_index is None:
            return f"GPU {self.gpu_index}"
        return f"GPU {self.gpu_index} MIG {self.mig_index}"


def _bandwidth(gpu: GPU) -> float:
    return _bandwidth_of(gpu.name, gpu.vram_total_mb)


@functools.lru_cache(maxsize=1024)
def _bandwidth_of(name: str, vram_mb: int | None) -> float:
    from gpuplan.hardware.catalog import load_catalog

    entry = load_catalog().match(name, vram_mb=vram_mb)
    return float(entry.memory_bandwidth_gbs) if entry is not None else 0.0


def host_devices(
    host: Host, *, on: On = "total", link_groups: Sequence[Sequence[int]] = ()
) -> tuple[tuple[Device, ...], tuple[str, ...]]:
    """Every device of ``host`` in GPU order, and notes on what could not be read.

    ``link_groups`` lists GPU indices joined by NVLink (``hardware.parse.nvidia_topo``);
    tensor-parallel sets prefer a group. With ``on="free"`` a device's usable memory
    is the smaller of total − headroom and what is free now; a device whose free
    memory nobody reported (declared hardware) is planned on its total, and said so.
    """
    group_of = {index: number for number, group in enumerate(link_groups) for index in group}
    devices: list[Device] = []
    notes: list[str] = []
    for gpu in host.gpus:
        bandwidth = _bandwidth(gpu)
        if gpu.mig_mode:
            seen: set[object] = set()
            for key, mig in gpu.mig_pools():
                if key in seen:
                    continue  # compute instances of one GPU instance share its memory
                seen.add(key)
                total = mig.vram_total_mb or 0
                usable = max(0, total - host.headroom_for(total))
                usable = _on_free(
                    usable, mig.vram_free_mb, on, f"GPU {gpu.index} MIG {mig.index}", notes
                )
                share = total / gpu.vram_total_mb if gpu.vram_total_mb else 0.0
                devices.append(
                    Device(
                        position=len(devices),
                        gpu_index=gpu.index,
                        name=gpu.name,
                        total_mb=total,
                        usable_mb=usable,
                        bandwidth_gbs=bandwidth * share,
                        mig_index=mig.index,
                        mig_profile=mig.profile,
                        uuid=mig.uuid,
                    )
                )
            continue
        total = gpu.vram_total_mb or 0
        usable = _on_free(host.usable_vram_mb(gpu), gpu.vram_free_mb, on, f"GPU {gpu.index}", notes)
        devices.append(
            Device(
                position=len(devices),
                gpu_index=gpu.index,
                name=gpu.name,
                total_mb=total,
                usable_mb=usable,
                bandwidth_gbs=bandwidth,
                uuid=gpu.uuid,
                link_group=group_of.get(gpu.index),
            )
        )
    return tuple(devices), tuple(notes)


def _on_free(usable: int, free: int | None, on: On, label: str, notes: list[str]) -> int:
    if on == "total":
        return usable
    if free is None:
        notes.append(f"{label} does not report its free memory: planned on its total.")
        return usable
    return min(usable, free)
