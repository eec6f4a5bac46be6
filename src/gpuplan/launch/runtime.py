"""Inside a service: which GPU was I given, and what if it is gone? (seed 004's get_target_gpu)

This file is meant to be copied into a service's image or imported from an
installed gpuplan, so it uses the standard library only — no pydantic, no typer,
no torch — and NVML only when ``pynvml`` happens to be importable.

gpuplan pins each service with ``CUDA_VISIBLE_DEVICES`` (``HIP_VISIBLE_DEVICES``
or ``ROCR_VISIBLE_DEVICES`` on AMD), by UUID where known. Inside the process the
visible devices are renumbered from 0, so the ordinal to use is 0 — not the host
index, which is where seed 004's sketch (``torch.cuda.set_device(int(assigned))``)
goes wrong for any GPU but the first. When the assigned device is not on this host
any more (GPU removed or failed), seed 004 says: log a warning and fall back to an
available GPU. A fallback only works if it happens *before* CUDA initialises, so
``get_target_gpu`` rewrites the variable to a device that exists; call it first,
before importing torch or starting the engine.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Mapping, MutableMapping
from typing import Any

__all__ = ["ASSIGNMENT_VARIABLES", "assigned_devices", "get_target_gpu"]

logger = logging.getLogger("gpuplan.runtime")

ASSIGNMENT_VARIABLES = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES")
"""Where gpuplan's launch configs put the assignment, in the order they are read."""


def assigned_devices(environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(variable, value) of the first assignment variable that is set, else None."""
    env = os.environ if environ is None else environ
    for name in ASSIGNMENT_VARIABLES:
        value = env.get(name, "").strip()
        if value:
            return name, value
    return None


def _nvml() -> Any | None:
    """pynvml, initialised, or None when it is not installed or finds no driver."""
    try:
        nvml = importlib.import_module("pynvml")
        nvml.nvmlInit()
    except Exception:  # not installed, no driver, driver/library mismatch: no probe
        return None
    return nvml


def _nvml_devices(nvml: Any) -> list[tuple[str, str]]:
    """(index, uuid) of every GPU NVML sees (MIG instances appear under their parent)."""
    out = []
    for index in range(int(nvml.nvmlDeviceGetCount())):
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        uuid = nvml.nvmlDeviceGetUUID(handle)
        out.append((str(index), uuid.decode() if isinstance(uuid, bytes) else str(uuid)))
    return out


def _missing(wanted: list[str], devices: list[tuple[str, str]], nvml: Any) -> list[str]:
    known = {index for index, _ in devices} | {uuid for _, uuid in devices}
    missing = []
    for item in wanted:
        if item in known:
            continue
        if item.startswith("MIG-"):
            try:
                nvml.nvmlDeviceGetHandleByUUID(item)
                continue
            except Exception:
                pass
        missing.append(item)
    return missing


def get_target_gpu(environ: MutableMapping[str, str] | None = None) -> int:
    """The CUDA/HIP ordinal this service should use: 0, on its assigned device.

    Falls back to the host's first GPU (with a warning) when the assigned one is
    not there, and raises ``RuntimeError("No GPU available")`` when there is none.
    """
    env = os.environ if environ is None else environ
    assignment = assigned_devices(env)
    nvml = _nvml()
    devices = _nvml_devices(nvml) if nvml is not None else None
    if assignment is not None:
        name, value = assignment
        if devices is None or name != "CUDA_VISIBLE_DEVICES":
            return 0  # cannot check from here: trust the assignment
        wanted = [item.strip() for item in value.split(",") if item.strip()]
        missing = _missing(wanted, devices, nvml)
        if not missing:
            return 0
        reason = f"not on this host (NVML sees {len(devices)} GPU(s))"
        logger.warning("Assigned GPU %s unavailable: %s, falling back", ",".join(missing), reason)
        if devices:
            env[name] = devices[0][1]
            return 0
        raise RuntimeError("No GPU available")
    if devices:
        return 0
    if devices is None and any(os.path.exists(p) for p in ("/dev/nvidia0", "/dev/kfd")):
        return 0
    raise RuntimeError("No GPU available")
