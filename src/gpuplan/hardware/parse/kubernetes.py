"""A Kubernetes node's GPU facts → ``Inventory``.

On a cluster the GPUs are described by labels that NVIDIA's GPU Feature
Discovery (GFD) puts on each node, and by the resources the device plugin
advertises in ``status.capacity``. Both are lossy (INDEX.md quirks 28-32):

* label values are strings, and product names have ``-`` for spaces, plus
  ``-SHARED`` (time-slicing) or ``-MIG-1g.5gb`` (MIG single strategy) suffixes;
* ``nvidia.com/gpu.memory`` is MiB, except in an old GFD that wrote bytes;
* ``nvidia.com/gpu.count`` counts physical GPUs while ``capacity["nvidia.com/gpu"]``
  counts what pods can request: time-slice replicas, MIG slices, or 0 under the
  MIG mixed strategy. Under the MIG single strategy the labels describe the
  slice, not the GPU.

So the inventory holds one ``GPU`` per physical GPU, rebuilt from the labels;
capacity alone gives only a count of schedulable devices, with a warning.

Accepted input: a label map (JSON, or a ``grep`` fragment of one), a
``status.capacity`` map, a node or ``status`` document (JSON or YAML), or a
``kubectl get nodes -o json`` list. Equivalent command:
``kubectl get node NAME -o json``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from gpuplan.errors import ToolOutputError
from gpuplan.hardware.model import GPU, MigDevice
from gpuplan.hardware.parse import Inventory

__all__ = ["parse", "restore_product_name"]

COMMAND = "kubectl get node NAME -o json"

Strings = dict[str, str]
"""A label or resource map with every value as text (quirk 32)."""

_MAX_COUNT = 4096
"""More GPUs or MIG devices than this on one node is corrupt output."""

_BYTES_ABOVE_MIB = 1 << 24
"""A gpu.memory above 16 TiB-as-MiB can only be bytes (quirk 29: 16106127360 for a T4)."""

_GI_SLICES_PER_GPU = 7
"""GPU-instance slices of a whole A100/H100/H200/B200; MIG profiles are fractions of it."""

_GI_SLICES_BY_MODEL = {"A30": 4}
"""GPUs whose MIG geometry differs from seven slices."""

_FRAGMENT_LINE = re.compile(r'^\s*"(?P<key>[^"\\]*)"\s*:\s*"(?P<value>[^"\\]*)"\s*,?\s*$')
_DIGITS = re.compile(r"^\s*[0-9]{1,20}\s*$")
_MIG_SUFFIX = re.compile(r"-MIG-(?P<profile>[0-9A-Za-z.+_]+)$")
_MIG_COUNT_LABEL = re.compile(r"^nvidia\.com/mig-(?P<profile>[^/]+)\.count$")
_PROFILE_GB = re.compile(r"(?P<gb>[0-9]+)gb", re.IGNORECASE)
_FORM_FACTOR = re.compile(r"^(SXM[0-9]*|PCIE)$")
_SIZE = re.compile(r"^[0-9]+GB$")
_VGPU_PROFILE = re.compile(r"^[0-9]+[A-Z]$")
_LABEL_PREFIXES = ("nvidia.com/gpu.", "nvidia.com/cuda.", "nvidia.com/mig.", "amd.com/gpu.")


def parse(text: str) -> Inventory:
    """GPU facts from any of the accepted node documents (see the module docstring)."""
    nodes = _nodes(_load(text))
    parts = [_node_inventory(labels, capacity) for labels, capacity in nodes]
    return _combine(parts)


@dataclass(frozen=True)
class _Product:
    """``nvidia.com/gpu.product`` taken apart."""

    name: str
    mig_profile: str | None
    shared: bool


@dataclass(frozen=True)
class _MigState:
    """What the labels say about MIG, and the physical GPUs that follows from it."""

    physical: int
    mode: bool | None
    vram_total_mb: int | None
    layout: list[list[MigDevice]]
    notes: list[str]


@dataclass(frozen=True)
class _MigProfile:
    """One ``nvidia.com/mig-<profile>.*`` label group (MIG mixed strategy)."""

    profile: str
    count: int
    memory_mb: int | None
    gi_slices: int


# --- reading the document ----------------------------------------------------------


def _load(text: str) -> object:
    """JSON first, then a ``"key": "value",`` grep fragment (quirk 32), then YAML."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    fragment = _label_fragment(text)
    if fragment is not None:
        return fragment
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, OverflowError, RecursionError) as exc:
        raise ToolOutputError(
            "Kubernetes node output is neither JSON nor YAML",
            hint=f"save the output of `{COMMAND}`",
        ) from exc


