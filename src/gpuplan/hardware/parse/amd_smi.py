"""amd-smi ``static`` / ``metric`` / ``list`` ``--json`` output → ``Inventory``.

amd-smi is AMD's tool from ROCm 6 on. Its JSON is regular but moved between
releases (INDEX.md quirks 25-27): a bare array up to ROCm 6.3, ``{"gpu_data": […]}``
from ROCm 7; numbers are ``{"value": N, "unit": "MB"}`` objects except where the
plain string ``"N/A"`` stands in; "MB" means MiB. The three subcommands say
different things about the same GPUs, so one reader takes whatever an entry
holds:

* ``static`` — product name (``asic.market_name``), gfx target, VRAM size, driver;
* ``metric`` — VRAM total and use, no name;
* ``list`` — PCI address and UUID only.

``merge`` combines a ``static`` and a ``metric`` reading of one machine.
Equivalent command: ``amd-smi static --json``.
"""

from __future__ import annotations

from collections.abc import Mapping

from gpuplan.errors import ToolOutputError
from gpuplan.hardware.model import GPU
from gpuplan.hardware.parse import Inventory, clean
from gpuplan.hardware.parse.rocm_smi import (
    MEMORY_UNITS,
    Issue,
    fallback_name,
    group_issues,
    load_json,
    marketing_name,
    normalise_gfx,
    to_mib,
)

__all__ = ["NO_NAME_WARNING", "merge", "parse"]

COMMAND = "amd-smi static --json"

NO_NAME_WARNING = (
    "amd-smi printed no product name for some GPUs (metric and list output never do); "
    "`amd-smi static --json` gives names"
)

_APU_TARGETS = frozenset(
    {"gfx90c", "gfx1035", "gfx1036", "gfx1037", "gfx1103", "gfx1150", "gfx1151", "gfx1152"}
)
"""gfx targets that exist only as APUs (Renoir/Cezanne … Strix Halo)."""

_MAX_INDEX = 1 << 16
"""Larger GPU numbers are corrupt output; the entry's position is used instead."""

Entry = Mapping[str, object]


def parse(text: str) -> Inventory:
    """Any of the three subcommands' JSON, bare array or ``gpu_data`` wrapper."""
    entries = _entries(load_json(text, tool="amd-smi", command=COMMAND))
    gpus: list[GPU] = []
    issues: list[Issue] = []
    drivers: list[str] = []
    unnamed = False
    for position, raw in enumerate(entries):
        if not isinstance(raw, dict):
            issues.append((position, "entry is not a JSON object; skipped"))
            continue
        gpu, named, gpu_issues = _gpu(raw, position)
        gpus.append(gpu)
        unnamed = unnamed or not named
        issues.extend((gpu.index, issue) for issue in gpu_issues)
        if driver := _text(_section(raw, "driver"), "version"):
            drivers.append(driver)
    warnings = group_issues(issues, noun="GPU")
    if unnamed:
        warnings = (NO_NAME_WARNING, *warnings)
    if not gpus:
        warnings = ("amd-smi listed no GPUs", *warnings)
    return Inventory(
        gpus=tuple(sorted(gpus, key=lambda gpu: gpu.index)),
        driver_version=drivers[0] if drivers else None,
        warnings=warnings,
    )


def merge(static: Inventory, metric: Inventory) -> Inventory:
    """``static`` (names, targets) completed by ``metric`` (memory in use), matched by index.

    The static reading wins wherever it has a value; memory use only exists in
    the metric one. A GPU only one of them lists is kept as that one saw it. The
    metric reading's "no product name" warning is dropped once every GPU it
    listed got a name from the static one.
    """
    by_index = {gpu.index: gpu for gpu in metric.gpus}
    merged = [_merge_gpu(gpu, by_index.pop(gpu.index, None)) for gpu in static.gpus]
    merged.extend(by_index.values())
    metric_warnings = tuple(
        warning for warning in metric.warnings if by_index or warning != NO_NAME_WARNING
    )
    return Inventory(
        gpus=tuple(sorted(merged, key=lambda gpu: gpu.index)),
        driver_version=static.driver_version or metric.driver_version,
        cuda_version=static.cuda_version or metric.cuda_version,
        warnings=tuple(dict.fromkeys((*static.warnings, *metric_warnings))),
    )


def _merge_gpu(static: GPU, metric: GPU | None) -> GPU:
    if metric is None:
        return static
    update = {
        field: getattr(metric, field)
        for field in ("uuid", "vram_total_mb", "vram_used_mb", "vram_free_mb", "pci_bus_id")
        if getattr(static, field) is None and getattr(metric, field) is not None
    }
    total = update.get("vram_total_mb", static.vram_total_mb)
    if total is not None and any(
        (update.get(field) or 0) > total for field in ("vram_used_mb", "vram_free_mb")
    ):  # readings of two different devices: use figures that belong together or none
        update.pop("vram_used_mb", None)
        update.pop("vram_free_mb", None)
    return static.model_copy(update=update)


