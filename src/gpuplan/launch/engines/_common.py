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
from gpuplan.profiles.model import flash_attention_choice

__all__ = [
    "MAX_SHARE",
    "Layered",
    "apply_overrides",
    "floor_fraction",
    "is_amd",
    "per_gpu_budget_mb",
    "profile_dtype",
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
    return slot.uuid if slot.uuid else str(_ordinal(slot))


def _ordinal(slot: GpuSlot) -> int:
    """The number the vendor's runtime gives the device: ROCm counts only AMD GPUs, so on
    a host with an RTX 4090 (index 0) and an MI300X (index 1) the MI300X is ROCm's 0."""
    if slot.vendor == "amd" and slot.vendor_index is not None:
        return slot.vendor_index
    return slot.index


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
        ids = ",".join(str(_ordinal(slot)) for slot in request.gpus)
        return {"HIP_VISIBLE_DEVICES": ids}, notes
    for slot in request.gpus:
        if slot.mig_profile and not slot.uuid:
            notes.append(
                f"GPU {slot.index} MIG {slot.mig_profile} has no MIG UUID in the plan: "
                "CUDA_VISIBLE_DEVICES can only select a MIG slice by its MIG-… UUID "
                "(`nvidia-smi -L` lists them); the index given selects the parent GPU"
            )
    return {"CUDA_VISIBLE_DEVICES": ",".join(_device_id(s) for s in request.gpus)}, notes


def flash_off_warning(request: LaunchRequest, what: str) -> list[str]:
    """A "may not start" note when turning flash attention off outgrows the budget.

    The estimate counts llama.cpp's ``-fa auto``; forced off, its compute buffer also
    holds n_ctx × n_ubatch × heads f32 scores, which the placement did not reserve.
    """
    short = request.flash_off_shortfall_mb
    if short <= 0:
        return []
    return [
        f"may not start: {what} adds llama.cpp's attention-score buffer, {short} MiB per GPU "
        "beyond the budget the plan reserved; leave flash attention to -fa auto, or plan a "
        "shorter context"
    ]


def room_mb(slot: GpuSlot) -> int:
    """What this device can give one service once every co-resident runs."""
    return max(0, slot.total_mb - slot.reserved_total_mb)


MAX_SHARE = 0.95
"""Most of a device's total memory an engine that sizes by fraction is given (vLLM,
SGLang, TensorRT-LLM): the CUDA/HIP context, NCCL and the allocator's fragmentation
live beside what the engine accounts, so a fraction of 1.0 fails at start-up."""


def _usable_mb(slot: GpuSlot, max_share: float) -> int:
    """Room beside the co-residents, and never more than ``max_share`` of the device.

    The share caps this one service's fraction; it is not taken again off the
    co-residents, whose budgets placement already fitted inside the headroom it keeps.
    """
    return min(room_mb(slot), math.floor(slot.total_mb * max_share))


def clamp_budget(
    request: LaunchRequest,
    notes: list[str],
    *,
    fixed: bool = False,
    max_share: float = MAX_SHARE,
) -> int:
    """Per-GPU budget, cut to what the tightest device has left beside its co-residents.

    The cut is capped at ``max_share`` of the device, so no emitted fraction reaches 1.
    A budget cut below the estimate gets a note starting "may not start:"; when even the
    weights per rank exceed what the device gives, the note starts "cannot start:" (the
    CLI shows those). ``fixed``: the engine allocates fixed sizes (llama.cpp, Ollama)
    rather than a fraction, so nothing is cut — the budget is returned as it is.
    """
    budget = per_gpu_budget_mb(request)
    if not request.gpus:
        return budget
    share = 1.0 if fixed else max_share
    tightest = min(request.gpus, key=lambda slot: _usable_mb(slot, share))
    room = room_mb(tightest)
    if room <= 0:
        raise LaunchError(
            f"service {request.service!r}: GPU {tightest.index} has no memory left "
            f"({tightest.reserved_total_mb} of {tightest.total_mb} MiB held by other services)",
            hint="move a service off that GPU or choose another placement strategy",
        )
    usable = _usable_mb(tightest, share)
    gpu = f"GPU {tightest.index}" + (f" ({tightest.name})" if tightest.name else "")
    gives = (
        f"{gpu} has {tightest.total_mb} MiB"
        + (
            f" and its other services hold {tightest.reserved_total_mb}"
            if tightest.reserved_total_mb
            else ""
        )
        + f", so it gives this service at most {usable} MiB"
    )
    need = request.weights_mb
    if need > usable or (need == 0 and budget > tightest.total_mb):
        what = f"{need} MiB of weights" if need > usable else f"a {budget} MiB budget"
        notes.append(
            f"cannot start: {request.service} needs {what} per GPU, but {gives}; "
            "use a smaller quantization, more GPUs (tensor parallel) or a larger GPU"
        )
    elif budget > usable:
        advice = (
            "lower the context or concurrency, or move a service"
            if fixed
            else f"the KV cache gets {budget - usable} MiB less than the estimate; "
            "lower the context or concurrency, or move a service"
        )
        notes.append(
            f"may not start: budget cut from {budget} to {usable} MiB per GPU: {gives}; {advice}"
            if not fixed
            else f"may not start: {budget} MiB per GPU does not fit: {gives}; this engine "
            f"allocates fixed sizes, so {advice}"
        )
    if fixed:
        return budget
    return min(budget, usable)


def profile_key(request: LaunchRequest, key: str) -> Any:
    """A profile engine-block value, None when the profile does not set it."""
    return request.engine_settings.get(key)


def profile_flash_attention(request: LaunchRequest) -> bool | None:
    """The profile's flash-attention choice for a ggml engine (None: its ``-fa auto``), the
    same answer the plan was costed with (``profiles.model.ggml_flash_attention``)."""
    return flash_attention_choice(
        profile_key(request, "enable_flash_attention"), profile_key(request, "attention_impl")
    )


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


def profile_dtype(request: LaunchRequest, flags: Layered, notes: list[str]) -> None:
    """Apply the profile's ``mixed_precision_dtype`` as ``--dtype`` — unless it would
    turn a BF16-trained model into FP16 on GPUs that compute in BF16.

    BF16 and FP16 are both 16 bits, so FP16 saves no memory; it only narrows the range
    (max 65504), and activations of models trained in BF16 can overflow to inf/NaN. The
    profile's fp16 is meant for GPUs without BF16 (Turing, Volta); where every device
    has it, the model's own dtype is kept. An explicit ``--set dtype=…`` still wins.
    """
    if profile_key(request, "enable_mixed_precision") is False:
        return
    wanted = profile_key(request, "mixed_precision_dtype")
    dtype = torch_dtype(wanted)
    if not dtype:
        return
    model = (request.model_dtype or "").lower()
    all_bf16 = bool(request.gpus) and all(slot.bf16 is True for slot in request.gpus)
    if dtype == "float16" and model in ("bf16", "bfloat16") and all_bf16:
        names = ", ".join(sorted({slot.name or f"GPU {slot.index}" for slot in request.gpus}))
        notes.append(
            f"profile engine.mixed_precision_dtype = {wanted!r} not applied: "
            f"{request.model_id} was trained in BF16 and {names} computes in BF16, so it "
            "stays BF16 (FP16 saves no memory and can overflow a BF16 model's activations); "
            "force it with --set dtype=float16"
        )
        return
    flags.set("--dtype", dtype, "profile", "engine.mixed_precision_dtype")
