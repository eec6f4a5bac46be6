"""Profile definitions, the hardware and explicit flags as provenance-carrying layers.

Each source of values becomes a ``Layer`` (see ``provenance``); resolution stacks
them in its fixed order and merges once. Built here: a catalog entry (every key
with its file and line), an explicit flag, and the hardware's budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import ValidationError

from gpuplan.hardware.model import Host
from gpuplan.profiles.catalog import Catalog
from gpuplan.profiles.lines import KeyPath
from gpuplan.profiles.model import DeploymentProfile
from gpuplan.profiles.provenance import Layer, Origin, leaves, merge_layers
from gpuplan.profiles.sources import ProfileEntry


def usable_entries(
    entries: Sequence[ProfileEntry], warnings: list[str]
) -> tuple[ProfileEntry, ...]:
    """Broken definitions are skipped (with a warning) when no one asked for them by name."""
    kept = []
    for entry in entries:
        if entry.broken:
            first = next(i for i in entry.issues if i.severity == "error")
            warnings.append(f"{entry.label} is broken and was skipped: {first}")
        else:
            kept.append(entry)
    return tuple(kept)


def merged_profile(name: str, catalog: Catalog) -> DeploymentProfile | None:
    """A catalog profile's definitions merged, without the hardware; None if broken."""
    entries = [e for e in catalog.layers(name) if e.kind != "path" and not e.broken]
    if not entries:
        return None
    merged, _ = merge_layers(entry_layers(entries))
    try:
        return DeploymentProfile.model_validate(merged)
    except ValidationError:
        return None


def entry_layer(
    entry: ProfileEntry,
    *,
    only: str | None = None,
    kind: Literal["rule"] | None = None,
    label: str | None = None,
) -> Layer:
    data = {only: entry.data[only]} if only is not None else dict(entry.data)
    base = Origin(
        kind=kind or entry.kind,
        label=f"{label} {entry.label}" if label else entry.label,
        file=entry.file,
    )
    origins: dict[KeyPath, Origin] = {
        path: base.model_copy(update={"line": entry.line_of(path)}) for path in leaves(data)
    }
    return Layer(data=data, origin=base, origins=origins)


def entry_layers(entries: Sequence[ProfileEntry]) -> list[Layer]:
    return [entry_layer(e) for e in entries]


def override_layer(field: str, value: Any, origin: Origin) -> Layer:
    data: dict[str, Any] = {}
    node = data
    *parents, last = field.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return Layer(data=data, origin=origin)


def headroom_of(layers: Sequence[Layer], host: Host) -> int:
    merged, _ = merge_layers(layers)
    value = merged.get("headroom_mb")
    return value if isinstance(value, int) and value >= 0 else host.headroom_mb_per_gpu


def usable_with(host: Host, headroom_mb: int) -> int:
    """The host's usable VRAM under another headroom (the host's own rule: MIG, floors)."""
    return host.model_copy(update={"headroom_mb_per_gpu": headroom_mb}).total_usable_vram_mb


def hardware_layer(host: Host, headroom: int) -> list[Layer]:
    """All usable VRAM as the budget, for profiles that set none (seed 002's)."""
    if not host.gpus:
        return []
    usable = usable_with(host, headroom)
    origin = Origin(
        kind="hardware",
        label=f"all usable VRAM of {host.summary()}: total − {headroom} MiB per GPU",
    )
    return [Layer(data={"max_vram_mb": usable}, origin=origin)]