def _entries(data: object) -> list[object]:
    """The per-GPU entries: bare array (ROCm 6.x) or ``{"gpu_data": […]}`` (ROCm 7)."""
    if isinstance(data, dict) and isinstance(data.get("gpu_data"), list):
        entries: list[object] = data["gpu_data"]
        return entries
    if isinstance(data, dict) and "gpu" in data:
        return [data]
    if isinstance(data, list):
        return data
    raise ToolOutputError(
        "amd-smi --json printed neither a list of GPUs nor a 'gpu_data' object",
        hint=f"run `{COMMAND}`",
    )


def _gpu(entry: Entry, position: int) -> tuple[GPU, bool, list[str]]:
    """The entry's GPU, whether it carried a product name, and what was wrong with it."""
    asic, board, vram = _section(entry, "asic"), _section(entry, "board"), _section(entry, "vram")
    usage = _section(entry, "mem_usage")
    issues: list[str] = []
    total = _mib(vram.get("size"))
    if total is None:
        total = _mib(usage.get("total_vram"))
    used = _mib(usage.get("used_vram"))
    free = _mib(usage.get("free_vram"))
    if total is not None and any(v is not None and v > total for v in (used, free)):
        issues.append(  # an APU's carve-out, or readings of another device: not this total
            f"memory in use or free is more than the {total} MiB VRAM size; "
            "planned on the size alone"
        )
        used = free = None
    if free is None and total is not None and used is not None and used <= total:
        free = total - used
    if total is None:
        issues.append("no VRAM size in the output; run `amd-smi static --json` or `amd-smi metric`")
    architecture = normalise_gfx(_text(asic, "target_graphics_version"))
    unified = _is_apu(_text(vram, "type"), architecture)
    if unified:
        issues.append(
            "an APU: its VRAM figure is only the BIOS carve-out; it also uses system RAM "
            "(GTT), so usable memory depends on host RAM"
        )
    name = _name(asic, board)
    gpu = GPU(
        index=_index(entry.get("gpu"), position),
        name=name or fallback_name(sku=None, device_id=_text(asic, "device_id")),
        vendor="amd",
        uuid=_text(entry, "uuid") or _text(asic, "uuid"),
        vram_total_mb=total,
        vram_used_mb=used,
        vram_free_mb=free,
        architecture=architecture,
        pci_bus_id=_text(_section(entry, "bus"), "bdf") or _text(entry, "bdf"),
        unified_memory=unified,
    )
    return gpu, name is not None, issues


def _name(asic: Entry, board: Entry) -> str | None:
    vendor = _text(asic, "vendor_name") or _text(board, "manufacturer_name")
    candidates = (_text(asic, "market_name"), _text(board, "product_name"))
    return marketing_name(candidates, vendor=vendor)


def _is_apu(vram_type: str | None, architecture: str | None) -> bool:
    """APU when the memory type is ``UNKNOWN`` (carve-out, quirk 27) or the target is APU-only.

    Discrete cards report HBM or GDDR. MI300A (an APU sharing gfx942 with the
    discrete MI300X) reports HBM and is not caught here.
    """
    if vram_type is not None and vram_type.upper() == "UNKNOWN":
        return True
    return architecture in _APU_TARGETS


def _mib(value: object) -> int | None:
    """``{"value": N, "unit": "MB"}``, ``"196592 MB"`` or a bare number → MiB; else None.

    amd-smi's "MB" is MiB (quirk 26: 196592 MB = 206141652992 B / 2^20).
    """
    if isinstance(value, dict):
        unit = value.get("unit", "MB")
        number = value.get("value")
        if not isinstance(unit, str) or unit.strip().lower() not in MEMORY_UNITS:
            return None
        return _mib_number(number, unit.strip())
    return _mib_number(value, "MB")


def _mib_number(number: object, unit: str) -> int | None:
    if isinstance(number, bool) or not isinstance(number, str | int | float):
        return None
    if isinstance(number, float) and not number.is_integer():
        number = str(number)
    elif isinstance(number, float):
        number = int(number)
    return to_mib(str(number), unit=unit)


def _index(value: object, position: int) -> int:
    """The ``gpu`` number amd-smi printed; its position when that is missing or corrupt."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _MAX_INDEX:
        return value
    return position


def _section(entry: Entry, key: str) -> Entry:
    value = entry.get(key)
    return value if isinstance(value, dict) else {}


def _text(mapping: Entry, key: str) -> str | None:
    value = mapping.get(key)
    return clean(value) if isinstance(value, str) else None
