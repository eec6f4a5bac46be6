"""Models found on disk as registry entries, so `fit`, `select` and `plan` can use them.

Discovery (``gpuplan.models.files``) says what a file *is*: its architecture and the
exact bytes of its tensors. The registry says what a model is *for*: its roles. This
module joins the two, purely — no file is read here.

**Ids.** A discovered entry's id is ``local:`` + the local id (``local:acme/tiny``,
``local:gemma3:4b``, ``local:Llama-3.2-1B-Instruct-Q8_0``). Registry ids may not
contain ``:``, so a discovered id can never replace or shadow a registry entry; two
discovered models with the same local id get ``-2``, ``-3``… (with a warning).

**Matching** a model to a registry entry, first rule that finds one wins, entries in
registry order:

1. *exact*: a HF model's repo id equals a variant's ``repo``; an Ollama model's
   ``name:tag`` equals a variant's ``file`` (``:latest`` may be left out on either
   side); a GGUF's file name equals a variant's ``file``. Case is ignored.
2. *normalised name*: the local id, normalised, equals the entry id or a variant's
   ``repo`` or ``file`` normalised the same way. Normalising lowercases, keeps the
   part after the last ``/``, drops ``.gguf``, ``:latest`` and a split suffix
   ``-00001-of-00003``, and turns every run of other than ``[a-z0-9.]`` into ``-``:
   the HF directory ``Llama-3.1-8B-Instruct`` matches the repo
   ``meta-llama/Llama-3.1-8B-Instruct``.

A match is refused (and the roles guessed, with a warning) when the entry's
``hf_config`` states a ``hidden_size`` other than the file's: a renamed file must not
borrow another model's roles. Only the width is compared, because a GGUF's block count
may include MTP layers the config does not.

A matched model inherits the entry's name, family, dtype, ``role_priority`` and
``kv_cache``; its ``context_length`` is the smaller of the entry's and the file's own
trained context (a conversion may be shorter, never longer).

**Guessed roles** for a model no entry matches, all at ``GUESSED_PRIORITY`` (50: below
most curated entries, so a known model wins a tie) and named in the warnings:

* an encoder — the architecture's name contains ``bert``, ``electra``, ``mpnet`` or
  ``encoder``, or ends in ``ForMaskedLM``/``ForSequenceClassification``/
  ``ForTokenClassification`` — serves ``embedding`` and keeps no KV cache;
* a decoder whose id says ``embed`` (Qwen3-Embedding, nomic-embed-text on a decoder)
  serves ``embedding``, costed with a KV cache (conservative);
* a decoder with a vision tower (config ``vision_config``, or an Ollama projector)
  serves ``caption``, ``description``, ``vision_general`` and ``chat``;
* any other decoder serves ``chat``.

**Engine** by where the model was found: GGUF → llama.cpp, Ollama → Ollama, HF → vLLM
(or the matched entry's engine when that one loads HF checkpoints, e.g. transformers
for Florence-2).

**VRAM** comes from the file's own headers: the entry carries the ``ModelArch`` read
from config.json or the GGUF header, and its one variant the exact ``WeightBytes``;
``gpuplan.memory.vram`` prefers both over ``hf_config`` and ``weights_mb``, so the
estimate is exactly what ``gpuplan estimate PATH`` says on the same engine.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import Field, ValidationError

from gpuplan.errors import GpuplanError, ModelError
from gpuplan.models.arch import ModelArch
from gpuplan.models.files import LocalModel, SourceKind
from gpuplan.models.quant import normalize_quant
from gpuplan.models.registry import Backend, ModelEntry, Registry, Role, Variant
from gpuplan.models.weight_bytes import MIB, WeightBytes
from gpuplan.problems import first_problem

__all__ = [
    "BACKEND_BY_KIND",
    "GUESSED_PRIORITY",
    "LOCAL_PREFIX",
    "DiscoveredEntry",
    "DiscoveredVariant",
    "entries_from_discovery",
    "guess_roles",
    "is_encoder",
    "match_entry",
    "normalise_name",
]

LOCAL_PREFIX = "local:"
"""Prefix of every discovered entry's id; ':' is not allowed in registry ids."""

GUESSED_PRIORITY = 50
"""Priority of a guessed role: modest, so a curated registry entry wins a tie."""

BACKEND_BY_KIND: dict[SourceKind, Backend] = {
    "gguf": "llamacpp",
    "ollama": "ollama",
    "hf": "vllm",
}
"""The engine a discovered model is served with, by where it was found."""

