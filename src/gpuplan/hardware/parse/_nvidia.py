"""What the four nvidia-smi parsers share: value rules and building a ``GPU``.

nvidia-smi prints the same facts four ways (``--query-gpu`` CSV, ``-L``, ``-q``,
``-q -x``). Keeping the value rules here (what "Enabled" means, how a MIG
profile name maps to memory, which GPUs share memory with the CPU, what an
absent name becomes) means a detected host looks the same whichever form the
probe managed to run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from gpuplan.errors import ToolOutputError
from gpuplan.hardware.model import GPU, MAX_NAME_LENGTH, MigDevice
from gpuplan.hardware.parse import clean, parse_mib

NO_NAME = ""
"""``GPU.name`` when the output gives none (a query without ``name``, or ``[N/A]``).

Empty rather than "unknown" so it is falsy, can never fuzzy-match a catalog
entry, and is not mistaken for a product called "unknown". A warning always
accompanies it.
"""

_UNIFIED_MEMORY_NAME = re.compile(r"\bGB10\b|\bJetson\b|\bOrin\b|\bTegra\b|\bThor\b", re.I)
"""Products whose GPU memory is host RAM, so nvidia-smi reports no VRAM total.

GB10 (DGX Spark) is seen in real captures (memory.total ``[N/A]``); the Jetson
family shares memory the same way.
"""

_NO_DEVICES = "No devices were found"

_MIG_PROFILE = re.compile(
    r"^(?:[0-9]+c\.)?[0-9]+g\.(?P<gb>[0-9]{1,6}(?:\.[0-9]{1,3})?)gb(?:\+[a-z0-9]+)*$", re.I
)
"""'1g.10gb', '1c.3g.71gb' (compute instance), '1g.10gb+me' (media extension)."""

_ASCII_INT = re.compile(r"^[+-]?[0-9]{1,18}$")
"""Bounded so a fuzzed 400-digit "index" is rejected, not turned into a huge int."""


def no_devices(text: str) -> bool:
    """True when nvidia-smi said only that it found no GPU: a real answer (CPU only).

    Only when that is all it said, so one node's message in multi-node output
    does not hide the other nodes' GPUs.
    """
    lines = [line.strip().rstrip(".") for line in text.splitlines() if line.strip()]
    return bool(lines) and all(line == _NO_DEVICES for line in lines)


def excerpt(text: str, limit: int = 80) -> str:
    """The first non-blank line, shortened, so an error shows what the tool printed."""
    for line in text.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return "(empty output)"


def parse_int(value: str | None) -> int | None:
    """ASCII integer or None; ``int()`` alone would accept '٣' and '1_0'."""
    text = clean(value)
    if text is None or not _ASCII_INT.match(text):
        return None
    return int(text)


def mib(value: str | None) -> int | None:
    """``parse_mib`` that never raises: absurd fuzzed numbers become None, not OverflowError."""
    try:
        return parse_mib(value)
    except (OverflowError, ValueError):
        return None


def mig_mode(value: str | None) -> bool | None:
    """'Enabled' → True, 'Disabled' → False; a placeholder (no MIG support) → None."""
    text = clean(value)
    if text is None:
        return None
    return {"enabled": True, "disabled": False}.get(text.lower())


MIG_LABEL_SAFETY = 0.95
"""Real slices hold at least 95 % of their label: 1g.5gb = 4864 MiB (A100-40GB),
2g.10gb = 9856, 1g.10gb = 9984 and 3g.40gb = 40192 (H100), 3g.20gb = 19968."""


def mig_profile_mib(profile: str | None) -> int | None:
    """Memory a MIG slice surely has, from its profile name: '1g.10gb' → 9728.

    The name is a marketing label that rounds *up* — a real 1g.10gb slice on an
    H100 has 9984 MiB, not 10240 — so planning on the label could OOM. We take
    95 % of gb × 1024, which is at or below every real slice size we know (see
    ``MIG_LABEL_SAFETY``). Only ``nvidia-smi -L`` needs this; NVML, ``-q`` and
    ``-q -x`` give the slice's real memory and are preferred. Compute-instance
    profiles ('1c.…') share their GPU instance's memory, so several devices may
    carry the same figure for one pool.
    """
    if profile is None:
        return None
    match = _MIG_PROFILE.match(profile.strip())
    if not match:
        return None
    return math.floor(float(match.group("gb")) * 1024 * MIG_LABEL_SAFETY)


def is_unified_memory_name(name: str) -> bool:
    """True for products whose 'VRAM' is host RAM (GB10 / DGX Spark, Jetson)."""
    return bool(_UNIFIED_MEMORY_NAME.search(name))


def make_gpu(
    *,
    index: int,
    name: str | None,
    warnings: list[str],
    uuid: str | None = None,
    vram_total_mb: int | None = None,
    vram_free_mb: int | None = None,
    vram_used_mb: int | None = None,
    compute_capability: str | None = None,
    architecture: str | None = None,
    mig_mode: bool | None = None,
    mig_devices: tuple[MigDevice, ...] = (),
    pci_bus_id: str | None = None,
    memory_expected: bool = True,
) -> GPU:
    """One NVIDIA ``GPU``, with a warning for each missing fact a plan needs.

    Every parser goes through here so the rules for an absent name and for
    memory nvidia-smi cannot report (unified memory) are the same everywhere.
    ``memory_expected=False`` is for forms that never give memory (``-L``), whose
    parser says so once instead of once per GPU.
    """
    label = f"GPU {index}"
    if name and len(name) > MAX_NAME_LENGTH:
        raise ToolOutputError(
            f"nvidia-smi gave GPU {index} a {len(name)}-character name",
            hint="the output is garbled; run nvidia-smi by hand to check it",
        )
    if not name:
        warnings.append(f"{label}: nvidia-smi gave no product name")
        name = NO_NAME
    unified = vram_total_mb is None and is_unified_memory_name(name)
    if unified:
        warnings.append(
            f"{label} ({name}) shares memory with the CPU and reports no VRAM total; "
            "use host RAM as its memory"
        )
    elif vram_total_mb is None and memory_expected:
        warnings.append(f"{label} ({name or 'no name'}): nvidia-smi gave no total memory")
    try:
        return GPU(
            index=index,
            name=name,
            vendor="nvidia",
            uuid=uuid,
            vram_total_mb=vram_total_mb,
            vram_free_mb=vram_free_mb,
            vram_used_mb=vram_used_mb,
            compute_capability=compute_capability,
            architecture=architecture,
            mig_mode=mig_mode,
            mig_devices=mig_devices,
            pci_bus_id=pci_bus_id,
            unified_memory=unified,
        )
    except ValueError as exc:  # figures that contradict each other: garbled output
        raise ToolOutputError(
            f"nvidia-smi gave GPU {index} impossible figures: {exc}",
            hint="the output is garbled; run nvidia-smi by hand to check it",
        ) from None


def no_gpus_error(tool: str, text: str, hint: str) -> ToolOutputError:
    """The error for output that holds no GPU at all, quoting what was printed."""
    return ToolOutputError(f"{tool} output lists no GPU (it begins {excerpt(text)!r})", hint=hint)


def check_indices(gpus: Sequence[GPU], warnings: list[str]) -> None:
    """Warn when indices repeat: ``srun`` output covers several machines, each from 0."""
    indices = [gpu.index for gpu in gpus]
    if len(set(indices)) != len(indices):
        warnings.append(
            "GPU indices repeat: the output covers more than one machine (srun?) "
            "and indices are per machine"
        )
