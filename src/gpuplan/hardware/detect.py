"""Detect this machine's GPUs: NVML, then nvidia-smi, amd-smi, rocm-smi, else CPU only.

Each source is tried in order until one finds a GPU. A source that is absent
(no library, no binary) is only noted in ``Host.tried``; one that is present but
misbehaves (hangs, exits non-zero, prints garbage) also becomes a warning, since
the user probably expected it to work. Nothing here raises for a broken
machine: the worst case is a CPU-only host that says what was tried.

``GPUPLAN_DETECT_SOURCES`` (e.g. ``nvidia-smi,cpu``) restricts and orders the
sources, for machines where one of them is known to be wrong.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from gpuplan.errors import GpuplanError, HardwareSpecError
from gpuplan.hardware import nvml
from gpuplan.hardware.model import DEFAULT_HEADROOM_MB, GPU, Host, Source
from gpuplan.hardware.parse import Inventory, amd_smi, nvidia_csv, nvidia_list, rocm_smi
from gpuplan.hardware.tools import DEFAULT_TIMEOUT_S, ToolFailure, run_tool, which

log = logging.getLogger(__name__)

SOURCES_ENV = "GPUPLAN_DETECT_SOURCES"
TIMEOUT_ENV = "GPUPLAN_DETECT_TIMEOUT_S"


class SourceAbsent(Exception):
    """The source is not installed here: noted, not warned about."""


@dataclass(frozen=True)
class Probe:
    """One detection source: a name and a function returning what it found."""

    name: Source
    run: Callable[[float], Inventory]


def _probe_nvml(_timeout_s: float) -> Inventory:
    try:
        return nvml.query()
    except nvml.NvmlUnavailable as exc:
        message = str(exc)
        if "not found" in message or "not installed" in message:
            raise SourceAbsent(message) from exc
        raise ToolFailure("NVML", message) from exc


def _probe_nvidia_smi(timeout_s: float) -> Inventory:
    """Seed 000's query; drivers that predate compute_cap get the query without it."""
    if which("nvidia-smi") is None:
        raise SourceAbsent("nvidia-smi not found on PATH")
    fields = list(nvidia_csv.SEED_QUERY_FIELDS)
    notes: list[str] = []
    try:
        text = run_tool(_nvidia_smi_query(fields), timeout_s=timeout_s)
    except ToolFailure as failure:
        if not nvidia_csv.is_unsupported_field_error(failure.reason):
            raise
        fields.remove("compute_cap")
        notes.append(
            "this nvidia-smi cannot report compute_cap (driver too old); queried without it"
        )
        text = run_tool(_nvidia_smi_query(fields), timeout_s=timeout_s)
    inventory = nvidia_csv.parse(text, columns=fields)
    inventory = _attach_mig(inventory, timeout_s)
    return replace(inventory, warnings=(*inventory.warnings, *notes))


def _nvidia_smi_query(fields: list[str]) -> list[str]:
    return ["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"]


def _attach_mig(inventory: Inventory, timeout_s: float) -> Inventory:
    """--query-gpu shows one row per physical GPU; MIG slices only appear in -L."""
    try:
        listing = nvidia_list.parse(run_tool(["nvidia-smi", "-L"], timeout_s=timeout_s))
    except (ToolFailure, GpuplanError) as exc:
        return replace(inventory, warnings=(*inventory.warnings, f"MIG listing unavailable: {exc}"))
    by_uuid = {gpu.uuid: gpu for gpu in listing.gpus if gpu.uuid}
    by_index = {gpu.index: gpu for gpu in listing.gpus}
    gpus = []
    misfits: list[str] = []
    for gpu in inventory.gpus:
        listed = (by_uuid.get(gpu.uuid) if gpu.uuid else None) or by_index.get(gpu.index)
        if listed is not None and listed.mig_devices:
            try:
                gpu = gpu.model_copy(update={"mig_devices": listed.mig_devices, "mig_mode": True})
            except ValueError as exc:  # a listing that does not fit its GPU is not used
                misfits.append(f"GPU {gpu.index}: MIG listing ignored: {exc}")
        gpus.append(gpu)
    # Only the listing's MIG notes apply: the query already gave memory and names.
    notes = (
        tuple(w for w in listing.warnings if "MIG" in w) if any(g.mig_devices for g in gpus) else ()
    )
    warnings = (*inventory.warnings, *notes, *misfits)
    return replace(inventory, gpus=tuple(gpus), warnings=warnings)


def _probe_amd_smi(timeout_s: float) -> Inventory:
    if which("amd-smi") is None:
        raise SourceAbsent("amd-smi not found on PATH")
    static = amd_smi.parse(run_tool(["amd-smi", "static", "--json"], timeout_s=timeout_s))
    try:  # memory in use lives in `metric`; without it we still know the GPUs
        metric = amd_smi.parse(run_tool(["amd-smi", "metric", "--json"], timeout_s=timeout_s))
    except (ToolFailure, GpuplanError) as exc:
        return replace(static, warnings=(*static.warnings, f"amd-smi metric unavailable: {exc}"))
    return amd_smi.merge(static, metric)


def _probe_rocm_smi(timeout_s: float) -> Inventory:
    if which("rocm-smi") is None:
        raise SourceAbsent("rocm-smi not found on PATH")
    command = ["rocm-smi", "--showproductname", "--showmeminfo", "vram", "--json"]
    return rocm_smi.parse(run_tool(command, timeout_s=timeout_s))


