"""``nvidia-smi --query-gpu=… --format=csv[,noheader][,nounits]`` → ``Inventory``.

The CSV form is the one probe every driver since ~2012 answers, and the only
nvidia-smi form that reports compute capability, so it is the seed probe. Its
output is loose: no quoting, ", " between cells, units repeated in every value
unless ``nounits``, a header only without ``noheader``, one header per node when
run through ``srun``, and placeholders (``[N/A]``, ``N/A``, ``[Not Supported]``,
any ``[…]``) where a value is unknown. A header-less output cannot say which
column is which, so the caller passes the field list it queried.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gpuplan.errors import ToolOutputError
from gpuplan.hardware.model import GPU
from gpuplan.hardware.parse import Inventory, clean
from gpuplan.hardware.parse._nvidia import (
    check_indices,
    excerpt,
    make_gpu,
    mib,
    mig_mode,
    no_devices,
    no_gpus_error,
    parse_int,
)

__all__ = ["SEED_QUERY_FIELDS", "is_unsupported_field_error", "parse", "unsupported_field"]

SEED_QUERY_FIELDS: tuple[str, ...] = (
    "index",
    "name",
    "memory.total",
    "memory.free",
    "compute_cap",
    "uuid",
)
"""The seed's ``--query-gpu`` list: what a header-less output is assumed to hold."""

_ALIASES = {
    "gpu_name": "name",
    "gpu_uuid": "uuid",
    "gpu_bus_id": "pci.bus_id",
    "gpu_serial": "serial",
}
"""``--help-query-gpu`` accepts these second names; the header prints the first."""

_FIELD_SHAPE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*(?:\s*\[[^\]]*\])?$")

_DOTLESS_FIELDS = frozenset(
    {
        "index",
        "name",
        "uuid",
        "serial",
        "count",
        "pstate",
        "timestamp",
        "hostname",
        "driver_version",
        "kmd_version",
        "compute_cap",
        "compute_mode",
        "vbios_version",
        "display_mode",
        "display_active",
        "display_attached",
        "persistence_mode",
        "addressing_mode",
        "gpu_recovery_action",
        "edpp_multiplier",
        *_ALIASES,
    }
)
"""Field names without a dot, so a header of only such names is still recognised.

A data value can look like a field name ("Enabled", the only value of a
``mig.mode.current`` query), so a line is a header only if some cell has a dot
or unit suffix, as most field names do, or is one of these.
"""

_UNSUPPORTED = re.compile(r'Field\s+"([^"\n]*)"\s+is\s+not\s+a\s+valid\s+field\s+to\s+query', re.I)
_COMPUTE_CAP = re.compile(r"^[0-9]{1,2}\.[0-9]{1,2}$")  # as GPU.compute_capability


def unsupported_field(stderr_or_message: str) -> str | None:
    """The field nvidia-smi refused, from 'Field "compute_cap" is not a valid field to query.'

    Drivers older than ~510 do not know ``compute_cap``, and each release adds
    and renames fields. nvidia-smi then prints that one line (on stdout, exit 2)
    and nothing else, so a probe can retry without the named field.
    """
    match = _UNSUPPORTED.search(stderr_or_message)
    return match.group(1) if match else None


def is_unsupported_field_error(stderr_or_message: str) -> bool:
    """True when nvidia-smi refused a ``--query-gpu`` field as unknown to this driver."""
    return unsupported_field(stderr_or_message) is not None


def parse(text: str, columns: Sequence[str] | None = None) -> Inventory:
    """Read ``--query-gpu`` CSV; ``columns`` names the fields of a header-less output.

    ``columns`` may also be the comma-separated list exactly as passed to
    ``--query-gpu=``. A header line, where present, wins over ``columns``: it
    is what the tool says it printed. Without either, ``SEED_QUERY_FIELDS`` is
    assumed.
    """
    refused = unsupported_field(text)
    if refused is not None:
        raise ToolOutputError(
            f'nvidia-smi refused the query field "{refused}"',
            hint="this driver does not know it; query again without that field",
        )
    if no_devices(text):
        return Inventory(gpus=(), warnings=("nvidia-smi found no NVIDIA GPU",))
    warnings: list[str] = []
    rows, saw_header = _rows(text, columns, warnings)
    if not rows:
        if saw_header:
            raise ToolOutputError(
                "nvidia-smi CSV output has a header but no GPU rows",
                hint="the output was cut short; run the query again",
            )
        raise no_gpus_error(
            "nvidia-smi --query-gpu", text, "expected comma-separated rows of the queried fields"
        )
    gpus = tuple(
        _gpu(values, line, position, warnings) for position, (line, values) in enumerate(rows)
    )
    check_indices(gpus, warnings)
    return Inventory(
        gpus=gpus,
        driver_version=_driver_version(rows, warnings),
        warnings=tuple(warnings),
    )


