"""rocm-smi ``--json`` / ``--csv`` output → ``Inventory``.

rocm-smi is the fallback AMD tool (amd-smi replaces it from ROCm 6), and its
output drifted across releases without a schema (INDEX.md quirks 17-24): key
names change case and wording, every value is a string, VRAM is in bytes except
in Hygon's fork (MiB), the product name may be absent or a PCI-ids string, and
the ``GFX Version`` can be printed wrongly. The rules that undo this live here
and are reused by ``amd_smi``:

* ``marketing_name`` — which name a user would recognise;
* ``normalise_gfx`` — the LLVM gfx target engines are built for.

Equivalent command: ``rocm-smi --showproductname --showmeminfo vram --json``.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable

from gpuplan.errors import ToolOutputError
from gpuplan.hardware.model import GPU
from gpuplan.hardware.parse import Inventory, clean, parse_mib

__all__ = [
    "MAX_GPU_MIB",
    "MEMORY_UNITS",
    "fallback_name",
    "group_issues",
    "load_json",
    "marketing_name",
    "normalise_gfx",
    "parse",
    "parse_csv",
    "parse_json",
    "to_mib",
]

COMMAND = "rocm-smi --showproductname --showmeminfo vram --json"

Fields = dict[str, str]
"""One card's keys (lower-cased, trimmed) → string values."""

Issue = tuple[int, str]
"""(card index, what is wrong with it): grouped into one warning per problem."""

_CARD_KEY = re.compile(r"^\s*card\s*(\d{1,6})\s*$", re.IGNORECASE)
_HEX_OR_NUMBER = re.compile(r"^(0x[0-9a-f]+|[0-9]+)$", re.IGNORECASE)
_PCI_IDS_NAME = re.compile(r"^(?P<codename>[^\[\]]+?)\s*\[(?P<marketing>[^\[\]]+)\]$")
_HYGON = re.compile(r"hygon|haiguang", re.IGNORECASE)
_VRAM_TOTAL = re.compile(r"^vram total memory \((?P<unit>b|[kmgt]i?b)\)$")
_VRAM_USED = re.compile(r"^vram total used memory \((?P<unit>b|[kmgt]i?b)\)$")
MEMORY_UNITS = frozenset({"b", "kb", "kib", "mb", "mib", "gb", "gib", "tb", "tib"})
"""Units ``parse_mib`` knows; any other unit makes a figure unreadable."""

_MAX_NUMBER_CHARS = 40
"""Longer "numbers" are corrupt output, not memory sizes (and would overflow a float)."""

MAX_GPU_MIB = 1 << 24
"""16 TiB: no GPU comes near it, so a larger figure is corrupt output, not memory."""

_NAME_KEYS = ("card series", "device name", "card model")
"""Where rocm-smi puts the product name, best first (quirk 19)."""