def _label_fragment(text: str) -> Strings | None:
    """A ``… | grep nvidia`` excerpt of a label map: not JSON, but every line is one label."""
    lines = [line for line in text.splitlines() if line.strip()]
    matches = [_FRAGMENT_LINE.match(line) for line in lines]
    if not lines or not all(matches):
        return None
    return {match.group("key"): match.group("value") for match in matches if match}


def _nodes(document: object) -> list[tuple[Strings, Strings]]:
    """(labels, capacity) per node, whatever part of a node the document holds."""
    if not isinstance(document, dict):
        raise ToolOutputError(
            "Kubernetes node output is not a node, node list, label map or capacity map",
            hint=f"save the output of `{COMMAND}`",
        )
    items = document.get("items")
    if isinstance(items, list):
        return [_node(item) for item in items if isinstance(item, dict)]
    if "metadata" in document or "status" in document:
        return [_node(document)]
    if "capacity" in document or "allocatable" in document:
        return [({}, _resources(document))]
    strings = _strings(document)
    if any(key.startswith(_LABEL_PREFIXES) for key in strings):
        return [(strings, {})]
    return [({}, strings)]


def _node(node: Mapping[object, object]) -> tuple[Strings, Strings]:
    metadata = node.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    status = node.get("status")
    return _strings(labels), _resources(status if isinstance(status, dict) else {})


def _resources(status: Mapping[object, object]) -> Strings:
    """``capacity`` (what the node has) over ``allocatable`` (what is left for pods)."""
    return _strings(status.get("capacity")) or _strings(status.get("allocatable"))


def _strings(raw: object) -> Strings:
    """Text values only; YAML may give numbers (kept as text) or worse (dropped)."""
    if not isinstance(raw, dict):
        return {}
    return {
        key.strip(): str(value).strip()
        for key, value in raw.items()
        if isinstance(key, str)
        and isinstance(value, str | int | float)
        and not isinstance(value, bool)
    }


def _combine(parts: list[Inventory]) -> Inventory:
    """One inventory for a node list: GPUs renumbered in node order."""
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return Inventory(gpus=(), warnings=("the node list holds no nodes",))
    gpus = [gpu for part in parts for gpu in part.gpus]
    renumbered = tuple(gpu.model_copy(update={"index": i}) for i, gpu in enumerate(gpus))
    warnings = [f"{len(parts)} nodes in one document; their GPUs are numbered in node order"]
    warnings.extend(warning for part in parts for warning in part.warnings)
    return Inventory(
        gpus=renumbered,
        driver_version=next((p.driver_version for p in parts if p.driver_version), None),
        cuda_version=next((p.cuda_version for p in parts if p.cuda_version), None),
        warnings=tuple(dict.fromkeys(warnings)),
    )


# --- one node ----------------------------------------------------------------------


def _node_inventory(labels: Strings, capacity: Strings) -> Inventory:
    if "nvidia.com/gpu.product" in labels or "nvidia.com/gpu.count" in labels:
        return _from_labels(labels)
    return _from_capacity(capacity, has_labels=bool(labels))