_HF_ENGINES: frozenset[Backend] = frozenset({"vllm", "sglang", "transformers", "tensorrt-llm"})
_ENCODER_MARKERS = ("bert", "electra", "mpnet", "encoder")
_ENCODER_SUFFIXES = ("formaskedlm", "forsequenceclassification", "fortokenclassification")
_VISION_ROLES: tuple[Role, ...] = ("caption", "description", "vision_general", "chat")
_SPLIT_SUFFIX = re.compile(r"-\d{5}-of-\d{5}$")


class DiscoveredVariant(Variant):
    """The one variant of a discovered model: its files, with their exact tensor bytes."""

    weight_bytes: WeightBytes | None = Field(
        default=None,
        description="Exact tensor bytes read from the headers; None when no weight files "
        "were found (the estimator then counts parameters x bits).",
    )


class DiscoveredEntry(ModelEntry):
    """A registry entry built from files on disk; never written to a registry file."""

    id: str = Field(
        pattern=r"^local:\S+$",
        description="'local:' + the local id: cannot collide with a registry id.",
    )
    variants: tuple[DiscoveredVariant, ...] = Field(
        min_length=1, max_length=1, description="The files found: one variant."
    )
    arch: ModelArch = Field(description="Architecture read from the model's own headers.")
    kind: SourceKind = Field(description="Where it was found: gguf, hf or ollama.")
    path: str = Field(description="The file or directory it was read from.")
    matched: str | None = Field(
        default=None, description="Registry id whose roles it inherits; None: roles guessed."
    )


def normalise_name(name: str) -> str:
    """A name reduced to what survives renaming by converters and downloaders."""
    base = name.strip().lower().rsplit("/", 1)[-1]
    base = base.removesuffix(".gguf").removesuffix(":latest")
    base = _SPLIT_SUFFIX.sub("", base)
    return re.sub(r"[^a-z0-9.]+", "-", base).strip("-")


def _ollama_name(name: str) -> str:
    lowered = name.strip().lower()
    return lowered if ":" in lowered else f"{lowered}:latest"


def _exact(model: LocalModel, variant: Variant) -> bool:
    if model.kind == "hf":
        return variant.repo is not None and variant.repo.lower() == model.id.lower()
    if variant.file is None:
        return False
    if model.kind == "ollama":
        return _ollama_name(variant.file) == _ollama_name(model.id)
    wanted = variant.file.lower()
    return wanted in (Path(model.path).name.lower(), f"{model.id.lower()}.gguf")


def _by_name(model: LocalModel, entry: ModelEntry) -> bool:
    local = normalise_name(model.id)
    names = {normalise_name(entry.id)}
    for variant in entry.variants:
        names.update(normalise_name(n) for n in (variant.repo, variant.file) if n)
    return local in names


def match_entry(model: LocalModel, registry: Iterable[ModelEntry]) -> ModelEntry | None:
    """The registry entry ``model`` is a copy of, by the module docstring's two rules."""
    entries = list(registry)
    for entry in entries:
        if any(_exact(model, variant) for variant in entry.variants):
            return entry
    for entry in entries:
        if _by_name(model, entry):
            return entry
    return None


def _width_conflict(model: LocalModel, entry: ModelEntry) -> int | None:
    """The entry's stated hidden_size when it differs from the file's, else None."""
    config = entry.hf_config or {}
    text = config.get("text_config")
    stated = config.get("hidden_size")
    if stated is None and isinstance(text, dict):
        stated = text.get("hidden_size")
    if isinstance(stated, int) and stated != model.arch.hidden_size:
        return stated
    return None


def is_encoder(arch: ModelArch) -> bool:
    """An encoder-only model (BERT and kin): no KV cache, served for embeddings."""
    architecture = arch.architecture.lower()
    names = (architecture, (arch.model_type or "").lower())
    if any(marker in name for marker in _ENCODER_MARKERS for name in names):
        return True
    return architecture.endswith(_ENCODER_SUFFIXES)


def guess_roles(model: LocalModel) -> dict[Role, int]:
    """Roles from the architecture alone (the module docstring's rule)."""
    if is_encoder(model.arch) or "embed" in model.id.lower():
        return {"embedding": GUESSED_PRIORITY}
    vision_bytes = model.weights.vision_bytes if model.weights is not None else 0
    if model.arch.vision is not None or (model.kind == "ollama" and vision_bytes > 0):
        return dict.fromkeys(_VISION_ROLES, GUESSED_PRIORITY)
    return {"chat": GUESSED_PRIORITY}


