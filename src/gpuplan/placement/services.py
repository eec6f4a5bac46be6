"""Services to place, from a services file or from the plan's own selection.

A services file (YAML, TOML or JSON, read by ``gpuplan.documents``) lists
``services``; each has a ``name`` and one source of VRAM:

* ``model``: a registry id (``gpuplan fit`` lists them) or a model on disk (a
  ``.gguf`` file, a HF model directory or its ``config.json``, relative to the
  file); the estimator costs it at the planning context, optionally for a
  ``quantization`` (default: the model's first variant, or the file's own);
* ``models``: a model zoo sharing one budget (seed 004's ai-enrichment): give
  the budget as ``vram_mb`` (or ``vram_budget_override_mb``); without one it is
  the sum of the members' estimates (all loaded at once);
* ``vram_mb``: an explicit figure, for what the registry does not know.

Optional: ``role`` (``llm`` marks the LLM), ``latency_sensitive``, a pinned
``gpu`` index, ``engine``, ``vram_budget_override_mb`` (wins over the estimate)
and ``gpus`` (devices to span). A bad file is one ``ServicesFileError``: the
file, the line, the field and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gpuplan.documents import DocumentSyntaxError, Format, format_of, parse_document
from gpuplan.errors import GpuplanError, ServicesFileError
from gpuplan.hardware.model import MAX_GPU_MEMORY_MB
from gpuplan.placement.model import SERVICE_NAME_MAX, SERVICE_NAME_PATTERN, Service
from gpuplan.problems import describe, shown

if TYPE_CHECKING:
    from gpuplan.models.registry import ModelEntry

__all__ = ["MAX_FILE_BYTES", "load_services", "parse_services", "services_from_selection"]

MAX_FILE_BYTES = 4 * 2**20
"""A services file is a few KiB; anything this large is the wrong file."""

_EXAMPLE = "services:\n  - name: ai-llm\n    model: qwen3-8b\n    role: llm"


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=SERVICE_NAME_MAX, pattern=SERVICE_NAME_PATTERN)
    model: str | None = Field(default=None, min_length=1)
    models: tuple[str, ...] = ()
    vram_mb: int | None = Field(default=None, ge=0, le=MAX_GPU_MEMORY_MB)
    quantization: str | None = Field(default=None, min_length=1)
    role: str | None = None
    latency_sensitive: bool = False
    gpu: int | None = Field(default=None, ge=0)
    gpus: int = Field(default=1, ge=1, le=1024)
    engine: str | None = None
    vram_budget_override_mb: int | None = Field(default=None, ge=0, le=MAX_GPU_MEMORY_MB)
    # How `gpuplan serve` runs the service (gpuplan.serving.model.ServiceSpec checks them);
    # placement has no use for them, but one services file feeds both stages.
    cmd: Any = None
    env: Any = None
    health: Any = None
    aliases: Any = None
    pinned: Any = None
    grace_period_seconds: Any = None
    autostart_timeout_seconds: Any = None
    priority: Any = None

    @field_validator("models", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value


class _File(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    services: tuple[_Entry, ...]

    @field_validator("services", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value


def load_services(
    path: str | Path,
    *,
    entries: Sequence[ModelEntry] | None = None,
    context: int | None = None,
    gpu_memory_mb: int | None = None,
    concurrency: int = 1,
) -> tuple[Service, ...]:
    """The services a file lists, each with its VRAM resolved (estimator or ``vram_mb``).

    ``entries`` is the registry to look ``model`` ids up in (default: the
    packaged and user registry); ``context`` the planning context;
    ``gpu_memory_mb`` the GPU the estimate is sized for (default: the largest);
    ``concurrency`` the sequences each model serves at once, which its KV cache
    holds (an explicit ``vram_mb`` is taken as given).
    """
    path = Path(path).expanduser()
    text = _read(path)
    fmt = format_of(path) or ("json" if text.lstrip().startswith(("{", "[")) else "yaml")
    return parse_services(
        text,
        fmt,
        origin=str(path),
        base=path.parent,
        entries=entries,
        context=context,
        gpu_memory_mb=gpu_memory_mb,
        concurrency=concurrency,
    )


def _read(path: Path) -> str:
    try:
        if not path.is_file():
            what = "is a directory" if path.is_dir() else "does not exist"
            raise ServicesFileError(
                f"services file {path} {what}",
                hint="give a YAML, TOML or JSON file with a list `services` "
                "(see examples/seed004-services.yml)",
            )
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ServicesFileError(
            f"cannot read services file {path}: {error.strerror or error}",
            hint="check the path and its permissions",
        ) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ServicesFileError(
            f"services file {path} is larger than {MAX_FILE_BYTES // 2**20} MiB",
            hint="a services file is a few KiB; check that this is the right file",
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ServicesFileError(
            f"services file {path} is not UTF-8 text", hint="save it again as UTF-8"
        ) from None


def parse_services(
    text: str,
    fmt: Format,
    *,
    origin: str = "<services>",
    base: Path | None = None,
    entries: Sequence[ModelEntry] | None = None,
    context: int | None = None,
    gpu_memory_mb: int | None = None,
    concurrency: int = 1,
) -> tuple[Service, ...]:
    """``load_services`` on text already read (``origin`` names it in errors)."""
    try:
        data = parse_document(text, fmt)
    except DocumentSyntaxError as error:
        raise ServicesFileError(
            f"services file {origin} is {error}", hint="fix the line named"
        ) from None
    if not isinstance(data, Mapping) or "services" not in data:
        raise ServicesFileError(
            f"services file {origin}: no list `services` at the top level",
            hint=f"write it like\n{_EXAMPLE}".replace("\n", " ⏎ "),
        )
    try:
        parsed = _File.model_validate(data)
    except ValidationError as error:
        raise _file_error(error, origin, text, fmt) from None
    seen: dict[str, int] = {}
    for number, entry in enumerate(parsed.services):
        if entry.name in seen:
            raise _at(
                origin,
                text,
                fmt,
                ("services", number, "name"),
                f"field services[{number}].name: {entry.name!r} is already "
                f"services[{seen[entry.name]}]",
                "give every service its own name",
            )
        seen[entry.name] = number
        sources = [entry.model is not None, bool(entry.models), entry.vram_mb is not None]
        if entry.model is not None and entry.models:
            raise _at(
                origin,
                text,
                fmt,
                ("services", number, "models"),
                f"field services[{number}]: both model and models",
                "use model for one model, models for a zoo sharing one budget",
            )
        if not any(sources) and entry.vram_budget_override_mb is None:
            raise _at(
                origin,
                text,
                fmt,
                ("services", number, "name"),
                f"field services[{number}] ({entry.name}): no model, models or vram_mb",
                "add `model: REGISTRY_ID`, a list `models` with a `vram_mb` budget, "
                "or an explicit `vram_mb`",
            )
    resolver = _Resolver(entries, context, gpu_memory_mb, base, concurrency)
    services = []
    for number, entry in enumerate(parsed.services):
        try:
            services.append(resolver.service(entry))
        except GpuplanError as error:
            field = "model" if entry.model is not None else "models"
            raise _at(
                origin,
                text,
                fmt,
                ("services", number, field),
                f"field services[{number}].{field}: {error.message}",
                error.hint or "use an id `gpuplan fit` lists, or give vram_mb",
            ) from None
    return tuple(services)


class _Resolver:
    """Registry look-ups and VRAM estimates, loaded on first need."""

    def __init__(
        self,
        entries: Sequence[ModelEntry] | None,
        context: int | None,
        gpu_memory_mb: int | None,
        base: Path | None,
        concurrency: int = 1,
    ) -> None:
        self._entries = entries
        self._context = context
        self._gpu_memory_mb = gpu_memory_mb
        self._base = base
        self._concurrency = concurrency

    def registry(self) -> Sequence[ModelEntry]:
        if self._entries is None:
            from gpuplan.models.registry import load_registry

            self._entries = tuple(load_registry())
        return self._entries

    def service(self, entry: _Entry) -> Service:
        quantization = entry.quantization
        engine = entry.engine
        sizes: tuple[int, ...] = ()
        smallest = 0
        if entry.models and entry.vram_mb is not None:
            smallest = self.smallest(entry.models)
        if entry.vram_mb is not None:
            vram = entry.vram_mb
        elif entry.model is not None:
            vram, quantization, backend, sizes = self.cost(entry.model, entry.quantization)
            engine = engine or backend
        elif entry.models:
            costs = [self.cost(member, None)[0] for member in entry.models]
            vram, smallest = sum(costs), min(costs)
        else:
            vram = entry.vram_budget_override_mb or 0
        return Service(
            name=entry.name,
            model=entry.model,
            models=entry.models,
            vram_mb=vram,
            gpus_needed=entry.gpus,
            role=entry.role,
            latency_sensitive=entry.latency_sensitive,
            gpu=entry.gpu,
            engine=engine,
            vram_budget_override_mb=entry.vram_budget_override_mb,
            quantization=quantization,
            tensor_parallel_sizes=sizes,
            min_vram_mb=smallest,
        )

    def smallest(self, members: Sequence[str]) -> int:
        """MiB of the zoo's smallest member the registry can cost; 0 if it knows none."""
        costs = []
        for member in members:
            try:
                costs.append(self.cost(member, None)[0])
            except GpuplanError:
                continue
        return min(costs, default=0)

    def cost(self, model: str, quantization: str | None) -> tuple[int, str, str, tuple[int, ...]]:
        """(MiB, quantization, backend, accepted TP sizes) of one model."""
        from gpuplan.memory.figure import DEFAULT_CONTEXT
        from gpuplan.memory.vram import coster_for_gpu
        from gpuplan.selection.candidates import build_candidates

        entry = self._find(model)
        variants = [
            v
            for v in entry.variants
            if quantization is None or v.quantization.lower() == quantization.lower()
        ]
        if not variants:
            known = ", ".join(v.quantization for v in entry.variants)
            raise ServicesFileError(
                f"model {entry.id!r} has no variant {quantization!r}",
                hint=f"use one of {known}",
            )
        one = entry.model_copy(update={"variants": (variants[0],)})
        context = self._context or DEFAULT_CONTEXT
        coster = coster_for_gpu(self._gpu_memory_mb, concurrency=self._concurrency)
        candidate = build_candidates([one], context=context, coster=coster)[0]
        return (
            candidate.vram_estimate_mb,
            candidate.quantization,
            candidate.backend,
            _tp_sizes(one),
        )

    def _find(self, model: str) -> ModelEntry:
        for entry in self.registry():
            if entry.id == model:
                return entry
        local = self._local(model)
        if local is not None:
            return local
        from gpuplan.models.registry import Registry

        return Registry(entries=tuple(self.registry())).get(model)

    def _local(self, model: str) -> ModelEntry | None:
        looks_like_path = "/" in model or model.endswith((".gguf", ".json")) or model[:1] in ".~"
        if not looks_like_path:
            return None
        path = Path(model).expanduser()
        if not path.is_absolute() and self._base is not None:
            path = self._base / path
        from gpuplan.models.discovered import entries_from_discovery
        from gpuplan.models.files.discover import discover

        found = discover(path)
        if not found.models:
            problem = found.problems[0] if found.problems else f"{path}: no model found"
            raise ServicesFileError(problem, hint="give a .gguf file or a HF model directory")
        made, _warnings = entries_from_discovery(found.models[:1], self.registry())
        if not made:
            raise ServicesFileError(
                f"{path}: cannot be estimated", hint="give vram_mb for this service"
            )
        return made[0]


