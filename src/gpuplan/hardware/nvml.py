"""The one place gpuplan talks to NVML (nvidia-ml-py), with its errors in words.

NVML is the first detection source because it is exact (bytes, not rounded
text) and fast. Its failures are common and benign (a container without
libnvidia-ml, a driver mid-upgrade), so each is explained as a sentence and the
caller falls back to nvidia-smi. A single lost GPU becomes a warning, not a
failure of the whole machine (gpustat's habit).

Each query names its nvidia-smi equivalent so the two sources can be compared.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection
from types import ModuleType
from typing import Any

from gpuplan.hardware.model import GPU, MigDevice
from gpuplan.hardware.parse import Inventory

log = logging.getLogger(__name__)

_BYTES_PER_MIB = 1024 * 1024


class NvmlUnavailable(Exception):
    """NVML cannot be used on this machine; the message says why in words."""


_EXPLANATIONS = {
    "NVMLError_LibraryNotFound": "NVIDIA driver library libnvidia-ml.so not found",
    "NVMLError_DriverNotLoaded": "NVIDIA kernel driver is not loaded",
    "NVMLError_LibRmVersionMismatch": (
        "NVIDIA driver and library versions differ (reboot after the driver update)"
    ),
    "NVMLError_NoPermission": "no permission to query the NVIDIA driver",
    "NVMLError_FunctionNotFound": "NVIDIA driver too old for this NVML call",
    "NVMLError_Uninitialized": "NVML was not initialised",
    "NVMLError_Unknown": "NVML reported an unknown error",
}


def explain(error: BaseException) -> str:
    """A sentence for an NVML error, e.g. 'NVIDIA kernel driver is not loaded'."""
    for klass in type(error).__mro__:
        if klass.__name__ in _EXPLANATIONS:
            return _EXPLANATIONS[klass.__name__]
    return f"NVML error: {error}"


def _load() -> ModuleType:
    try:
        import pynvml
    except ImportError as exc:  # pragma: no cover - nvidia-ml-py is a dependency
        raise NvmlUnavailable("nvidia-ml-py is not installed") from exc
    module: ModuleType = pynvml
    return module


def _text(value: str | bytes) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def query(nvml: Any | None = None) -> Inventory:
    """All GPUs with memory, compute capability and MIG instances.

    Equivalent: ``nvidia-smi --query-gpu=index,name,uuid,memory.total,memory.free,
    memory.used,compute_cap,mig.mode.current --format=csv`` plus ``nvidia-smi -L``.
    ``nvml`` is the pynvml module, replaceable by a fake in tests.
    """
    lib: Any = nvml if nvml is not None else _load()
    try:
        lib.nvmlInit()
    except lib.NVMLError as exc:
        raise NvmlUnavailable(explain(exc)) from exc
    try:
        return _query_initialised(lib)
    finally:
        with contextlib.suppress(lib.NVMLError):
            lib.nvmlShutdown()


def process_memory_mb(pids: Collection[int], nvml: Any | None = None) -> dict[int, int]:
    """MiB each GPU holds for the processes ``pids`` (a backend's process group), by GPU index.

    Equivalent: ``nvidia-smi --query-compute-apps=pid,gpu_uuid,used_memory --format=csv``.
    A GPU that cannot say (no permission, lost) is left out, not fatal.
    """
    lib: Any = nvml if nvml is not None else _load()
    try:
        lib.nvmlInit()
    except lib.NVMLError as exc:
        raise NvmlUnavailable(explain(exc)) from exc
    wanted = set(pids)
    held: dict[int, int] = {}
    try:
        for index in range(int(lib.nvmlDeviceGetCount())):
            try:
                handle = lib.nvmlDeviceGetHandleByIndex(index)
                processes = lib.nvmlDeviceGetComputeRunningProcesses(handle)
            except lib.NVMLError as exc:
                log.debug("GPU %d: no per-process memory: %s", index, explain(exc))
                continue
            used = sum(
                int(p.usedGpuMemory or 0) for p in processes if int(p.pid) in wanted
            )  # usedGpuMemory is None where the driver does not say (WDDM)
            if used:
                held[index] = used // _BYTES_PER_MIB
    except lib.NVMLError as exc:
        raise NvmlUnavailable(explain(exc)) from exc
    finally:
        with contextlib.suppress(lib.NVMLError):
            lib.nvmlShutdown()
    return held


def _query_initialised(lib: Any) -> Inventory:
    warnings: list[str] = []
    driver = _optional(lib, lambda: _text(lib.nvmlSystemGetDriverVersion()))
    cuda_raw = _optional(lib, lambda: int(lib.nvmlSystemGetCudaDriverVersion_v2()))
    cuda = f"{cuda_raw // 1000}.{(cuda_raw % 1000) // 10}" if cuda_raw else None
    try:
        count = int(lib.nvmlDeviceGetCount())
    except lib.NVMLError as exc:
        raise NvmlUnavailable(explain(exc)) from exc
    gpus: list[GPU] = []
    for index in range(count):
        try:
            gpus.append(_device(lib, index))
        except lib.NVMLError as exc:
            warnings.append(f"GPU {index} could not be read through NVML: {explain(exc)}")
        except ValueError as exc:  # figures that contradict each other: not a GPU to plan on
            warnings.append(f"GPU {index}: NVML gave impossible figures, left out: {exc}")
    return Inventory(
        gpus=tuple(gpus), driver_version=driver, cuda_version=cuda, warnings=tuple(warnings)
    )


def _device(lib: Any, index: int) -> GPU:
    """One GPU. Equivalent: ``nvidia-smi -i INDEX -q``."""
    handle = lib.nvmlDeviceGetHandleByIndex(index)
    memory = lib.nvmlDeviceGetMemoryInfo(handle)
    cc = _optional(lib, lambda: lib.nvmlDeviceGetCudaComputeCapability(handle))
    mig_enabled = _mig_mode(lib, handle)
    return GPU(
        index=index,
        name=_text(lib.nvmlDeviceGetName(handle)),
        vendor="nvidia",
        uuid=_optional(lib, lambda: _text(lib.nvmlDeviceGetUUID(handle))),
        vram_total_mb=int(memory.total) // _BYTES_PER_MIB,
        vram_free_mb=int(memory.free) // _BYTES_PER_MIB,
        vram_used_mb=int(memory.used) // _BYTES_PER_MIB,
        compute_capability=f"{cc[0]}.{cc[1]}" if cc else None,
        mig_mode=mig_enabled,
        mig_devices=_mig_devices(lib, handle) if mig_enabled else (),
        pci_bus_id=_optional(lib, lambda: _text(lib.nvmlDeviceGetPciInfo(handle).busId)),
    )


def _mig_mode(lib: Any, handle: Any) -> bool | None:
    """None when the GPU has no MIG support. Equivalent: ``--query-gpu=mig.mode.current``."""
    try:
        current, _pending = lib.nvmlDeviceGetMigMode(handle)
    except lib.NVMLError:
        return None
    return bool(current == getattr(lib, "NVML_DEVICE_MIG_ENABLE", 1))


def _mig_devices(lib: Any, handle: Any) -> tuple[MigDevice, ...]:
    """MIG instances with their own memory. Equivalent: ``nvidia-smi -L``."""
    devices: list[MigDevice] = []
    maximum = _optional(lib, lambda: int(lib.nvmlDeviceGetMaxMigDeviceCount(handle))) or 0
    for slot in range(maximum):
        try:
            mig = lib.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
        except lib.NVMLError:
            continue  # empty slot
        memory = _optional(lib, lambda m=mig: lib.nvmlDeviceGetMemoryInfo(m))
        name = _optional(lib, lambda m=mig: _text(lib.nvmlDeviceGetName(m))) or ""
        _, _, profile = name.partition(" MIG ")
        devices.append(
            MigDevice(
                index=len(devices),
                profile=profile or None,
                uuid=_optional(lib, lambda m=mig: _text(lib.nvmlDeviceGetUUID(m))),
                vram_total_mb=int(memory.total) // _BYTES_PER_MIB if memory else None,
                vram_free_mb=int(memory.free) // _BYTES_PER_MIB if memory else None,
                gpu_instance_id=_optional(
                    lib, lambda m=mig: int(lib.nvmlDeviceGetGpuInstanceId(m))
                ),
                compute_instance_id=_optional(
                    lib, lambda m=mig: int(lib.nvmlDeviceGetComputeInstanceId(m))
                ),
            )
        )
    return tuple(devices)


def _optional(lib: Any, call: Any) -> Any:
    """The value of ``call()``, or None when this driver does not support it."""
    try:
        return call()
    except lib.NVMLError as exc:
        log.debug("NVML call unsupported: %s", explain(exc))
        return None


def live_usage(nvml: Any | None = None) -> dict[int, tuple[int, int | None]]:
    """GPU index → (used MiB, utilisation %) right now, for seed 004's live GPU cards.

    Equivalent: ``nvidia-smi --query-gpu=index,memory.used,utilization.gpu
    --format=csv``. Empty when NVML is not there (no driver, no GPU): callers
    then show the detected snapshot.
    """
    try:
        lib: Any = nvml if nvml is not None else _load()
    except NvmlUnavailable:
        return {}
    try:
        lib.nvmlInit()
    except lib.NVMLError:  # no driver, no GPU: no live data
        return {}
    usage: dict[int, tuple[int, int | None]] = {}
    try:
        for index in range(int(lib.nvmlDeviceGetCount())):
            try:
                handle = lib.nvmlDeviceGetHandleByIndex(index)
                used = int(lib.nvmlDeviceGetMemoryInfo(handle).used) // _BYTES_PER_MIB
            except lib.NVMLError:
                continue
            rates = _optional(lib, lambda h=handle: lib.nvmlDeviceGetUtilizationRates(h))
            usage[index] = (used, int(rates.gpu) if rates is not None else None)
    except lib.NVMLError:
        return usage
    finally:
        with contextlib.suppress(lib.NVMLError):
            lib.nvmlShutdown()
    return usage
