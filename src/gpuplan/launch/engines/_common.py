"""What every engine renderer shares: layered settings with provenance, devices, budgets.

A launch line is built in three layers, lowest first — values derived from the
estimate and the placement, then the deployment profile's engine block (seed 002),
then the user's explicit flags (seed 002: "explicit CLI flags override profile
values") — and every value keeps the layer that set it, so the notes can say
where each flag came from. Each renderer maps profile keys to *its own* flags;
nothing here knows one engine's spelling.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gpuplan.errors import LaunchError
from gpuplan.launch.model import GpuSlot, LaunchRequest

__all__ = [
    "Layered",
    "apply_overrides",
    "floor_fraction",
    "is_amd",
    "per_gpu_budget_mb",
    "visible_devices_env",
]

Source = Literal["estimate", "profile", "override"]

_RANK: dict[Source, int] = {"estimate": 0, "profile": 1, "override": 2}


@dataclass
class _Value:
    value: str | None  # None: a bare switch ("--trust-remote-code")
    source: Source
    why: str


@dataclass
class Layered:
    """An ordered set of flags (or env vars) where a higher layer replaces a lower one."""

    entries: dict[str, _Value] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def set(self, key: str, value: object, source: Source, why: str = "") -> None:
        """Set ``key`` unless a higher layer already did; a profile/override change is noted."""
        old = self.entries.get(key)
        if old is not None and _RANK[old.source] > _RANK[source]:
            return
        text = None if value is None else _text(value)
        if old is not None and old.source != source and old.value != text:
            shown = key if text is None else f"{key} {text}"
            self.notes.append(
                f"{shown}: {_label(source)} replaces {old.value!r} from the {old.source}"
                + (f" ({why})" if why else "")
            )
        elif old is None and source != "estimate":
            shown = key if text is None else f"{key} {text}"
            self.notes.append(f"{shown}: from the {_label(source)}" + (f" ({why})" if why else ""))
        self.entries[key] = _Value(text, source, why)

    def drop(self, key: str, source: Source) -> None:
        """Remove ``key`` (an explicit ``false``/``null`` override turns a switch off)."""
        if self.entries.pop(key, None) is not None:
            self.notes.append(f"{key}: removed by the {_label(source)}")

    def source_of(self, key: str) -> Source | None:
        entry = self.entries.get(key)
        return None if entry is None else entry.source

    def argv(self) -> list[str]:
        out: list[str] = []
        for key, entry in self.entries.items():
            out.append(key)
            if entry.value is not None:
                out.append(entry.value)
        return out

    def env(self) -> dict[str, str]:
        return {key: entry.value or "" for key, entry in self.entries.items()}


def _label(source: Source) -> str:
    return {
        "estimate": "estimate",
        "profile": "profile engine block",
        "override": "explicit flag",
    }[source]


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def apply_overrides(
    flags: Layered,
    env: Layered,
    overrides: Mapping[str, Any],
    *,
    style: Literal["dash", "underscore"] = "dash",
    skip: Iterable[str] = ("image",),
) -> None:
    """Apply explicit user flags: ``--x``/``x`` keys are flags, UPPER_CASE keys are env vars.

    ``True`` is a bare switch, ``False``/``None`` removes a flag, anything else is
    its value. Flag names are normalised to the engine's style (vLLM and SGLang use
    dashes, trtllm-serve underscores) so ``max_model_len`` and ``--max-model-len``
    are the same flag.
    """
    skipped = set(skip)
    for raw, value in overrides.items():
        if raw in skipped:
            continue
        if raw.isupper() and not raw.startswith("-"):
            if value is None or value is False:
                env.drop(raw, "override")
            else:
                env.set(raw, value, "override")
            continue
        key = _flag_name(raw, style)
        if value is None or value is False:
            flags.drop(key, "override")
        elif value is True:
            flags.set(key, None, "override")
        else:
            flags.set(key, value, "override")


def _flag_name(raw: str, style: Literal["dash", "underscore"]) -> str:
    if raw.startswith("-") and not raw.startswith("--"):
        return raw  # a short flag (-fa, -tp) is taken as written
    body = raw.lstrip("-")
    body = body.replace("_", "-") if style == "dash" else body.replace("-", "_")
    return "--" + body


def is_amd(request: LaunchRequest) -> bool:
    return any(slot.vendor == "amd" for slot in request.gpus)


def per_gpu_budget_mb(request: LaunchRequest) -> int:
    """The service's budget on each of its devices (the whole budget split evenly)."""
    if not request.gpus:
        return request.vram_budget_mb
    return request.vram_budget_mb // len(request.gpus)


def floor_fraction(numerator: float, denominator: float, *, digits: int = 3) -> float:
    """``numerator / denominator`` rounded *down*, so a rounded fraction never asks for more."""
    if denominator <= 0:
        return 0.0
    scale = int(10**digits)
    return float(math.floor(numerator / denominator * scale)) / scale


def _device_id(slot: GpuSlot) -> str:
    return slot.uuid if slot.uuid else str(slot.index)