def _tp_sizes(entry: ModelEntry) -> tuple[int, ...]:
    """Tensor-parallel sizes the entry's engine accepts (heads divisible), as ``fit`` checks."""
    from gpuplan.memory.engines import engine_profile
    from gpuplan.memory.estimate import splits_heads
    from gpuplan.memory.vram import arch_of, engine_for, has_arch

    if not entry.kv_cache or not has_arch(entry):
        return ()
    try:
        arch = arch_of(entry)
    except GpuplanError:
        return ()
    engine = engine_profile(engine_for(entry.backend_for(entry.variants[0])))
    return tuple(k for k in (1, 2, 4, 8, 16) if splits_heads(arch, engine, k))


def services_from_selection(
    models: Iterable[Any], *, engines: Mapping[str, str] | None = None
) -> tuple[Service, ...]:
    """One service per model the plan loads (``JointSelection.models``).

    Named after the model id; the role that makes it the LLM is its first
    generative role (chat, reasoning, …), latency-sensitive when it serves chat.
    """
    from gpuplan.placement.model import LLM_ROLES

    services = []
    for loaded in models:
        roles = tuple(loaded.roles)
        llm = next((r for r in roles if r in LLM_ROLES), None)
        services.append(
            Service(
                name=_service_name(loaded.model_id),
                model=loaded.model_id,
                vram_mb=loaded.vram_estimate_mb,
                gpus_needed=max(1, loaded.gpus),
                role="llm" if llm is not None else (roles[0] if roles else None),
                latency_sensitive="chat" in roles,
                engine=(engines or {}).get(loaded.model_id),
                quantization=loaded.quantization,
            )
        )
    return tuple(services)


