"""Pure parsers: vendor tool output (text) → ``Inventory`` (typed records).

Each module here takes the text a tool printed and nothing else, so every parser
is tested on real recorded outputs and fuzzed. Garbage raises
``ToolOutputError``; a value the tool could not give ("[N/A]",
"[Not Supported]") becomes None.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from gpuplan.hardware.model import GPU, MAX_GPU_MEMORY_MB

__all__ = ["Inventory", "clean", "is_placeholder", "parse_mib"]


@dataclass(frozen=True)
class Inventory:
    """What one tool's output says about a machine."""

    gpus: tuple[GPU, ...]
    driver_version: str | None = None
    cuda_version: str | None = None
    warnings: tuple[str, ...] = field(default=())


_PLACEHOLDER = re.compile(r"^\s*(\[.*\]|N/A|n/a|NA|None|none|-|)\s*$")


def is_placeholder(value: str | None) -> bool:
    """True for the values vendor tools print when they have no answer."""
    return value is None or bool(_PLACEHOLDER.match(value))


def clean(value: str | None) -> str | None:
    """Trimmed value, or None for a placeholder."""
    if is_placeholder(value):
        return None
    assert value is not None
    return value.strip()


_MEMORY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]i?B|B)?\s*$", re.IGNORECASE)
_MAX_PLAUSIBLE_MIB = MAX_GPU_MEMORY_MB
"""A GPU above the model's bound (8 TiB) is a parse error, not a GPU."""

_FACTOR = {
    "b": 1 / 2**20,
    "kib": 1 / 1024,
    "kb": 1 / 1024,
    "mib": 1,
    "mb": 1,
    "gib": 1024,
    "gb": 1024,
    "tib": 1024 * 1024,
    "tb": 1024 * 1024,
}


def parse_mib(value: str | None, *, default_unit: str = "MiB") -> int | None:
    """'24564 MiB', '24564', '34342961152 B' → MiB as int; placeholders → None.

    Vendor tools write "MB" and mean MiB (amd-smi, nvidia-smi's docs), so MB is
    taken as MiB.
    """
    text = clean(value)
    if text is None:
        return None
    match = _MEMORY.match(text)
    if not match:
        return None
    number = float(match.group(1))
    unit = (match.group(2) or default_unit).lower()
    mib = number * _FACTOR[unit]
    if not math.isfinite(mib) or mib > _MAX_PLAUSIBLE_MIB:
        return None
    return round(mib)