def parse(text: str) -> Inventory:
    """rocm-smi output in either form; which one is decided by its first character.

    JSON starts with ``{`` (possibly after blank lines); CSV has a header row
    beginning with ``device``. Anything else is not rocm-smi output.
    """
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{"):
        return parse_json(text)
    if _csv_header_index(text.splitlines()) is not None:
        return parse_csv(text)
    raise ToolOutputError(
        "rocm-smi printed neither JSON nor CSV",
        hint=f"run `{COMMAND}` and check that it prints a JSON object",
    )


def parse_json(text: str) -> Inventory:
    """``rocm-smi … --json``: one object per ``cardN`` plus a ``system`` pseudo-card."""
    data = load_json(text, tool="rocm-smi", command=COMMAND)
    if not isinstance(data, dict):
        raise ToolOutputError(
            "rocm-smi --json printed JSON that is not an object of cards",
            hint=f"run `{COMMAND}`",
        )
    cards: list[tuple[int, Fields]] = []
    system: Fields = {}
    for key, value in data.items():
        if str(key).strip().lower() == "system":
            system = _fields(value)
        elif (number := _card_number(key)) is not None and isinstance(value, dict):
            cards.append((number, _fields(value)))
    return _inventory(cards, driver_version=clean(system.get("driver version")))


def parse_csv(text: str) -> Inventory:
    """``rocm-smi … --csv``: a ``device,…`` header then one row per card.

    The CSV form drops the comma from "Advanced Micro Devices, Inc." (quirk 23),
    so a plain CSV reader splits it correctly.
    """
    lines = text.splitlines()
    start = _csv_header_index(lines)
    if start is None:
        raise ToolOutputError(
            "rocm-smi --csv printed no 'device,…' header row",
            hint=f"run `{COMMAND.replace('--json', '--csv')}`",
        )
    cards: list[tuple[int, Fields]] = []
    system: Fields = {}
    header: list[str] = []
    for row in csv.reader(lines[start:]):
        if row and row[0].strip().lower() == "device":
            header = [cell.strip().lower() for cell in row]
            continue
        fields = {key: value.strip() for key, value in zip(header[1:], row[1:], strict=False)}
        if row and row[0].strip().lower() == "system":
            system.update(fields)
        elif row and (number := _card_number(row[0])) is not None:
            cards.append((number, fields))
    return _inventory(cards, driver_version=clean(system.get("driver version")))


def load_json(text: str, *, tool: str, command: str) -> object:
    """JSON from a vendor tool, tolerating log lines printed before it.

    Some ROCm releases print warnings on stdout ahead of the JSON, so the parse is
    retried from the first line that opens an object or array.
    """
    try:
        return _json_loads(text)
    except ValueError:
        pass
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if line.lstrip().startswith(("{", "[")) and number > 0:
            try:
                return _json_loads("\n".join(lines[number:]))
            except ValueError:
                break
    raise ToolOutputError(f"{tool} printed output that is not JSON", hint=f"run `{command}`")


def _json_loads(text: str) -> object:
    """json.loads whose every failure (bad syntax, absurd nesting or numbers) is ValueError."""
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc


def _csv_header_index(lines: list[str]) -> int | None:
    for number, line in enumerate(lines):
        if line.strip().lower().startswith("device,"):
            return number
    return None


def _card_number(key: object) -> int | None:
    match = _CARD_KEY.match(key) if isinstance(key, str) else None
    return int(match.group(1)) if match else None


def _fields(raw: object) -> Fields:
    """Keys lower-cased so every ROCm release's spelling matches (quirk 17).

    Values should all be strings (quirk 18); numbers are accepted as their text,
    anything else (lists, objects, booleans) is ignored as unreadable.
    """
    if not isinstance(raw, dict):
        return {}
    fields: Fields = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            continue
        fields[str(key).strip().lower()] = str(value)
    return fields


def _inventory(cards: list[tuple[int, Fields]], *, driver_version: str | None) -> Inventory:
    """Cards sorted by their number, since rocm-smi does not order them (quirk 22)."""
    gpus: list[GPU] = []
    issues: list[Issue] = []
    for number, fields in sorted(cards, key=lambda card: card[0]):
        gpu, card_issues = _gpu(number, fields)
        gpus.append(gpu)
        issues.extend((number, issue) for issue in card_issues)
    warnings = group_issues(issues, noun="card")
    if not gpus:
        warnings = ("rocm-smi listed no cards", *warnings)
    return Inventory(gpus=tuple(gpus), driver_version=driver_version, warnings=warnings)


_MAX_CARD = 4095
"""GPU.index's limit: a larger card number is garbled output."""


def _gpu(number: int, fields: Fields) -> tuple[GPU, list[str]]:
    issues: list[str] = []
    vendor_text = fields.get("card vendor")
    name = marketing_name((fields.get(key) for key in _NAME_KEYS), vendor=vendor_text)
    if name is None:
        sku, device_id = clean(fields.get("card sku")), _device_id(fields)
        name = fallback_name(sku=sku, device_id=device_id, vendor=vendor_text)
        issues.append("rocm-smi gave no product name; named by SKU or device id")
    total, used = _vram(fields)
    if total is None:
        issues.append(
            "no VRAM total in the output; ask for it with "
            "`rocm-smi --showmeminfo vram --json` (the -a form omits it)"
        )
    if re.search(r"MI250", name, re.IGNORECASE):
        issues.append(
            "an MI250/MI250X lists each of its two GCDs as a card with half the package's memory"
        )
    if number > _MAX_CARD:
        raise ToolOutputError(
            f"rocm-smi lists card{number}, beyond any card number a driver gives",
            hint="the output is garbled; run rocm-smi by hand to check it",
        )
    gpu = GPU(
        index=number,
        name=name,
        vendor="amd",
        uuid=clean(fields.get("unique id")),
        vram_total_mb=total,
        vram_used_mb=used,
        vram_free_mb=total - used if total is not None and used is not None else None,
        architecture=normalise_gfx(fields.get("gfx version")),
        pci_bus_id=clean(fields.get("pci bus")),
    )
    return gpu, issues


def _device_id(fields: Fields) -> str | None:
    """``GPU ID`` until ROCm 5.7, ``Device ID`` from 6.0 (quirk 17)."""
    return clean(fields.get("device id")) or clean(fields.get("gpu id"))


def _vram(fields: Fields) -> tuple[int | None, int | None]:
    """(total, used) MiB from ``VRAM Total Memory (B)`` or Hygon's ``vram … (MiB)``."""
    total = used = None
    for key, value in fields.items():
        if match := _VRAM_TOTAL.match(key):
            total = to_mib(value, unit=match.group("unit"))
        elif match := _VRAM_USED.match(key):
            used = to_mib(value, unit=match.group("unit"))
    if total is not None and used is not None and used > total:
        used = None
    return total, used


def to_mib(value: str | None, *, unit: str) -> int | None:
    """A memory figure in ``unit`` as whole MiB; garbage and absurd sizes → None."""
    text = clean(value)
    if text is None or len(text) > _MAX_NUMBER_CHARS or unit.lower() not in MEMORY_UNITS:
        return None
    mib = parse_mib(text, default_unit=unit)
    return mib if mib is not None and mib < MAX_GPU_MIB else None


def marketing_name(candidates: Iterable[str | None], *, vendor: str | None = None) -> str | None:
    """The first candidate that names a product, as a user would say it; else None.

    Rule (quirk 19), applied to each candidate in order:

    1. placeholders and bare numbers (``0x1002`` is the vendor id ROCm 4.3 prints
       as the "series") name nothing, so the next candidate is tried;
    2. a PCI-ids string ``Codename [Marketing]`` keeps only the bracketed part:
       ``Arcturus GL-XL [Instinct MI100]`` → ``Instinct MI100``,
       ``Navi 22 [Radeon RX 6700/6700 XT / 6800M]`` → ``Radeon RX 6700/6700 XT / 6800M``
       (pci.ids lists every board sharing the chip; it cannot say which one);
    3. the brand is prefixed unless present: ``AMD``, or ``Hygon`` when the vendor
       string names Hygon/Haiguang (their DCUs run a rocm-smi fork).

    Names already in marketing form (``AMD INSTINCT MI250 (MCM) OAM AC MBA``) are
    kept as printed: stripping board suffixes would be guessing.
    """
    for candidate in candidates:
        text = clean(candidate)
        if text is None or _HEX_OR_NUMBER.match(text):
            continue
        match = _PCI_IDS_NAME.match(text)
        if match:
            text = match.group("marketing").strip()
        return _with_brand(text, vendor)
    return None


def fallback_name(*, sku: str | None, device_id: str | None, vendor: str | None = None) -> str:
    """A name that says the product is unknown but keeps what identifies the board.

    ``AMD GPU (SKU D34304)``, else ``AMD GPU (device 0x738c)``, else ``AMD GPU``:
    a user can look the SKU or PCI device id up; a made-up model name would
    mislead the catalog.
    """
    base = _with_brand("GPU", vendor)
    if sku:
        return f"{base} (SKU {sku})"
    if device_id:
        return f"{base} (device {device_id})"
    return base


def _with_brand(name: str, vendor: str | None) -> str:
    brand = "Hygon" if vendor and _HYGON.search(vendor) else "AMD"
    if name.lower().startswith(brand.lower()):
        return name
    return f"{brand} {name}"


def normalise_gfx(value: str | None) -> str | None:
    """The LLVM target (``gfx90a``, ``gfx1101``) from what the tool printed.

    LLVM names a target ``gfx`` + major (decimal) + minor and stepping (one hex
    digit each). Some rocm-smi releases instead print the KFD version's decimal
    parts with a two-digit stepping (quirk 20): ``gfx9010`` is 9.0.10 = gfx90a,
    ``gfx11001`` is 11.0.1 = gfx1101. So, with the major taken as two digits when
    the text starts with ``1`` and is long enough (gfx10+), one digit otherwise:
    two characters after the major are already a target; three decimal digits are
    minor + two-digit stepping, rewritten in hex. Anything else is kept as
    printed (lower-cased) rather than guessed at.
    """
    text = clean(value)
    if text is None:
        return None
    text = text.lower()
    match = re.fullmatch(r"gfx([0-9a-f]+)", text)
    if not match:
        return text
    digits = match.group(1)
    major_width = 2 if digits.startswith("1") and len(digits) >= 4 else 1
    major, rest = digits[:major_width], digits[major_width:]
    if len(rest) == 3 and rest.isdigit() and int(rest[1:]) < 16:
        return f"gfx{major}{rest[0]}{int(rest[1:]):x}"
    return text


def group_issues(issues: Iterable[Issue], *, noun: str) -> tuple[str, ...]:
    """One warning per distinct problem naming every card it hit, not one per card.

    Four MI100s without a VRAM figure read better as "cards 0, 1, 2, 3: …" than
    as four identical lines.
    """
    by_issue: dict[str, list[int]] = {}
    for number, issue in issues:
        by_issue.setdefault(issue, []).append(number)
    warnings = []
    for issue, numbers in by_issue.items():
        label = noun if len(numbers) == 1 else f"{noun}s"
        warnings.append(f"{label} {', '.join(str(n) for n in numbers)}: {issue}")
    return tuple(warnings)
