"""``nvidia-smi -q`` (or ``-a``) text → ``Inventory``.

For machines where only the human-readable dump was captured. It is a tree
drawn with indentation: ``Key : value`` leaves under section lines, one
``GPU <bus id>`` section per GPU. The padding before the colon changes between
drivers, so lines are split on the first whitespace-then-colon, never on a
column. Lookups follow the tree, so a MIG device's ``Shared FB Memory Usage``
is never taken for its GPU's ``FB Memory Usage``. The text has no compute
capability.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from gpuplan.hardware.model import GPU, MigDevice
from gpuplan.hardware.parse import Inventory, clean
from gpuplan.hardware.parse._nvidia import (
    make_gpu,
    mib,
    mig_mode,
    no_devices,
    no_gpus_error,
    parse_int,
)

__all__ = ["parse"]

_ENTRY = re.compile(r"^(?P<key>\S.*?)\s+:(?P<value>.*)$")
_GPU_SECTION = re.compile(r"^gpu\s+(?P<bus>\S+)$")
_VERSION = re.compile(r"^[0-9][0-9A-Za-z.\-]*$")


@dataclass
class _Node:
    """One line of the dump: a ``Key : value`` leaf, or a section (value None)."""

    key: str
    value: str | None
    indent: int
    children: list[_Node] = field(default_factory=list)

    def all(self, key: str) -> Iterator[_Node]:
        return (child for child in self.children if child.key == key)

    def find(self, *path: str) -> _Node | None:
        node: _Node | None = self
        for key in path:
            node = next(node.all(key), None) if node is not None else None
        return node

    def get(self, *path: str) -> str | None:
        node = self.find(*path)
        return clean(node.value) if node is not None else None


def parse(text: str) -> Inventory:
    """Read ``nvidia-smi -q``: one GPU per top-level ``GPU <bus id>`` section."""
    if no_devices(text):
        return Inventory(gpus=(), warnings=("nvidia-smi found no NVIDIA GPU",))
    root = _tree(text)
    sections = [node for node in root.children if _is_gpu_section(node)]
    if not sections:
        raise no_gpus_error("nvidia-smi -q", text, "expected 'GPU <bus id>' sections")
    warnings: list[str] = []
    gpus = tuple(_gpu(node, position, warnings) for position, node in enumerate(sections))
    attached = parse_int(root.get("attached gpus"))
    if attached is not None and attached != len(gpus):
        warnings.append(
            f"Attached GPUs says {attached} but the output describes {len(gpus)} GPU(s); "
            "counting the GPUs described"
        )
    return Inventory(
        gpus=gpus,
        driver_version=_version(root, "driver version", "kmd version"),
        cuda_version=_version(root, "cuda version", "cuda umd version"),
        warnings=tuple(warnings),
    )


def _tree(text: str) -> _Node:
    """Nest lines by indentation; keys are lower-cased with single spaces."""
    root = _Node(key="", value=None, indent=-1)
    stack = [root]
    for line in text.expandtabs(4).splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        indent = len(line) - len(line.lstrip())
        node = _node(stripped, indent)
        while stack[-1].indent >= indent:
            stack.pop()
        stack[-1].children.append(node)
        stack.append(node)
    return root


def _node(stripped: str, indent: int) -> _Node:
    match = _ENTRY.match(stripped)
    key, value = (match["key"], match["value"].strip()) if match else (stripped, None)
    return _Node(key=" ".join(key.lower().split()), value=value, indent=indent)


def _is_gpu_section(node: _Node) -> bool:
    return node.value is None and _GPU_SECTION.match(node.key) is not None


def _version(root: _Node, *keys: str) -> str | None:
    """The first key holding a version number: driver 610 renamed some and deprecated others."""
    for key in keys:
        value = root.get(key)
        if value is not None and _VERSION.match(value):
            return value
    return None


def _gpu(section: _Node, position: int, warnings: list[str]) -> GPU:
    """One GPU section; its index is its position, the order nvidia-smi numbers GPUs in."""
    header = _GPU_SECTION.match(section.key)
    bus_from_header = header["bus"] if header else None
    return make_gpu(
        index=position,
        name=section.get("product name"),
        warnings=warnings,
        uuid=section.get("gpu uuid"),
        vram_total_mb=mib(section.get("fb memory usage", "total")),
        vram_free_mb=mib(section.get("fb memory usage", "free")),
        vram_used_mb=mib(section.get("fb memory usage", "used")),
        architecture=section.get("product architecture"),
        mig_mode=mig_mode(section.get("mig mode", "current")),
        mig_devices=tuple(_mig_device(node, n) for n, node in enumerate(_mig_nodes(section))),
        pci_bus_id=section.get("pci", "bus id") or bus_from_header,
    )


def _mig_nodes(section: _Node) -> Iterator[_Node]:
    """MIG devices sit directly under the GPU, or under a 'MIG Devices' section."""
    yield from section.all("mig device")
    for group in section.all("mig devices"):
        yield from group.all("mig device")


def _mig_device(node: _Node, position: int) -> MigDevice:
    memory = node.find("shared fb memory usage") or node.find("fb memory usage")
    index = parse_int(node.get("index"))
    return MigDevice(
        index=position if index is None else index,
        vram_total_mb=mib(memory.get("total")) if memory is not None else None,
        vram_free_mb=mib(memory.get("free")) if memory is not None else None,
        gpu_instance_id=parse_int(node.get("gpu instance id")),
        compute_instance_id=parse_int(node.get("compute instance id")),
    )
