"""Hardware stage: what GPUs a machine has, detected or declared.

``load_host`` is the one entry point every command and route uses: a declared
spec (flag or ``GPUPLAN_HARDWARE``) wins, otherwise the real machine is detected
(NVML, then nvidia-smi, amd-smi, rocm-smi, then CPU only).
"""

from __future__ import annotations

import os

from gpuplan.hardware.model import (
    DEFAULT_HEADROOM_MB,
    GPU,
    MAX_HEADROOM_MB,
    Host,
    MigDevice,
    Source,
    Vendor,
)

__all__ = [
    "DEFAULT_HEADROOM_MB",
    "GPU",
    "Host",
    "MigDevice",
    "Source",
    "Vendor",
    "headroom_from_env",
    "load_host",
]

HARDWARE_ENV = "GPUPLAN_HARDWARE"
HEADROOM_ENV = "GPUPLAN_HEADROOM_MB"


def headroom_from_env(explicit: int | None = None) -> int:
    """Headroom per GPU in MiB: the explicit value, else ``GPUPLAN_HEADROOM_MB``, else 2048."""
    if explicit is not None:
        return explicit
    raw = os.environ.get(HEADROOM_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_HEADROOM_MB
    from gpuplan.errors import HardwareSpecError

    try:
        value = int(raw)
    except ValueError:
        raise HardwareSpecError(
            f"{HEADROOM_ENV}={raw!r} is not a whole number of MiB",
            hint=f"set it like {HEADROOM_ENV}=2048 or unset it",
        ) from None
    if not 0 <= value <= MAX_HEADROOM_MB:
        raise HardwareSpecError(
            f"{HEADROOM_ENV}={raw!r} is out of range", hint=f"use 0 to {MAX_HEADROOM_MB} MiB"
        )
    return value


def load_host(
    spec: str | None = None, *, refresh: bool = False, headroom_mb: int | None = None
) -> Host:
    """The host to plan for: ``spec`` or ``GPUPLAN_HARDWARE`` if given, else detection."""
    headroom = headroom_from_env(headroom_mb)
    # an explicit --hardware "" is a mistake to report; an empty $GPUPLAN_HARDWARE is unset
    spec = spec if spec is not None else os.environ.get(HARDWARE_ENV) or None
    if spec is not None:
        from gpuplan.hardware import declared

        # A saved inventory keeps its own headroom unless the user set one now.
        explicit = headroom_mb is not None or bool(os.environ.get(HEADROOM_ENV, "").strip())
        host = declared.parse_spec(spec, headroom_mb=headroom, override_headroom=explicit)
    else:
        from gpuplan.hardware import detect

        host = detect.detect(refresh=refresh, headroom_mb=headroom)
        explicit = headroom_mb is not None or bool(os.environ.get(HEADROOM_ENV, "").strip())
    if explicit:
        _check_headroom_fits(host)
    return host


def _check_headroom_fits(host: Host) -> None:
    """A headroom the user chose that swallows every GPU leaves nothing to plan with."""
    totals = [gpu.vram_total_mb for gpu in host.gpus if gpu.vram_total_mb]
    if totals and host.headroom_mb_per_gpu >= max(totals):
        from gpuplan.errors import HardwareSpecError

        raise HardwareSpecError(
            f"a headroom of {host.headroom_mb_per_gpu} MiB per GPU leaves nothing usable: "
            f"the largest GPU has {max(totals)} MiB",
            hint="use a smaller --headroom-mb or GPUPLAN_HEADROOM_MB (the default is "
            f"{DEFAULT_HEADROOM_MB})",
        )