def _from_labels(labels: Strings) -> Inventory:
    product = _split_product(labels.get("nvidia.com/gpu.product"))
    warnings: list[str] = []
    count = _count(labels.get("nvidia.com/gpu.count"))
    if count is None:
        count = 1
        warnings.append("no readable nvidia.com/gpu.count label; assuming one GPU")
    memory, note = _memory_mib(labels.get("nvidia.com/gpu.memory"), "nvidia.com/gpu.memory")
    warnings.extend([note] if note else [])
    mig = _mig_state(labels, product, count, memory)
    warnings.extend(mig.notes)
    physical, layout = mig.physical, mig.layout
    warnings.extend(_sharing_notes(labels, product, physical))
    gpus = tuple(
        GPU(
            index=index,
            name=product.name,
            vendor="nvidia",
            vram_total_mb=mig.vram_total_mb,
            compute_capability=_compute_capability(labels),
            architecture=_architecture(labels.get("nvidia.com/gpu.family")),
            mig_mode=mig.mode,
            mig_devices=tuple(layout[index]) if index < len(layout) else (),
        )
        for index in range(physical)
    )
    return Inventory(
        gpus=gpus,
        driver_version=_driver_version(labels),
        cuda_version=_cuda_version(labels),
        warnings=tuple(warnings),
    )


def _from_capacity(capacity: Strings, *, has_labels: bool) -> Inventory:
    """Only a count of schedulable devices: not necessarily physical GPUs (quirk 30)."""
    nvidia = _count(capacity.get("nvidia.com/gpu")) or 0
    amd = _count(capacity.get("amd.com/gpu")) or 0
    slices = {
        key: value
        for key, value in capacity.items()
        if key.startswith("nvidia.com/mig-") and (_count(value) or 0) > 0
    }
    gpus = [GPU(index=i, name="NVIDIA GPU", vendor="nvidia") for i in range(nvidia)]
    gpus += [GPU(index=nvidia + i, name="AMD GPU", vendor="amd") for i in range(amd)]
    if not gpus and not slices:
        warning = "no NVIDIA GPU labels and no GPU resources in this node document"
        return Inventory(gpus=(), warnings=(warning,))
    where = "labels without GPU facts and" if has_labels else "no labels, only"
    advertised = ", ".join(
        f"{key}={value}"
        for key, value in (("nvidia.com/gpu", nvidia), ("amd.com/gpu", amd), *slices.items())
        if value
    )
    warning = (
        f"{where} resource capacity ({advertised}): with time-slicing or MIG these are "
        "replicas or slices rather than physical GPUs, and model and memory are unknown; "
        f"save `{COMMAND}` with its labels for GPU facts"
    )
    return Inventory(gpus=tuple(gpus), warnings=(warning,))


# --- product names -----------------------------------------------------------------


def _split_product(label: str | None) -> _Product:
    if not label:
        return _Product(name="NVIDIA GPU", mig_profile=None, shared=False)
    shared = label.endswith("-SHARED")
    label = label.removesuffix("-SHARED")
    match = _MIG_SUFFIX.search(label)
    profile = match.group("profile") if match else None
    if match:
        label = label[: match.start()]
    return _Product(name=restore_product_name(label), mig_profile=profile, shared=shared)


def restore_product_name(label: str) -> str:
    """The nvidia-smi name behind a GFD product label, as far as it can be known.

    GFD replaced every space with ``-`` (quirk 28), so real dashes are lost among
    them. Rule: every ``-`` becomes a space except where nvidia-smi names keep one:

    * ``<model>-SXMn-<size>GB`` and ``<model>-PCIE-<size>GB``
      (``A100-SXM4-40GB``, ``Tesla V100-PCIE-32GB``; but ``B300 SXM6 AC`` and
      ``H100 PCIe`` have spaces);
    * ``Max-Q``;
    * a vGPU profile at the end of a ``GRID`` name (``GRID A100-40C``, ``GRID P4-1Q``).

    So ``NVIDIA-H100-80GB-HBM3`` → ``NVIDIA H100 80GB HBM3``, ``Tesla-T4`` →
    ``Tesla T4``. The ``-SHARED`` and ``-MIG-…`` suffixes are removed before this.
    Old GFD omits the ``NVIDIA`` prefix, as old drivers did; none is added.
    """
    tokens = [token for token in label.strip().split("-") if token]
    if not tokens:
        return "NVIDIA GPU"
    words = [tokens[0]]
    for position in range(1, len(tokens)):
        joiner = "-" if _keeps_dash(tokens, position) else " "
        words.append(joiner + tokens[position])
    return "".join(words)