PROBES: tuple[Probe, ...] = (
    Probe("nvml", _probe_nvml),
    Probe("nvidia-smi", _probe_nvidia_smi),
    Probe("amd-smi", _probe_amd_smi),
    Probe("rocm-smi", _probe_rocm_smi),
)


def system_ram_mb() -> int | None:
    """Physical RAM of this host in MiB, or None where the OS does not say."""
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    if pages <= 0 or page_size <= 0:
        return None
    return int(pages * page_size // (1024 * 1024))


def selected_probes(probes: tuple[Probe, ...] = PROBES) -> tuple[Probe, ...]:
    """The probes ``GPUPLAN_DETECT_SOURCES`` asks for, in its order (all by default)."""
    raw = os.environ.get(SOURCES_ENV, "").strip()
    if not raw:
        return probes
    by_name = {probe.name: probe for probe in probes}
    chosen: list[Probe] = []
    for name in (part.strip() for part in raw.split(",")):
        if name == "cpu":
            break
        if name not in by_name:
            known = ", ".join([*by_name, "cpu"])
            raise HardwareSpecError(
                f"{SOURCES_ENV} names an unknown source {name!r}", hint=f"use some of: {known}"
            )
        chosen.append(by_name[name])
    return tuple(chosen)


def _timeout_from_env() -> float:
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= 3600):
        raise HardwareSpecError(
            f"{TIMEOUT_ENV}={raw[:20]!r} is not a number of seconds above 0 and at most 3600",
            hint="e.g. 10, or unset it",
        )
    return value


def run_probes(
    probes: tuple[Probe, ...], *, headroom_mb: int = DEFAULT_HEADROOM_MB, timeout_s: float
) -> Host:
    """Try ``probes`` in order; the first that finds a GPU gives the host."""
    tried: list[str] = []
    warnings: list[str] = []
    for probe in probes:
        try:
            inventory = probe.run(timeout_s)
        except SourceAbsent as absent:
            tried.append(f"{probe.name}: {absent}")
            continue
        except (ToolFailure, GpuplanError) as failure:
            tried.append(f"{probe.name}: failed")
            warnings.append(f"{probe.name} failed, trying the next source: {failure}")
            continue
        if not inventory.gpus:
            tried.append(f"{probe.name}: no GPU")
            warnings.extend(inventory.warnings)
            continue
        tried.append(f"{probe.name}: {len(inventory.gpus)} GPU(s)")
        nvidia = probe.name in ("nvml", "nvidia-smi") and len(inventory.gpus) > 1
        return Host(
            source=probe.name,
            gpus=tuple(sorted(inventory.gpus, key=lambda gpu: gpu.index)),
            headroom_mb_per_gpu=headroom_mb,
            driver_version=inventory.driver_version,
            cuda_version=inventory.cuda_version,
            system_ram_mb=system_ram_mb(),
            warnings=(*warnings, *inventory.warnings),
            tried=tuple(tried),
            nvlink_groups=nvlink_groups(timeout_s) if nvidia else (),
        )
    return Host(
        source="cpu",
        headroom_mb_per_gpu=headroom_mb,
        system_ram_mb=system_ram_mb(),
        warnings=tuple(warnings),
        tried=tuple(tried),
    )


def nvlink_groups(timeout_s: float) -> tuple[tuple[int, ...], ...]:
    """GPUs joined by NVLink, from `nvidia-smi topo -m`; () when it cannot say.

    Only placement's preference for tensor-parallel sets depends on it, so a
    missing tool or unreadable matrix is logged, never a warning.
    """
    from gpuplan.hardware.parse.nvidia_topo import parse_topology

    if which("nvidia-smi") is None:
        return ()
    try:
        return parse_topology(run_tool(["nvidia-smi", "topo", "-m"], timeout_s=timeout_s))
    except (ToolFailure, GpuplanError) as error:
        log.info("no NVLink topology: %s", error)
        return ()


_cache: dict[int, Host] = {}
_lock = threading.Lock()


def detect(*, refresh: bool = False, headroom_mb: int = DEFAULT_HEADROOM_MB) -> Host:
    """This machine's host, detected once per process (``refresh`` re-detects)."""
    with _lock:
        if refresh:
            _cache.clear()
        if headroom_mb not in _cache:
            host = run_probes(
                selected_probes(), headroom_mb=headroom_mb, timeout_s=_timeout_from_env()
            )
            _log_host(host)
            _cache[headroom_mb] = host
        return _cache[headroom_mb]


def clear_cache() -> None:
    """Forget the detected host, e.g. after a GPU was added or a driver reloaded."""
    with _lock:
        _cache.clear()


def _log_host(host: Host) -> None:
    """Seed 001's startup log: count, one line per GPU, usable total."""
    for warning in host.warnings:
        log.warning(warning)
    if not host.gpus:
        log.info("No GPU detected (%s); CPU only", "; ".join(host.tried) or "no source tried")
        return
    log.info("Detected %d GPU(s) via %s", host.gpu_count, host.source)
    for gpu in host.gpus:
        log.info("  GPU %d: %s (%sMB VRAM)", gpu.index, gpu.name, _mib(gpu))
    log.info(
        "Hardware: %d GPU(s), %dMB usable VRAM (after headroom)",
        host.gpu_count,
        host.total_usable_vram_mb,
    )


def _mib(gpu: GPU) -> str:
    return str(gpu.vram_total_mb) if gpu.vram_total_mb is not None else "?"
