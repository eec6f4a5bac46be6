"""``nvidia-smi -L`` → ``Inventory``: GPUs, their UUIDs and their MIG devices.

``-L`` is the cheapest form that lists MIG instances, which ``--query-gpu``
never shows (it prints one row per physical GPU even in MIG mode). It gives no
memory, so a GPU's ``vram_total_mb`` stays None and a MIG device's comes from
its profile name (see ``mig_profile_mib``: an upper-bound label, not a
measurement).

Two MIG line forms exist. Modern drivers pad the columns::

    GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-…)
      MIG 3g.40gb     Device  0: (UUID: MIG-…)

Drivers around 450 use single spaces and a UUID that encodes the GPU
instance and compute instance ids::

      MIG 1g.5gb Device 0: (UUID: MIG-GPU-<gpu uuid>/<gi>/<ci>)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gpuplan.errors import ToolOutputError
from gpuplan.hardware.model import GPU, MigDevice
from gpuplan.hardware.parse import Inventory, clean
from gpuplan.hardware.parse._nvidia import (
    check_indices,
    make_gpu,
    mig_profile_mib,
    no_devices,
    no_gpus_error,
)

__all__ = ["parse"]

_UUID = r"(?:\(UUID:\s*(?P<uuid>[^()\s]*)\s*\))?"
_GPU_LINE = re.compile(rf"^\s*GPU\s+(?P<index>[0-9]{{1,9}}):\s*(?P<name>.*?)\s*{_UUID}\s*$")
_MIG_LINE = re.compile(
    rf"^\s*MIG\s+(?P<profile>\S+)\s+Device\s+(?P<index>[0-9]{{1,9}}):\s*{_UUID}\s*$"
)
_LEGACY_MIG_UUID = re.compile(r"^MIG-GPU-[0-9a-f-]+/(?P<gi>[0-9]{1,9})/(?P<ci>[0-9]{1,9})$", re.I)

_NO_MEMORY_NOTE = "nvidia-smi -L gives no GPU memory figures; GPU memory is unknown"
_MIG_MEMORY_NOTE = (
    "MIG device memory from nvidia-smi -L is estimated from the profile name "
    "(95% of GB x 1024 MiB, a safe lower bound); NVML or nvidia-smi -q gives the exact size"
)


@dataclass
class _Pending:
    """A GPU line read so far, collecting the MIG lines indented under it."""

    index: int
    name: str | None
    uuid: str | None
    mig: list[MigDevice] = field(default_factory=list)


def parse(text: str) -> Inventory:
    """Read ``nvidia-smi -L``; lines that are neither a GPU nor a MIG device are warned about."""
    if no_devices(text):
        return Inventory(gpus=(), warnings=("nvidia-smi found no NVIDIA GPU",))
    pending: list[_Pending] = []
    warnings: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            _read_line(line, number, pending, warnings)
    if not pending:
        raise no_gpus_error("nvidia-smi -L", text, "expected lines like 'GPU 0: <name> (UUID: …)'")
    gpus = tuple(_finish(gpu, warnings) for gpu in pending)
    check_indices(gpus, warnings)
    warnings.append(_NO_MEMORY_NOTE)
    if any(gpu.mig_devices for gpu in gpus):
        warnings.append(_MIG_MEMORY_NOTE)
    return Inventory(gpus=gpus, warnings=tuple(warnings))


def _read_line(line: str, number: int, pending: list[_Pending], warnings: list[str]) -> None:
    if gpu_match := _GPU_LINE.match(line):
        pending.append(
            _Pending(
                index=int(gpu_match["index"]),
                name=clean(gpu_match["name"]),
                uuid=clean(gpu_match["uuid"]),
            )
        )
    elif mig_match := _MIG_LINE.match(line):
        if not pending:
            raise ToolOutputError(
                f"nvidia-smi -L line {number} lists a MIG device before any GPU",
                hint="the output is cut or reordered; run nvidia-smi -L again",
            )
        try:
            pending[-1].mig.append(_mig_device(mig_match))
        except ValueError as exc:  # a MIG index no driver numbers: garbled output
            raise ToolOutputError(
                f"nvidia-smi -L line {number} lists an impossible MIG device: {exc}",
                hint="the output is garbled; run nvidia-smi -L by hand to check it",
            ) from None
    else:
        shown = line.strip()[:60]
        warnings.append(f"nvidia-smi -L line {number} ignored: {shown!r}")


def _mig_device(match: re.Match[str]) -> MigDevice:
    uuid = clean(match["uuid"])
    legacy = _LEGACY_MIG_UUID.match(uuid) if uuid else None
    return MigDevice(
        index=int(match["index"]),
        profile=match["profile"],
        uuid=uuid,
        vram_total_mb=mig_profile_mib(match["profile"]),
        gpu_instance_id=int(legacy["gi"]) if legacy else None,
        compute_instance_id=int(legacy["ci"]) if legacy else None,
    )


def _finish(gpu: _Pending, warnings: list[str]) -> GPU:
    """MIG mode is True only when devices are listed: -L cannot show MIG on with none carved."""
    return make_gpu(
        index=gpu.index,
        name=gpu.name,
        warnings=warnings,
        uuid=gpu.uuid,
        mig_mode=True if gpu.mig else None,
        mig_devices=tuple(gpu.mig),
        memory_expected=False,
    )