def _keeps_dash(tokens: list[str], position: int) -> bool:
    """Whether the dash before ``tokens[position]`` was in the nvidia-smi name."""
    token, before = tokens[position], tokens[position - 1]
    after = tokens[position + 1] if position + 1 < len(tokens) else ""
    if _FORM_FACTOR.match(token) and _SIZE.match(after):
        return True
    if _FORM_FACTOR.match(before) and _SIZE.match(token) and position >= 2:
        return True
    if before == "Max" and token == "Q":
        return True
    is_last = position == len(tokens) - 1
    return tokens[0] == "GRID" and is_last and bool(_VGPU_PROFILE.match(token))


# --- MIG -----------------------------------------------------------------------------


def _mig_state(labels: Strings, product: _Product, count: int, memory: int | None) -> _MigState:
    """Single strategy (``-MIG-`` product), mixed (``mig-<profile>.*`` labels), or none."""
    if product.mig_profile is not None:
        physical, layout, notes = _single_layout(labels, product, count, memory)
        return _MigState(physical, True, None, layout, notes)
    mixed = _mixed_profiles(labels)
    if mixed:
        layout, notes = _mixed_layout(mixed, count, _gi_capacity(product.name))
        return _MigState(count, True, memory, layout, notes)
    return _MigState(count, _mig_mode_without_devices(labels), memory, [], [])


