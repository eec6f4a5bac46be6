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
    spec = spec if spec is not None else os.environ.get(HARDWARE_ENV) or None
    if spec:
        from gpuplan.hardware import declared

        # A saved inventory keeps its own headroom unless the user set one now.
        explicit = headroom_mb is not None or bool(os.environ.get(HEADROOM_ENV, "").strip())
        return declared.parse_spec(spec, headroom_mb=headroom, override_headroom=explicit)
    from gpuplan.hardware import detect

    return detect.detect(refresh=refresh, headroom_mb=headroom)