def _normalise(field: str) -> str:
    """'memory.total [MiB]' → 'memory.total'; 'gpu_name' → 'name'."""
    base = field.split("[", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


def _is_header(cells: Sequence[str]) -> bool:
    if not all(_FIELD_SHAPE.match(cell) for cell in cells):
        return False
    return any("." in cell or "[" in cell or cell.lower() in _DOTLESS_FIELDS for cell in cells)


Row = tuple[int, dict[str, str]]
"""(line number, field → raw cell) for one GPU row."""


def _rows(text: str, columns: Sequence[str] | None, warnings: list[str]) -> tuple[list[Row], bool]:
    """GPU rows in order, and whether any header was seen.

    Every header line resets the columns, which handles ``srun`` runs that
    print one header per node (and, harmlessly, a header that changes). A
    node without GPUs prints "No devices were found" among the others' rows.
    """
    if isinstance(columns, str):  # "index,name,…" as typed after --query-gpu=
        columns = columns.split(",")
    current = [_normalise(c) for c in columns] if columns is not None else None
    if current is not None and not current:
        raise ToolOutputError("no CSV columns given", hint="pass the --query-gpu fields in order")
    rows: list[Row] = []
    saw_header = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if no_devices(line):
            warnings.append(f"line {number}: nvidia-smi found no GPU (one node of several?)")
            continue
        parts = line.split(",")
        if _is_header([part.strip() for part in parts]):
            current = [_normalise(part) for part in parts]
            saw_header = True
            continue
        fields = current if current is not None else list(SEED_QUERY_FIELDS)
        rows.append((number, _cells(parts, fields, number)))
    return rows, saw_header


def _cells(parts: list[str], fields: list[str], number: int) -> dict[str, str]:
    """Map one row's cells to fields, giving surplus cells back to ``name``.

    There is no quoting, so a product name with a comma splits into several
    cells. Only the name can hold one, so when a row is longer than the field
    list the extra cells are rejoined into the name, with the commas and spaces
    they were split on.
    """
    extra = len(parts) - len(fields)
    if extra > 0 and "name" in fields:
        at = fields.index("name")
        parts = [*parts[:at], ",".join(parts[at : at + extra + 1]), *parts[at + extra + 1 :]]
    if len(parts) != len(fields):
        shown = ", ".join(fields[:6]) + (", …" if len(fields) > 6 else "")
        raise ToolOutputError(
            f"nvidia-smi CSV line {number} has {len(parts)} values for "
            f"{len(fields)} columns ({shown}): {excerpt(','.join(parts))!r}",
            hint="pass the --query-gpu fields, in the order queried, as the columns",
        )
    return {field: part.strip() for field, part in zip(fields, parts, strict=True)}


def _gpu(values: dict[str, str], line: int, position: int, warnings: list[str]) -> GPU:
    index = _index(values.get("index"), line, position)
    return make_gpu(
        index=index,
        name=clean(values.get("name")),
        warnings=warnings,
        uuid=clean(values.get("uuid")),
        vram_total_mb=mib(values.get("memory.total")),
        vram_free_mb=mib(values.get("memory.free")),
        vram_used_mb=mib(values.get("memory.used")),
        compute_capability=_compute_capability(values.get("compute_cap"), index, warnings),
        mig_mode=mig_mode(values.get("mig.mode.current")),
        pci_bus_id=clean(values.get("pci.bus_id")),
    )


def _index(raw: str | None, line: int, position: int) -> int:
    """The GPU's own index, or its position when the query did not ask for one."""
    if clean(raw) is None:
        return position
    index = parse_int(raw)
    if index is None:
        raise ToolOutputError(
            f"nvidia-smi CSV line {line}: GPU index {raw!r} is not a number",
            hint="the columns do not match the query; pass the --query-gpu fields in order",
        )
    return index


def _compute_capability(raw: str | None, index: int, warnings: list[str]) -> str | None:
    value = clean(raw)
    if value is None:
        return None
    if not _COMPUTE_CAP.match(value):
        warnings.append(f"GPU {index}: compute capability {value!r} is not 'major.minor'")
        return None
    return value


def _driver_version(rows: Sequence[Row], warnings: list[str]) -> str | None:
    versions = list(dict.fromkeys(v for _, row in rows if (v := clean(row.get("driver_version")))))
    if len(versions) > 1:
        warnings.append(f"GPUs report different driver versions: {', '.join(versions)}")
    return versions[0] if versions else None