def _single_layout(
    labels: Strings, product: _Product, count: int, memory: int | None
) -> tuple[int, list[list[MigDevice]], list[str]]:
    """MIG single strategy: the labels count and size slices, so GPUs are inferred.

    Every GPU carries the same profile; assuming each is fully partitioned, a GPU
    holds ⌊7 / GI slices per device⌋ devices (4 on an A30), which gives the number
    of physical GPUs. Their total memory is not in the labels.
    """
    profile = product.mig_profile or ""
    gi = _count(labels.get("nvidia.com/gpu.slices.gi")) or 1
    capacity = _gi_capacity(product.name)
    per_gpu = max(1, capacity // gi) if gi <= capacity else 1
    physical = max(1, math.ceil(count / per_gpu))
    layout: list[list[MigDevice]] = []
    remaining = count
    for _ in range(physical):
        here = min(per_gpu, remaining)
        remaining -= here
        layout.append(
            [MigDevice(index=i, profile=profile, vram_total_mb=memory) for i in range(here)]
        )
    note = (
        f"MIG single strategy: the labels describe {count} MIG {profile} devices "
        f"({memory if memory is not None else '?'} MiB each), not the GPUs; assumed "
        f"{physical} fully partitioned GPU(s) of {per_gpu}; the GPUs' total memory is unknown"
    )
    return physical, layout, [note]


def _mixed_profiles(labels: Strings) -> list[_MigProfile]:
    profiles = []
    for key, value in labels.items():
        match = _MIG_COUNT_LABEL.match(key)
        count = _count(value) if match else None
        if not match or not count:
            continue
        name = match.group("profile")
        memory, _ = _memory_mib(labels.get(f"nvidia.com/mig-{name}.memory"), key)
        gi = _count(labels.get(f"nvidia.com/mig-{name}.slices.gi")) or 1
        profiles.append(_MigProfile(profile=name, count=count, memory_mb=memory, gi_slices=gi))
    return sorted(profiles, key=lambda p: (-p.gi_slices, p.profile))


def _mixed_layout(
    profiles: list[_MigProfile], physical: int, slices_per_gpu: int
) -> tuple[list[list[MigDevice]], list[str]]:
    """MIG mixed strategy: labels count devices per node, so they are packed onto GPUs.

    With one GPU that is exact. With several, the split is inferred by packing
    the largest devices first into each GPU's GI slices (first fit); a device
    that fits nowhere goes to the GPU with the most room.
    """
    layout: list[list[MigDevice]] = [[] for _ in range(physical)]
    free = [slices_per_gpu] * physical
    total = 0
    for profile in profiles:
        for _ in range(profile.count):
            total += 1
            if total > _MAX_COUNT or not layout:
                break
            target = next((i for i, room in enumerate(free) if room >= profile.gi_slices), None)
            target = free.index(max(free)) if target is None else target
            free[target] -= profile.gi_slices
            device = MigDevice(
                index=len(layout[target]), profile=profile.profile, vram_total_mb=profile.memory_mb
            )
            layout[target].append(device)
    notes = [note for profile in profiles if (note := _profile_mismatch(profile))]
    if physical > 1:
        notes.append(
            f"MIG mixed strategy: labels count MIG devices per node, not per GPU; their "
            f"split across the {physical} GPUs is inferred"
        )
    return layout, notes


def _profile_mismatch(profile: _MigProfile) -> str | None:
    """GFD once labelled 3g.20gb devices ``mig-3g.21gb`` (quirk 31): say so, keep the label."""
    match = _PROFILE_GB.search(profile.profile)
    if match is None or profile.memory_mb is None:
        return None
    expected = math.ceil(profile.memory_mb / 1024)
    if int(match.group("gb")) == expected:
        return None
    return (
        f"MIG profile label 'mig-{profile.profile}' does not match its {profile.memory_mb} MiB "
        f"(about {expected} GB); GFD mislabels some profiles, so the device plugin's "
        "resource may be named differently"
    )


def _gi_capacity(name: str) -> int:
    for model, slices in _GI_SLICES_BY_MODEL.items():
        if re.search(rf"\b{model}\b", name):
            return slices
    return _GI_SLICES_PER_GPU


def _mig_mode_without_devices(labels: Strings) -> bool | None:
    """False when GFD says the GPU could do MIG; None (unsupported or unknown) otherwise."""
    return False if labels.get("nvidia.com/mig.capable", "").lower() == "true" else None


def _sharing_notes(labels: Strings, product: _Product, physical: int) -> list[str]:
    replicas = _count(labels.get("nvidia.com/gpu.replicas"))
    if not product.shared and (replicas is None or replicas <= 1):
        return []
    per_gpu = f"{replicas} replicas" if replicas and replicas > 1 else "several replicas"
    return [
        f"nvidia.com/gpu is time-sliced: {per_gpu} of each GPU share its memory; "
        f"plan on the {physical} physical GPU(s)"
    ]


# --- single values -------------------------------------------------------------------


def _count(value: str | None) -> int | None:
    if value is None or not _DIGITS.match(value):
        return None
    number = int(value)
    return number if number <= _MAX_COUNT else None


def _memory_mib(value: str | None, label: str) -> tuple[int | None, str | None]:
    """MiB, or bytes where the number is too large to be MiB (quirk 29), with a note."""
    if value is None or not _DIGITS.match(value):
        return None, None
    number = int(value)
    if number < _BYTES_ABOVE_MIB:
        return number, None
    mib = number // 2**20
    if mib >= _BYTES_ABOVE_MIB:
        return None, f"{label}={number} is too large for MiB or bytes; ignored"
    return mib, f"{label}={number} is too large for MiB; read as bytes = {mib} MiB (older GFD)"


def _compute_capability(labels: Strings) -> str | None:
    major = _count(labels.get("nvidia.com/gpu.compute.major"))
    minor = _count(labels.get("nvidia.com/gpu.compute.minor"))
    return f"{major}.{minor}" if major is not None and minor is not None else None


def _architecture(family: str | None) -> str | None:
    """GFD's ``gpu.family`` (``ampere``, ``ada-lovelace``) as nvidia-smi-style names."""
    if not family:
        return None
    if family.lower() == "ada-lovelace":
        return "Ada"
    return family.replace("-", " ").title()


def _driver_version(labels: Strings) -> str | None:
    full = labels.get("nvidia.com/cuda.driver-version.full")
    if full:
        return full
    parts = [labels.get(f"nvidia.com/cuda.driver.{part}") for part in ("major", "minor", "rev")]
    present = [part for part in parts if part]
    return ".".join(present) if parts[0] else None


def _cuda_version(labels: Strings) -> str | None:
    """GFD's ``cuda.runtime`` labels hold the driver's CUDA version (from NVML), not a runtime's."""
    full = labels.get("nvidia.com/cuda.runtime-version.full")
    if full:
        return full
    major = labels.get("nvidia.com/cuda.runtime.major")
    minor = labels.get("nvidia.com/cuda.runtime.minor")
    return f"{major}.{minor}" if major and minor else None