def _quantization(model: LocalModel) -> tuple[str, str | None]:
    """The variant's quantization, as the registry spells it, and a warning if guessed."""
    name = model.quant or (model.weights.quant if model.weights else None) or model.arch.dtype
    if name is None:
        return "BF16", "precision unknown: costed as BF16"
    return normalize_quant(name).upper(), None


def _context_length(model: LocalModel, entry: ModelEntry | None) -> int | None:
    known = [
        n
        for n in (entry.context_length if entry else None, model.arch.max_position_embeddings)
        if n is not None and n > 0
    ]
    return min(known) if known else None


def _backend(model: LocalModel, entry: ModelEntry | None) -> Backend:
    if model.kind == "hf" and entry is not None and entry.backend in _HF_ENGINES:
        return entry.backend
    return BACKEND_BY_KIND[model.kind]


def _entry(
    model: LocalModel, entry_id: str, registry: Sequence[ModelEntry]
) -> tuple[DiscoveredEntry, list[str]]:
    kind = model.kind
    if kind == "registry":  # ``gpuplan estimate ID``'s stand-in; already in the registry
        raise ModelError(f"{model.id!r} is a registry entry, not a model on disk")
    warnings: list[str] = []
    matched = match_entry(model, registry)
    if matched is not None:
        stated = _width_conflict(model, matched)
        if stated is not None:
            warnings.append(
                f"{entry_id}: its name matches registry entry {matched.id!r} but its hidden "
                f"size is {model.arch.hidden_size}, not {stated}: treated as a different model"
            )
            matched = None
    quantization, quant_warning = _quantization(model)
    if quant_warning:
        warnings.append(f"{entry_id}: {quant_warning}")
    weights = model.weights
    if weights is None:
        warnings.append(f"{entry_id}: no weight files found: VRAM from parameters x bits")
    if matched is not None:
        roles = dict(matched.role_priority)
        kv_cache = matched.kv_cache
        provenance = f"roles from registry entry {matched.id!r}"
    else:
        roles = guess_roles(model)
        kv_cache = not is_encoder(model.arch)
        listed = ", ".join(f"{role}={priority}" for role, priority in roles.items())
        provenance = f"roles guessed from the architecture ({model.arch.architecture}): {listed}"
        warnings.append(f"{entry_id}: {provenance}")
    parameters = (weights.parameters if weights else 0) or model.arch.total_parameters
    variant = DiscoveredVariant(
        quantization=quantization,
        repo=model.id if kind == "hf" and "/" in model.id else None,
        file=Path(model.path).name if kind == "gguf" else model.id if kind == "ollama" else None,
        weights_mb=math.ceil(weights.total_bytes / MIB)
        if weights and weights.total_bytes
        else None,
        weight_bytes=weights,
    )
    found = DiscoveredEntry(
        id=entry_id,
        name=matched.name if matched else model.id,
        backend=_backend(model, matched),
        family=matched.family if matched else (model.arch.model_type or model.arch.architecture),
        parameters_b=parameters / 1e9,
        context_length=_context_length(model, matched),
        dtype=matched.dtype if matched else (model.arch.dtype or "bf16"),
        kv_cache=kv_cache,
        role_priority=roles,
        variants=(variant,),
        source=model.path,
        notes="; ".join([f"found on disk ({kind}) at {model.path}", provenance, *model.notes]),
        arch=model.arch,
        kind=kind,
        path=model.path,
        matched=matched.id if matched else None,
    )
    return found, warnings


def entries_from_discovery(
    models: Sequence[LocalModel], registry: Registry | Iterable[ModelEntry]
) -> tuple[tuple[DiscoveredEntry, ...], tuple[str, ...]]:
    """Registry entries for models found on disk, and what had to be guessed for them.

    A model that cannot become an entry (an unknown quantization, say) is left out
    with a warning naming it, so one odd file never hides the others.
    """
    known = list(registry)
    taken = {entry.id for entry in known}
    entries: list[DiscoveredEntry] = []
    warnings: list[str] = []
    for model in models:
        base = LOCAL_PREFIX + re.sub(r"\s+", "-", model.id.strip())
        entry_id, number = base, 1
        while entry_id in taken:
            number += 1
            entry_id = f"{base}-{number}"
        if entry_id != base:
            warnings.append(f"{base} found twice; the copy at {model.path} is {entry_id}")
        try:
            entry, notes = _entry(model, entry_id, known)
        except (GpuplanError, ValidationError) as error:
            reason = first_problem(error.errors()) if isinstance(error, ValidationError) else error
            warnings.append(f"{model.path}: left out: {reason}")
            continue
        taken.add(entry_id)
        entries.append(entry)
        warnings.extend(notes)
    return tuple(entries), tuple(warnings)
