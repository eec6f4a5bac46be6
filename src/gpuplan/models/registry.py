"""The model registry: which models gpuplan knows, what roles each serves, how it ships.

A registry is data, not code (DESIGN.md principle 2). The packaged file
``data/registry.toml`` holds the seeds' models and popular open models; users
add or replace entries with their own TOML, YAML or JSON files. Files are layered in
order — packaged, then ``$XDG_CONFIG_HOME/gpuplan/models/*.toml|yaml|json`` (sorted
by name), then ``$GPUPLAN_REGISTRY`` (paths separated by ``os.pathsep``), then
paths given explicitly — and a later entry *replaces* an earlier one with the
same id, whole: a partial merge would silently combine one file's variants
with another file's architecture facts.

A file is one table ``models``, a list of entries::

    [[models]]
    id = "llama-3.1-8b"
    name = "Llama 3.1 8B Instruct"
    backend = "vllm"
    family = "llama"
    parameters_b = 8.03
    context_length = 131072
    role_priority = { chat = 70 }
    source = "https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/blob/main/config.json"
    hf_config = { num_hidden_layers = 32, hidden_size = 4096, ... }
    [[models.variants]]
    quantization = "BF16"
    repo = "meta-llama/Llama-3.1-8B-Instruct"

``hf_config`` is kept in config.json's own key names so that the estimator's
``parse_hf_config`` reads it exactly as it would read the real file:
one parser of architecture facts, not two.

Reading files is the edge (``load_registry``, ``read_registry_file``); turning a
parsed document into entries (``parse_registry_document``) and layering them
(``merge_layers``) are pure.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gpuplan.documents import (
    DocumentReadError,
    DocumentSyntaxError,
    display_path,
    format_of,
    parse_document,
    read_text,
)
from gpuplan.errors import GpuplanError, ModelError, ModelNotFoundError, UnknownRoleError
from gpuplan.hardware.model import MAX_GPU_MEMORY_MB, MAX_GPUS_PER_HOST
from gpuplan.models.arch import MAX_CONTEXT, MAX_PARAMETERS
from gpuplan.models.hf_config import parse_hf_config
from gpuplan.models.quant import normalize_quant
from gpuplan.problems import describe

__all__ = [
    "BACKENDS",
    "PACKAGED_REGISTRY",
    "REGISTRY_ENV",
    "ROLES",
    "ROLE_DESCRIPTIONS",
    "Backend",
    "ModelEntry",
    "Registry",
    "Role",
    "Variant",
    "load_registry",
    "merge_layers",
    "parse_registry_document",
    "parse_role",
    "read_registry_file",
    "registry_files",
    "user_registry_dir",
]

Role = Literal[
    "keywords",
    "caption",
    "description",
    "narration",
    "object_detection",
    "vision_general",
    "chat",
    "reasoning",
    "embedding",
    "image_embedding",
]
"""A task a model can be chosen for: seed 001's six vision roles, chat, reasoning, and the
two kinds of embedding (``ROLE_DESCRIPTIONS`` says what each means)."""

ROLES: tuple[Role, ...] = get_args(Role)

ROLE_DESCRIPTIONS: dict[Role, str] = {
    "keywords": "keywords or tags for an image",
    "caption": "a short caption for an image",
    "description": "a detailed description of an image",
    "narration": "a narrative about an image",
    "object_detection": "boxes and labels of the objects in an image",
    "vision_general": "general questions about images",
    "chat": "conversation and instructions in text",
    "reasoning": "step-by-step reasoning, maths and code",
    "embedding": "text embeddings for retrieval and search (RAG): bge-m3, nomic-embed-text, "
    "qwen3-embedding",
    "image_embedding": "joint image-text embeddings, for image search and zero-shot labels: "
    "SigLIP, CLIP",
}
"""What each role asks of a model, in words a self-hoster knows. "embedding" is text
retrieval: an image-text model (SigLIP, CLIP, 64-77 token context) is not the answer."""

Backend = Literal["vllm", "sglang", "llamacpp", "ollama", "tensorrt-llm", "transformers"]
"""The serving engine a model (or one of its variants) is launched with."""

BACKENDS: tuple[Backend, ...] = get_args(Backend)

REGISTRY_ENV = "GPUPLAN_REGISTRY"
PACKAGED_REGISTRY = "packaged"
"""The origin name of entries that come from the packaged registry file."""

MAX_BUDGET_MB = MAX_GPUS_PER_HOST * MAX_GPU_MEMORY_MB
"""No figure for one model can exceed the VRAM of the largest host."""

_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"

HFConfigValue = str | int | float | bool | None | list[Any] | dict[str, Any]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Variant(_Frozen):
    """One way the model ships: a quantization, where to get it, and what it needs.

    ``vram_estimate_mb`` is an override for models the estimator cannot model
    (detectors, hybrid Mamba); it must cite where the figure comes from, so a
    number in the registry is never a guess nobody can check.
    """

    quantization: str = Field(
        description="Quantization as engines name it: 'BF16', 'FP8', 'AWQ', 'Q4_K_M', 'MXFP4'…",
        min_length=1,
    )
    backend: Backend | None = Field(
        default=None,
        description="Engine for this variant when it differs from the model's (GGUF → llamacpp).",
    )
    repo: str | None = Field(default=None, description="Hugging Face repo id of these weights.")
    file: str | None = Field(
        default=None, description="File inside the repo (a GGUF) or an Ollama tag."
    )
    weights_mb: int | None = Field(
        default=None,
        gt=0,
        le=MAX_BUDGET_MB,
        description="Size of the weight files in MiB when known (GGUF file size); "
        "the estimator then uses it instead of parameters x bits.",
    )
    vram_estimate_mb: int | None = Field(
        default=None,
        gt=0,
        le=MAX_BUDGET_MB,
        description="Fixed serving VRAM in MiB, used instead of the estimator; needs "
        "vram_estimate_source.",
    )
    vram_estimate_source: str | None = Field(
        default=None, description="Where the fixed vram_estimate_mb figure comes from."
    )

    @field_validator("quantization")
    @classmethod
    def _known_quantization(cls, value: str) -> str:
        try:
            normalize_quant(value)
        except GpuplanError as error:
            raise ValueError(str(error)) from None
        return value

    @model_validator(mode="after")
    def _fixed_figure_is_cited(self) -> Variant:
        if self.vram_estimate_mb is not None and not self.vram_estimate_source:
            raise ValueError(
                "vram_estimate_mb needs vram_estimate_source saying where the figure comes from"
            )
        return self


class ModelEntry(_Frozen):
    """One model: what it is, which roles it serves how well, and how it ships."""

    id: str = Field(
        pattern=_ID_PATTERN,
        description="Registry id: lowercase letters, digits, '.', '_' and '-'.",
    )
    name: str = Field(min_length=1, description="Human name, e.g. 'Qwen3-VL 8B Instruct'.")
    backend: Backend = Field(description="Engine the model is served with by default.")
    family: str = Field(min_length=1, description="Architecture family, e.g. 'llama', 'qwen3'.")
    parameters_b: float = Field(
        gt=0, le=MAX_PARAMETERS / 1e9, description="Total parameters, billions."
    )
    active_parameters_b: float | None = Field(
        default=None,
        gt=0,
        le=MAX_PARAMETERS / 1e9,
        description="Parameters active per token (MoE), billions.",
    )
    context_length: int | None = Field(
        default=None,
        gt=0,
        le=MAX_CONTEXT,
        description="Longest context the model supports, tokens; None for non-sequence models.",
    )
    dtype: str = Field(
        default="bf16", description="Precision of the released weights: 'bf16', 'fp16', 'fp32'."
    )
    kv_cache: bool = Field(
        default=True,
        description="Keeps a KV cache while serving (decoder LLMs and VLMs do; encoders, "
        "embedders and detectors do not).",
    )
    role_priority: dict[Role, int] = Field(
        description="How well the model serves each role, 0-100 (higher is better). A role "
        "missing here is a role the model does not serve."
    )
    variants: tuple[Variant, ...] = Field(
        min_length=1, description="Quantizations the model ships in."
    )
    hf_config: dict[str, HFConfigValue] | None = Field(
        default=None,
        description="Architecture facts in config.json's own key names (num_hidden_layers, "
        "hidden_size, num_key_value_heads, …), read by the estimator.",
    )
    source: str = Field(
        min_length=1, description="Where the facts come from: the config.json URL or model card."
    )
    notes: str = Field(default="", description="Anything a user should know about the entry.")

    @field_validator("role_priority")
    @classmethod
    def _priorities_in_range(cls, value: dict[Role, int]) -> dict[Role, int]:
        for role, priority in value.items():
            if not 0 <= priority <= 100:
                raise ValueError(f"priority for {role!r} is {priority}; use 0-100")
        return value

    @model_validator(mode="after")
    def _active_within_total(self) -> ModelEntry:
        if self.active_parameters_b is not None and self.active_parameters_b > self.parameters_b:
            raise ValueError(
                f"active_parameters_b {self.active_parameters_b:g} is more than parameters_b "
                f"{self.parameters_b:g}; the active parameters are part of the total"
            )
        return self

    @model_validator(mode="after")
    def _unique_quantizations(self) -> ModelEntry:
        seen: set[str] = set()
        for variant in self.variants:
            key = variant.quantization.lower()
            if key in seen:
                raise ValueError(f"quantization {variant.quantization!r} is listed twice")
            seen.add(key)
        return self

    def variant(self, quantization: str) -> Variant:
        """The variant of that quantization (case-insensitive)."""
        for variant in self.variants:
            if variant.quantization.lower() == quantization.lower():
                return variant
        known = ", ".join(v.quantization for v in self.variants)
        raise ModelNotFoundError(
            f"model {self.id!r} has no {quantization!r} variant", hint=f"it ships as {known}"
        )

    def backend_for(self, variant: Variant) -> Backend:
        return variant.backend or self.backend


class Registry(_Frozen):
    """The merged registry: entries in file order, and which file each came from."""

    entries: tuple[ModelEntry, ...] = Field(default=(), description="Models, in load order.")
    origins: dict[str, str] = Field(
        default_factory=dict, description="Model id → file (or 'packaged') it was read from."
    )
    files: tuple[str, ...] = Field(default=(), description="Files read, in layering order.")
    warnings: tuple[str, ...] = Field(
        default=(), description="Broken files of the user's registry directory, skipped."
    )

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[ModelEntry]:  # type: ignore[override]
        return iter(self.entries)

    def find(self, model_id: str) -> ModelEntry | None:
        for entry in self.entries:
            if entry.id == model_id:
                return entry
        return None

    def get(self, model_id: str) -> ModelEntry:
        """The entry of that id, else ``ModelNotFoundError`` with the closest ids."""
        entry = self.find(model_id)
        if entry is not None:
            return entry
        close = difflib.get_close_matches(model_id, [e.id for e in self.entries], n=3)
        hint = (
            "closest ids: " + ", ".join(close)
            if close
            else "run `gpuplan fit` to list the registry's models"
        )
        raise ModelNotFoundError(f"no model {model_id!r} in the registry", hint=hint)

    def roles(self) -> tuple[Role, ...]:
        """Roles at least one model serves, in ``ROLES`` order."""
        served = {role for entry in self.entries for role in entry.role_priority}
        return tuple(role for role in ROLES if role in served)

    def by_role(self, role: Role) -> tuple[ModelEntry, ...]:
        return tuple(entry for entry in self.entries if role in entry.role_priority)


def parse_role(value: str) -> Role:
    """A role name as the user typed it, checked; an unknown one names the known ones."""
    normal = value.strip().lower().replace("-", "_")
    for role in ROLES:
        if role == normal:
            return role
    close = difflib.get_close_matches(normal, ROLES, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise UnknownRoleError(f"unknown role {value!r}", hint=hint + "roles: " + ", ".join(ROLES))


# --- pure: document → entries, layers → registry ---------------------------------


def _field_path(loc: Sequence[int | str], entries: Sequence[Any]) -> str:
    """'models[3] (qwen3-vl-8b).role_priority.chat' from a pydantic error location."""
    if not loc:
        return "models"
    index = loc[0]
    head = f"models[{index}]"
    if isinstance(index, int) and index < len(entries) and isinstance(entries[index], Mapping):
        model_id = entries[index].get("id")
        if isinstance(model_id, str):  # quoted when it would break the one-line message
            head += f" ({model_id})" if model_id.isprintable() else f" ({model_id!r})"
    rest = ""
    for part in loc[1:]:
        rest += f"[{part}]" if isinstance(part, int) else f".{part}"
    return head + rest


def _fix_for(error_type: str) -> str:
    fixes = {
        "missing": "add the field",
        "extra_forbidden": "remove the field or check its spelling",
        "literal_error": "use one of the listed values",
        "string_pattern_mismatch": "use lowercase letters, digits, '.', '_' and '-'",
    }
    return fixes.get(error_type, "correct the value")


def parse_registry_document(data: object, *, origin: str) -> tuple[ModelEntry, ...]:
    """Entries of one parsed file; any problem is a ``ModelError`` naming file, field, fix."""
    if not isinstance(data, Mapping):
        raise ModelError(
            f"{origin}: a registry file must be a table with a 'models' list",
            hint="start the file with [[models]] (TOML) or 'models:' (YAML)",
        )
    unknown = sorted(set(data) - {"models", "schema_version"})
    if unknown:
        raise ModelError(
            f"{origin}: unknown top-level key(s) {', '.join(map(repr, unknown))}",
            hint="a registry file holds only 'models' (and optionally 'schema_version')",
        )
    raw = data.get("models", [])
    if not isinstance(raw, list):
        raise ModelError(
            f"{origin}: 'models' must be a list of tables",
            hint="write each model as [[models]] (TOML) or '- id: …' under 'models:' (YAML)",
        )
    entries: list[ModelEntry] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        try:
            entry = ModelEntry.model_validate(item)
        except ValidationError as error:
            problems = []
            for e in error.errors():
                _, problem = describe(e)
                where = _field_path([index, *(p for p in e["loc"] if p != "[key]")], raw)
                problems.append(f"{where}: {problem} ({_fix_for(e['type'])})")
            more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
            raise ModelError(f"{origin}: " + "; ".join(problems[:3]) + more) from None
        if entry.hf_config is not None:
            try:
                parse_hf_config(entry.hf_config)
            except ModelError as error:
                raise ModelError(
                    f"{origin}: {_field_path([index], raw)}.hf_config: {error.message}",
                    hint=error.hint,
                ) from None
        if entry.id in seen:
            raise ModelError(
                f"{origin}: models[{index}]: id {entry.id!r} already used by "
                f"models[{seen[entry.id]}]",
                hint="give each model its own id; to replace a packaged model, use its id in a "
                "user file instead",
            )
        seen[entry.id] = index
        entries.append(entry)
    return tuple(entries)


def merge_layers(layers: Iterable[tuple[str, Sequence[ModelEntry]]]) -> Registry:
    """Layer registries in order; a later entry replaces an earlier one of the same id, whole.

    A replaced entry keeps its original position so that the packaged order
    (which the ``balanced`` bias never reorders) stays stable under overrides.
    """
    by_id: dict[str, ModelEntry] = {}
    origins: dict[str, str] = {}
    files: list[str] = []
    for origin, entries in layers:
        files.append(origin)
        for entry in entries:
            by_id[entry.id] = entry
            origins[entry.id] = origin
    return Registry(entries=tuple(by_id.values()), origins=origins, files=tuple(files))


# --- edge: files ------------------------------------------------------------------


def user_registry_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/gpuplan/models``, else ``~/.config/gpuplan/models``."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "gpuplan" / "models"


def _files_in(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if format_of(p) is not None and p.is_file())
    return [path]


def registry_files(
    paths: Sequence[str | Path] = (),
    *,
    user: bool = True,
    env: Mapping[str, str] | None = None,
) -> list[Path]:
    """User registry files in layering order (the packaged file comes before all of them)."""
    env = os.environ if env is None else env
    files: list[Path] = []
    if user:
        directory = user_registry_dir(env)
        if directory.is_dir():
            files.extend(_files_in(directory))
    for raw in (env.get(REGISTRY_ENV) or "").split(os.pathsep):
        if raw.strip():
            files.extend(_files_in(Path(raw.strip()).expanduser()))
    for path in paths:
        files.extend(_files_in(Path(path).expanduser()))
    return files


def _read_document(path: Path) -> object:
    fmt = format_of(path)
    try:
        text = read_text(path)  # first: a missing file, a directory or a device says so
    except DocumentReadError as error:
        raise ModelError(f"registry file {error}", hint=error.hint) from None
    if fmt is None:
        raise ModelError(
            f"registry file {display_path(path)} is not TOML, YAML or JSON",
            hint="name it *.toml, *.yaml, *.yml or *.json",
        )
    try:
        return parse_document(text, fmt) or {}
    except DocumentSyntaxError as error:
        raise ModelError(
            f"registry file {display_path(path)} is {error}", hint=error.fix or "fix that line"
        ) from None


def read_registry_file(path: Path) -> tuple[ModelEntry, ...]:
    """Entries of one TOML, YAML or JSON registry file."""
    return parse_registry_document(_read_document(path), origin=str(path))


def _packaged_entries() -> tuple[ModelEntry, ...]:
    text = resources.files("gpuplan.models").joinpath("data/registry.toml").read_text("utf-8")
    return parse_registry_document(tomllib.loads(text), origin=PACKAGED_REGISTRY)


_PACKAGED_CACHE: list[tuple[ModelEntry, ...]] = []


def load_registry(
    paths: Sequence[str | Path] = (),
    *,
    packaged: bool = True,
    user: bool = True,
    env: Mapping[str, str] | None = None,
) -> Registry:
    """The registry to plan with: packaged, then user files, then ``paths``, later wins."""
    layers: list[tuple[str, Sequence[ModelEntry]]] = []
    if packaged:
        if not _PACKAGED_CACHE:
            _PACKAGED_CACHE.append(_packaged_entries())
        layers.append((PACKAGED_REGISTRY, _PACKAGED_CACHE[0]))
    skipped: list[str] = []
    if user:  # a broken file in the user's directory warns; a file named explicitly fails
        for path in _user_files(env):
            try:
                layers.append((str(path), read_registry_file(path)))
            except ModelError as error:
                skipped.append(f"skipped a broken registry file: {error}")
    for path in registry_files(paths, user=False, env=env):
        layers.append((str(path), read_registry_file(path)))
    registry = merge_layers(layers)
    return registry.model_copy(update={"warnings": tuple(skipped)}) if skipped else registry


def _user_files(env: Mapping[str, str] | None) -> list[Path]:
    directory = user_registry_dir(os.environ if env is None else env)
    return _files_in(directory) if directory.is_dir() else []
