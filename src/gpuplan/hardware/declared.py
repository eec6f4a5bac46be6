"""Declared hardware: a ``Host`` built from words or a saved file, not from a machine.

Everything that works on a detected machine must work on a declared one, so a
user can plan a purchase ("2x RTX 4090"), plan on a laptop for a GPU box whose
inventory they saved (``gpuplan detect --json > box.json``), and CI can walk every
branch without a GPU. Both paths end in the same frozen ``Host``.

The spec language, case and spacing free::

    spec    := "cpu" | "none" | item (("," | "+") item)*
    item    := [count] NAME ["@" memory]  |  NAME ("x" | "×") N
    count   := N "x" | N "×" | N "*"       1 <= N <= 64 (and at most 64 GPUs in all)
    memory  := number ("GB" | "GiB" | "MiB" | "MB")

    "2x RTX 4090"   "RTX A5500, RTX A400"   "8x H100-80GB"   "RTX 4090 @ 48GB"   "cpu"

GPU indices follow the order of the spec. "@ memory" replaces the catalog figure
for modded or partitioned cards; GB there means GiB (x 1024), as nvidia-smi counts.

A spec that names an existing file, looks like a path, or ends in .json, .yaml,
.yml or .toml is a *hardware file* holding either exactly what
``gpuplan detect --json`` prints (``Host.model_dump(mode="json")``; the computed
``total_usable_vram_mb`` is dropped before validation) or the compact form
``{"gpus": ["2x RTX 4090", "RTX A400"]}``. A saved inventory keeps its own
``headroom_mb_per_gpu`` (so a round trip changes nothing) and the caller's
headroom fills in only where the file has none, unless the caller passes
``override_headroom=True`` because the user asked for a headroom explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gpuplan.documents import (
    DocumentReadError,
    DocumentSyntaxError,
    display_path,
    format_of,
    parse_document,
    read_text,
)
from gpuplan.errors import HardwareSpecError
from gpuplan.hardware.catalog import Catalog, load_catalog, to_gpu
from gpuplan.hardware.model import GPU, MAX_HEADROOM_MB, MAX_RAM_MB, Host
from gpuplan.problems import describe

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "CPU_WORDS",
    "FILE_SUFFIXES",
    "MAX_GPUS",
    "host_from_document",
    "load_hardware_file",
    "parse_spec",
    "parse_text",
]

MAX_GPUS = 64
"""More GPUs than any single host has; a larger count is a typo, not a machine."""

CPU_WORDS = frozenset({"cpu", "none", "cpu-only", "cpu only", "no gpu", "no-gpu", "nogpu"})
"""Specs meaning "this host has no GPU"."""

FILE_SUFFIXES = frozenset({".json", ".yaml", ".yml", ".toml"})
"""Suffixes that make a spec a hardware file even before it is found on disk."""

MAX_FILE_BYTES = 4 * 2**20
"""An inventory is a few KiB; refusing more keeps a wrong path from eating memory."""

_EXAMPLES = "e.g. '2x RTX 4090', 'RTX A5500, RTX A400', '8x H100-80GB', 'cpu' or a .json file"
_SEPARATORS = re.compile(r"[,+]")
_NUMBER = r"[+-]?[0-9]+(?:\.[0-9]*)?"
_LEADING_COUNT = re.compile(rf"^(?P<count>{_NUMBER})\s*(?:[xX](?=\s)|×|\*)\s*(?P<rest>.+)$")
_TRAILING_COUNT = re.compile(rf"^(?P<rest>.+?)\s+(?:[xX]|×|\*)\s*(?P<count>{_NUMBER})$")
_COUNT_ONLY = re.compile(r"[0-9]+\s*(?:[xX]|×|\*)|(?:[xX]|×|\*)\s*[0-9]+")
"""'2x', 'x2', '3 *': a count with nothing to count."""
_MEMORY = re.compile(
    r"^\s*(?P<value>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>gib|gb|g|mib|mb|m)?\s*$", re.IGNORECASE
)
_MAX_MEMORY_MB = 16 * 2**20
"""16 TiB per GPU: beyond any device, so larger is a unit mistake."""
_COMPACT_FIELDS = frozenset({"gpus", "headroom_mb_per_gpu", "system_ram_mb"})
_COMPUTED_FIELDS = ("total_usable_vram_mb",)


def parse_spec(
    spec: str,
    *,
    headroom_mb: int,
    override_headroom: bool = False,
    catalog: Catalog | None = None,
) -> Host:
    """The host ``spec`` declares: a hardware file, 'cpu', or GPUs by name.

    Every problem is a ``HardwareSpecError`` saying what is wrong and how to write
    it instead; nothing else escapes, whatever the text. ``override_headroom``
    makes ``headroom_mb`` win over a hardware file's own.
    """
    _check_headroom(headroom_mb)
    text = spec.strip()
    if not text:
        raise HardwareSpecError("the hardware spec is empty", hint=_EXAMPLES)
    if text.casefold() not in CPU_WORDS:
        path = _as_file(text)
        if path is not None:
            return load_hardware_file(
                path, headroom_mb=headroom_mb, override_headroom=override_headroom, catalog=catalog
            )
    return parse_text(text, headroom_mb=headroom_mb, catalog=catalog)


def parse_text(spec: str, *, headroom_mb: int, catalog: Catalog | None = None) -> Host:
    """The host a spec in words declares ('2x RTX 4090', 'cpu'); source 'declared'."""
    _check_headroom(headroom_mb)
    text = spec.strip()
    gpus, warnings = _gpus_from_words(
        text, catalog=catalog, context=f"hardware spec {_quote(text)}"
    )
    return Host(
        source="declared",
        gpus=tuple(gpus),
        headroom_mb_per_gpu=headroom_mb,
        warnings=tuple(warnings),
        tried=(f"declared {_quote(text)}: {_count(len(gpus))}",),
    )


def load_hardware_file(
    path: Path,
    *,
    headroom_mb: int,
    override_headroom: bool = False,
    catalog: Catalog | None = None,
) -> Host:
    """The host a saved hardware file describes (JSON, YAML or TOML); source 'file'."""
    data = _read_document(path)
    return host_from_document(
        data,
        origin=f"hardware file {display_path(path)}",
        headroom_mb=headroom_mb,
        override_headroom=override_headroom,
        catalog=catalog,
    )


def host_from_document(
    data: object,
    *,
    origin: str,
    headroom_mb: int,
    override_headroom: bool = False,
    catalog: Catalog | None = None,
) -> Host:
    """The host in an already-parsed hardware document (a file, or an API body).

    ``origin`` names the document in errors ('hardware file box.json', 'request
    body'), so a user learns which document and which field to fix rather than
    reading a bare validation trace.
    """
    _check_headroom(headroom_mb)
    if not isinstance(data, Mapping):
        raise HardwareSpecError(
            f"{origin} holds {_kind(data)}, not an object",
            hint="save one with `gpuplan detect --json > host.json`, or write "
            '{"gpus": ["2x RTX 4090"]}',
        )
    fields: dict[str, Any] = {str(key): value for key, value in data.items()}
    for computed in _COMPUTED_FIELDS:
        fields.pop(computed, None)
    if override_headroom:
        fields["headroom_mb_per_gpu"] = headroom_mb
    if _is_compact(fields):
        return _compact_host(fields, origin=origin, headroom_mb=headroom_mb, catalog=catalog)
    from pydantic import ValidationError

    try:
        host = Host.model_validate(fields)
    except ValidationError as exc:
        raise _file_error(exc, origin) from None
    _check_written(host, origin)
    headroom = host.headroom_mb_per_gpu if "headroom_mb_per_gpu" in fields else headroom_mb
    note = f"{origin}: {_count(host.gpu_count)} saved from {host.source}"
    return host.model_copy(
        update={
            "source": "file",
            "headroom_mb_per_gpu": headroom,
            # a file saved from a loaded file already says where it came from
            "tried": host.tried if host.source == "file" else (*host.tried, note),
        }
    )


# -- words ----------------------------------------------------------------------------------


def _gpus_from_words(
    text: str, *, catalog: Catalog | None, context: str
) -> tuple[list[GPU], list[str]]:
    """GPUs named in ``text``, indexed in order, and warnings about estimated memory.

    A catalog figure without a vendor-tool reading behind it is flagged, because a
    plan on a guessed size should say so where ``--explain`` can show it.
    """
    items = [item.strip() for item in _SEPARATORS.split(text)]
    items = [item for item in items if item]
    if not items:
        raise HardwareSpecError(f"{context} names no GPU", hint=_EXAMPLES)
    if len(items) == 1 and items[0].casefold() in CPU_WORDS:
        return [], []
    if any(item.casefold() in CPU_WORDS for item in items):
        raise HardwareSpecError(
            f"{context} mixes 'cpu' with GPUs",
            hint="write 'cpu' alone for a host without GPUs, or list only GPUs",
        )
    cat = catalog if catalog is not None else load_catalog()
    gpus: list[GPU] = []
    warnings: list[str] = []
    for item in items:
        count, name, vram_mb = _parse_item(item)
        if len(gpus) + count > MAX_GPUS:
            raise HardwareSpecError(
                f"{context} declares more than {MAX_GPUS} GPUs",
                hint="declare one host at a time; a cluster is several hosts",
            )
        entry = cat.lookup(name)
        first = len(gpus)
        gpus.extend(to_gpu(entry, first + i, vram_mb=vram_mb) for i in range(count))
        warning = (
            f"{entry.label}: {entry.vram_mb} MiB is the catalog's estimate, not a vendor-tool "
            f"reading; write '{entry.label} @ <n>MiB' if you know the real figure"
        )
        if vram_mb is None and entry.vram_basis == "estimated" and warning not in warnings:
            warnings.append(warning)
    return gpus, warnings


def _parse_item(item: str) -> tuple[int, str, int | None]:
    """'2x RTX 4090 @ 48GB' → (2, 'RTX 4090', 49152)."""
    head, at, memory = item.partition("@")
    count = 1
    name = head.strip()
    if _COUNT_ONLY.fullmatch(name):
        raise HardwareSpecError(
            f"{_quote(item)} has a count but no GPU name", hint="write it like '2x RTX 4090'"
        )
    match = _LEADING_COUNT.match(name) or _TRAILING_COUNT.match(name)
    if match:
        count = _parse_count(match["count"], item)
        name = match["rest"].strip()
    if not at:  # 'RTX 4090 (48GB)' means '@ 48GB', as detect's summary writes memory
        paren = re.fullmatch(r"(?P<name>.*?)\s*\((?P<memory>[^()]*)\)\s*", name)
        if paren and _MEMORY.match(paren["memory"].strip()):
            name, memory, at = paren["name"], paren["memory"], "@"
    if not name:
        raise HardwareSpecError(
            f"{_quote(item)} has no GPU name", hint="write it like '2x RTX 4090'"
        )
    vram_mb = _parse_memory(memory, item) if at else None
    return count, name, vram_mb


def _parse_count(raw: str, item: str) -> int:
    if re.fullmatch(r"[0-9]+", raw) and len(raw) > 6:
        raise HardwareSpecError(
            f"GPU count {_shorten(raw, 20)} in {_quote(item)} is out of range",
            hint=f"use 1 to {MAX_GPUS}; for no GPU write 'cpu'",
        )
    if not re.fullmatch(r"[0-9]{1,6}", raw):
        raise HardwareSpecError(
            f"GPU count {raw!r} in {_quote(item)} is not a whole number of GPUs",
            hint=f"write a count from 1 to {MAX_GPUS}, like '2x RTX 4090'",
        )
    count = int(raw)
    if not 1 <= count <= MAX_GPUS:
        raise HardwareSpecError(
            f"GPU count {count} in {_quote(item)} is out of range",
            hint=f"use 1 to {MAX_GPUS}; for no GPU write 'cpu'",
        )
    return count


def _parse_memory(raw: str, item: str) -> int:
    match = _MEMORY.match(raw)
    unit = (match["unit"] or "").casefold() if match else ""
    if match is None or not unit:
        raise HardwareSpecError(
            f"memory {raw.strip()!r} in {_quote(item)} is not a size with a unit",
            hint="write it like 'RTX 4090 @ 48GB' or 'RTX 4090 @ 49140MiB'",
        )
    value = float(match["value"])
    mib = round(value * 1024) if unit in {"gib", "gb", "g"} else round(value)
    if not 1 <= mib <= _MAX_MEMORY_MB:
        raise HardwareSpecError(
            f"memory {raw.strip()!r} in {_quote(item)} is out of range",
            hint="give the memory of one GPU, e.g. '@ 80GB'",
        )
    return mib


def _check_headroom(headroom_mb: int) -> None:
    if headroom_mb < 0:
        raise HardwareSpecError(
            f"headroom of {headroom_mb} MiB per GPU is negative", hint="use 0 or more MiB"
        )


# -- files ----------------------------------------------------------------------------------


def _as_file(text: str) -> Path | None:
    """The path ``text`` names, if it is meant as a file rather than GPU names.

    A spec that looks like a path (a known suffix, a directory separator, a
    leading '~' or '.') is a file even when missing, so a typo in a file name is
    reported as a missing file rather than as an unknown GPU.
    """
    try:
        path = Path(text).expanduser()
        looks_like_path = (
            Path(text).suffix.casefold() in FILE_SUFFIXES
            or "/" in text
            or "\\" in text
            or text.startswith(("~", "."))
        )
        if looks_like_path or path.is_file():
            return path
    except (OSError, ValueError, RuntimeError):
        # NUL bytes, names too long for the OS, no home directory for '~': not a
        # usable path, so the text is read as GPU names and fails there if wrong.
        return None
    return None


def _read_document(path: Path) -> object:
    try:
        text = read_text(path, max_bytes=MAX_FILE_BYTES)
    except DocumentReadError as error:
        hint = error.hint
        if error.problem in {"does not exist", "is a directory"}:
            hint = (
                "give the path of a file saved with `gpuplan detect --json > host.json`, "
                "or GPU names separated by ',' like 'RTX A5500, RTX A400'"
            )
        elif "UTF-8" in error.problem:
            hint = "save it again as UTF-8 JSON"
        raise HardwareSpecError(f"hardware file {error}", hint=hint) from None
    fmt = format_of(path) or ("json" if text.lstrip().startswith(("{", "[")) else "yaml")
    try:
        return parse_document(text, fmt)
    except DocumentSyntaxError as error:
        raise HardwareSpecError(
            f"hardware file {display_path(path)} is {error}", hint=error.fix or _SYNTAX_HINTS[fmt]
        ) from None


_SYNTAX_HINTS = {
    "json": "save it again with `gpuplan detect --json > host.json`",
    "yaml": "check the indentation, or save the inventory as JSON with `gpuplan detect --json`",
    "toml": "fix the line named, or save the inventory as JSON with `gpuplan detect --json`",
}


def _is_compact(fields: Mapping[str, Any]) -> bool:
    """``{"gpus": ["2x RTX 4090"]}`` or ``{"gpus": "2x RTX 4090"}``: names, not records."""
    if "source" in fields:
        return False
    gpus = fields.get("gpus")
    if isinstance(gpus, str):
        return True
    return isinstance(gpus, list) and all(isinstance(gpu, str) for gpu in gpus)


def _compact_host(
    fields: Mapping[str, Any], *, origin: str, headroom_mb: int, catalog: Catalog | None
) -> Host:
    unknown = sorted(set(fields) - _COMPACT_FIELDS)
    if unknown:
        raise HardwareSpecError(
            f"{origin}: field {unknown[0]} is not allowed next to a list of GPU names",
            hint="keep only gpus, headroom_mb_per_gpu and system_ram_mb, or save a full "
            "inventory with `gpuplan detect --json`",
        )
    raw = fields["gpus"]
    names = [raw] if isinstance(raw, str) else list(raw)
    context = f"{origin}: field gpus"
    spec = ", ".join(name.strip() for name in names if name.strip()) or "cpu"
    try:
        gpus, warnings = _gpus_from_words(spec, catalog=catalog, context=context)
    except HardwareSpecError as exc:
        if exc.message.startswith(context):
            raise
        raise HardwareSpecError(f"{context}: {exc.message}", hint=exc.hint) from None
    headroom = fields.get("headroom_mb_per_gpu", headroom_mb)
    ram = fields.get("system_ram_mb")
    limits = (
        ("headroom_mb_per_gpu", headroom, MAX_HEADROOM_MB),
        ("system_ram_mb", ram, MAX_RAM_MB),
    )
    for field, value, limit in limits:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise HardwareSpecError(
                f"{origin}: field {field} must be a whole number of MiB, not {value!r}",
                hint=f"write it like {field} = 2048",
            )
        if value is not None and value < 0:
            raise HardwareSpecError(
                f"{origin}: field {field} is negative", hint="use 0 or more MiB"
            )
        if value is not None and value > limit:
            raise HardwareSpecError(
                f"{origin}: field {field} is {value} MiB, more than any machine has",
                hint=f"use at most {limit} MiB (the figure is MiB, not bytes)",
            )
    note = f"{origin}: {_count(len(gpus))} declared by name"
    return Host(
        source="file",
        gpus=tuple(gpus),
        headroom_mb_per_gpu=headroom,
        system_ram_mb=ram,
        warnings=tuple(warnings),
        tried=(note,),
    )


def _check_written(host: Host, origin: str) -> None:
    """What a tool may report but a person must not write: a nameless or 0 MiB GPU."""
    for number, gpu in enumerate(host.gpus):
        if not gpu.name.strip():
            raise HardwareSpecError(
                f"{origin}: field gpus[{number}].name is empty",
                hint="write the GPU's product name, e.g. 'NVIDIA GeForce RTX 4090'",
            )
        if not gpu.name.isprintable():  # a line break would split every view and log line
            raise HardwareSpecError(
                f"{origin}: field gpus[{number}].name {_shorten(gpu.name, 40)!r} holds "
                "control characters",
                hint="write the GPU's product name on one line, e.g. 'NVIDIA GeForce RTX 4090'",
            )
        if gpu.vram_total_mb == 0:
            raise HardwareSpecError(
                f"{origin}: field gpus[{number}].vram_total_mb must be at least 1 (got 0)",
                hint="write the GPU's memory in MiB, or leave the field out if it is unknown",
            )
        _check_slices(gpu, number, origin)


def _check_slices(gpu: GPU, number: int, origin: str) -> None:
    """MIG slices that add up to more than their GPU: a plan on them would OOM.

    Each slice alone is checked by the record; together they must fit too (compute
    instances of one GPU instance share its memory and count once, as planning does).
    """
    if not gpu.mig_mode or gpu.vram_total_mb is None:
        return
    pools: dict[object, int] = {}
    for key, mig in gpu.mig_pools():
        pools[key] = max(pools.get(key, 0), mig.vram_total_mb or 0)
    if sum(pools.values()) > gpu.vram_total_mb:
        raise HardwareSpecError(
            f"{origin}: field gpus[{number}].mig_devices add up to {sum(pools.values())} MiB, "
            f"more than the GPU's vram_total_mb {gpu.vram_total_mb}",
            hint="MIG slices are parts of their GPU: fix the slices' vram_total_mb, give "
            "compute instances of one GPU instance the same gpu_instance_id, or save the "
            "file again with `gpuplan detect --json`",
        )


def _file_error(exc: ValidationError, origin: str) -> HardwareSpecError:
    """One line naming the file, the first bad field and what to do about it."""
    errors = exc.errors()
    first = errors[0]
    field, problem = describe(first)
    field = field or "(top level)"
    if not field.isprintable():  # a key with a line break: keep the message one line
        field = repr(field)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    kind = first["type"]
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        message = f"{origin}: unknown field {field}{more}"
        hint = f"remove {field}; a hardware file holds the fields `gpuplan detect --json` prints"
    elif kind in ("missing", "missing_argument", "missing_keyword_only_argument"):
        message = f"{origin}: field {field} is missing{more}"
        hint = f"add {field}, or save the file again with `gpuplan detect --json`"
    elif kind == "value_error":
        message = f"{origin}: {field}: {problem}{more}"
        hint = "fix the value, or save the file again with `gpuplan detect --json`"
    else:
        message = f"{origin}: field {field} {problem}{more}"
        hint = "fix the value, or save the file again with `gpuplan detect --json`"
    return HardwareSpecError(message, hint=hint)


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _count(n: int) -> str:
    return "no GPU" if n == 0 else f"{n} GPU" if n == 1 else f"{n} GPUs"


def _quote(text: str) -> str:
    return repr(_shorten(text))


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