def _service_name(model_id: str) -> str:
    """A model id as a Compose service name: other characters become '-'."""
    name = re.sub(r"[^a-zA-Z0-9_.-]", "-", model_id).lstrip("_.-")[:SERVICE_NAME_MAX]
    return name or "model"


# --------------------------------------------------------------------------- errors


def _file_error(error: ValidationError, origin: str, text: str, fmt: Format) -> ServicesFileError:
    first = error.errors()[0]
    loc = tuple(first["loc"])
    if loc and loc[0] == "services" and len(loc) >= 2 and isinstance(loc[1], int):
        loc = loc[:3]
    field = _field_path(loc)
    kind = first["type"]
    more = f" (and {len(error.errors()) - 1} more)" if len(error.errors()) > 1 else ""
    if kind == "extra_forbidden":
        message = f"unknown field {field}{more}"
        hint = (
            "a service has name, model, models, vram_mb, quantization, role, "
            "latency_sensitive, gpu, gpus, engine, vram_budget_override_mb"
        )
    elif kind == "missing":
        message = f"field {field} is missing{more}"
        hint = f"add {field.rsplit('.', 1)[-1]}"
    else:
        if kind == "string_pattern_mismatch" and loc and loc[-1] == "name":
            problem = f"is not a Compose service name (got {shown(first.get('input'))})"
        else:
            problem = describe({**first, "loc": loc})[1]
        message = f"field {field} {problem}{more}"
        last = loc[-1] if loc else ""
        hint = (
            "write each service as an entry `- name: …` with its fields"
            if isinstance(last, int)
            else _HINTS.get(str(last), "fix the value")
        )
    return _at(origin, text, fmt, loc, message, hint)