def visible_devices_env(
    request: LaunchRequest, *, amd_variable: Literal["HIP", "ROCR"] = "HIP"
) -> tuple[dict[str, str], list[str]]:
    """The variable that pins a service to its devices, by UUID where known.

    NVIDIA: ``CUDA_VISIBLE_DEVICES`` with GPU-/MIG- UUIDs (a MIG slice can only be
    selected by its MIG UUID). AMD: ``ROCR_VISIBLE_DEVICES`` accepts UUIDs and is
    what Ollama and llama.cpp's HIP build document; PyTorch-based engines (vLLM,
    SGLang) are pinned with ``HIP_VISIBLE_DEVICES`` by index, because setting both
    would filter twice (HIP indices count only the ROCR-visible devices).
    """
    notes: list[str] = []
    if not request.gpus:
        return {"CUDA_VISIBLE_DEVICES": ""}, ["no GPU: CUDA_VISIBLE_DEVICES is empty (CPU)"]
    vendors = {slot.vendor for slot in request.gpus}
    if len(vendors) > 1:
        raise LaunchError(
            f"service {request.service!r} is placed on GPUs of several vendors "
            f"({', '.join(sorted(vendors))})",
            hint="one engine process drives one vendor's GPUs; place it on one vendor's GPUs",
        )
    if "amd" in vendors:
        if amd_variable == "ROCR":
            ids = ",".join(_device_id(slot) for slot in request.gpus)
            return {"ROCR_VISIBLE_DEVICES": ids}, notes
        ids = ",".join(str(slot.index) for slot in request.gpus)
        return {"HIP_VISIBLE_DEVICES": ids}, notes
    for slot in request.gpus:
        if slot.mig_profile and not slot.uuid:
            notes.append(
                f"GPU {slot.index} MIG {slot.mig_profile} has no MIG UUID in the plan: "
                "CUDA_VISIBLE_DEVICES can only select a MIG slice by its MIG-… UUID "
                "(`nvidia-smi -L` lists them); the index given selects the parent GPU"
            )
    return {"CUDA_VISIBLE_DEVICES": ",".join(_device_id(s) for s in request.gpus)}, notes


def room_mb(slot: GpuSlot) -> int:
    """What this device can give one service once every co-resident runs."""
    return max(0, slot.total_mb - slot.reserved_total_mb)


def clamp_budget(request: LaunchRequest, notes: list[str], *, fixed: bool = False) -> int:
    """Per-GPU budget, cut to what the tightest device has left beside its co-residents.

    ``fixed``: the engine allocates fixed sizes (llama.cpp, Ollama) rather than a
    fraction, so nothing can be cut — the note says it will not fit instead.
    """
    budget = per_gpu_budget_mb(request)
    if not request.gpus:
        return budget
    tightest = min(request.gpus, key=room_mb)
    room = room_mb(tightest)
    if room <= 0:
        raise LaunchError(
            f"service {request.service!r}: GPU {tightest.index} has no memory left "
            f"({tightest.reserved_total_mb} of {tightest.total_mb} MiB held by other services)",
            hint="move a service off that GPU or choose another placement strategy",
        )
    if budget > room and fixed:
        notes.append(
            f"warning: {budget} MiB per GPU does not fit beside the {tightest.reserved_total_mb} "
            f"MiB its co-residents hold on GPU {tightest.index} ({tightest.total_mb} MiB): "
            "this engine allocates fixed sizes, so lower the context or move a service"
        )
        return budget
    if budget > room:
        notes.append(
            f"budget cut from {budget} to {room} MiB per GPU: GPU {tightest.index} has "
            f"{tightest.total_mb} MiB and its other services hold {tightest.reserved_total_mb}"
        )
        return room
    return budget


def profile_key(request: LaunchRequest, key: str) -> Any:
    """A profile engine-block value, None when the profile does not set it."""
    return request.engine_settings.get(key)


def ignored_profile_keys(
    request: LaunchRequest, handled: Iterable[str], engine_label: str
) -> list[str]:
    """Notes for profile keys this engine has no flag for (never another engine's flag)."""
    known = set(handled)
    out = []
    for key in sorted(request.engine_settings):
        if key in known or request.engine_settings[key] is None:
            continue
        out.append(
            f"profile engine.{key} = {request.engine_settings[key]!r}: {engine_label} has "
            "no such setting; not passed"
        )
    return out


def kv_dtype_for(request: LaunchRequest, table: Mapping[str, str], engine_label: str) -> str | None:
    """The engine's own spelling of the estimate's KV dtype; LaunchError when it has none."""
    dtype = request.kv_cache_dtype
    if dtype is None or dtype == "auto":
        return None
    spelled = table.get(dtype.lower())
    if spelled is None:
        raise LaunchError(
            f"service {request.service!r}: {engine_label} has no KV-cache dtype {dtype!r}",
            hint="use one of " + ", ".join(sorted(table)),
        )
    return spelled


EMBEDDING_ROLES = frozenset({"embedding", "image_embedding"})
"""Roles whose models are served for embeddings (pooling), not generation."""


def is_embedder(request: LaunchRequest) -> bool:
    return request.role in EMBEDDING_ROLES


def torch_dtype(value: object) -> str | None:
    """Profile ``mixed_precision_dtype`` → the dtype name vLLM/SGLang accept."""
    return {"bf16": "bfloat16", "fp16": "float16"}.get(str(value)) if value else None