_HINTS = {
    "vram_mb": "write a whole number of MiB (at most 8 TiB), like vram_mb: 1536",
    "vram_budget_override_mb": "write a whole number of MiB (at most 8 TiB), "
    "like vram_budget_override_mb: 3584",
    "gpu": "write the GPU's index as nvidia-smi numbers it, like gpu: 0",
    "gpus": "write how many GPUs to span, like gpus: 2",
    "latency_sensitive": "write true or false",
    "models": "write a list of model ids, like models: [yolo26, clip-vit-large-patch14]",
    "services": "make services a list of entries, each starting with `- name: …`",
    "name": "give each service a Compose service name: letters, digits, '_', '.', '-', "
    f"starting with a letter or digit, at most {SERVICE_NAME_MAX} characters, like name: ai-llm",
}


def _at(
    origin: str, text: str, fmt: Format, loc: tuple[Any, ...], message: str, hint: str
) -> ServicesFileError:
    line = _line_of(text, fmt, loc)
    where = f", line {line}" if line is not None else ""
    return ServicesFileError(f"services file {origin}{where}: {message}", hint=hint)


def _field_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def _line_of(text: str, fmt: Format, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of ``loc`` (('services', 2, 'vram_mb')), or of its nearest parent."""
    if fmt == "yaml":
        return _yaml_line(text, loc)
    return _scan_line(text, fmt, loc)


def _yaml_line(text: str, loc: tuple[Any, ...]) -> int | None:
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(
                (
                    (k, v)
                    for k, v in node.value
                    if isinstance(k, yaml.ScalarNode) and k.value == part
                ),
                None,
            )
            if match is None:
                break
            line = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _scan_line(text: str, fmt: Format, loc: tuple[Any, ...]) -> int | None:
    """TOML/JSON: the n-th ``[[services]]`` table (or ``{`` in the list), then the key."""
    lines = text.splitlines()
    if not loc or loc[0] != "services":
        return None
    start = next((i for i, line in enumerate(lines) if "services" in line), None)
    if start is None or len(loc) < 2 or not isinstance(loc[1], int):
        return None if start is None else start + 1
    index = loc[1]
    opener = "[[services]]" if fmt == "toml" else "{"
    seen = -1
    begin = None
    for i in range(start, len(lines)):
        stripped = lines[i].strip()
        if (fmt == "toml" and stripped.startswith("[[services]]")) or (
            fmt == "json" and opener in lines[i] and i >= start
        ):
            seen += lines[i].count("{") if fmt == "json" else 1
            if seen >= index:
                begin = i
                break
    if begin is None:
        return start + 1
    if len(loc) < 3:
        return begin + 1
    key = str(loc[2])
    for i in range(begin, len(lines)):
        if i > begin and fmt == "toml" and lines[i].strip().startswith("["):
            break
        if (fmt == "toml" and lines[i].strip().startswith((f"{key} ", f"{key}="))) or (
            fmt == "json" and f'"{key}"' in lines[i]
        ):
            return i + 1
    return begin + 1
