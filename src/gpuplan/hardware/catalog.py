"""The GPU catalog: what a GPU name means in MiB, GB/s and number formats.

Declared hardware ("2x RTX 4090") has no vendor tool to ask, so the catalog stands
in for one. Each entry holds the memory *as nvidia-smi / amd-smi report it*, not
the size on the box: planning on 80 GB x 1024 for an H100 that reports 81559 MiB
would overcommit every card. It also holds what the tools never print (memory
bandwidth for the latency strategy, bf16/fp8/fp4 for quantization), which is why
detected GPUs are matched against it too.

Names are compared by a normalised key: case-folded, vendor words (NVIDIA, GeForce,
AMD, Radeon, Instinct, Tesla, "Generation", "GPU") and punctuation dropped, so
'NVIDIA GeForce RTX 4090', 'RTX 4090', 'rtx4090' and 'rtx-4090' are one key.
"Quadro" is kept on purpose: 'Quadro RTX 4000' and 'RTX 4000 Ada' are different
cards. Keys come in three kinds:

* ids and aliases, what people type: each belongs to exactly one entry, and the
  catalog refuses to load if two entries claim one;
* names the tools print, which memory variants share ('NVIDIA GeForce RTX 4060 Ti'
  is the 8 GB and the 16 GB card): a detected GPU is told apart by its memory,
  a typed name must say the size ('RTX 4060 Ti 16GB');
* each of those with the box size appended ('H100' + '80GB'), so that
  'H100-80GB' or 'RTX 3060 12GB' resolve without listing every spelling.
"""

from __future__ import annotations

import difflib
import functools
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Literal

from gpuplan.errors import HardwareSpecError, UnknownGPUError
from gpuplan.hardware.model import GPU
from gpuplan.records import Record, described

__all__ = [
    "Catalog",
    "CatalogGPU",
    "CatalogVendor",
    "Segment",
    "VramBasis",
    "load_catalog",
    "normalise_name",
    "parse_catalog",
    "to_gpu",
]

CatalogVendor = Literal["nvidia", "amd"]
"""Vendors the catalog covers; Apple and Intel GPUs are only ever detected."""

Segment = Literal["consumer", "workstation", "datacenter"]
"""Market segment: decides defaults such as whether a display eats memory."""

VramBasis = Literal["recorded", "reported", "estimated"]
"""How sure ``vram_mb`` is: captured here, published elsewhere, or derived."""

_NOISE_WORDS = frozenset(
    {"nvidia", "geforce", "amd", "radeon", "instinct", "tesla", "generation", "gpu"}
)
_MEMORY_WORD = re.compile(r"([0-9]+)\s*(?:gib|gb|g)(?![a-z])")
_TOKEN = re.compile(r"[a-z0-9]+")
_K8S_SUFFIX = re.compile(r"[-_ ](?:shared|mig[-_ .].*)$", re.IGNORECASE)
_BRACKETED = re.compile(r"\[([^\]]+)\]")
_PARENTHESISED = re.compile(r"\([^)]*\)")
_MAX_SUGGEST_KEY = 100
"""Longer input is not a GPU name; difflib on it would only burn time."""


def normalise_name(name: str) -> str:
    """The key two spellings of one GPU share: 'NVIDIA GeForce RTX 4090' → 'rtx4090'.

    Memory sizes are unified first ('16 GB', '16G', '16GiB' → '16gb') so that the
    size can tell variants apart whichever way it was typed.
    """
    text = _MEMORY_WORD.sub(r"\1gb", name.casefold())
    return "".join(token for token in _TOKEN.findall(text) if token not in _NOISE_WORDS)


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogGPU(Record):
    """One GPU model, with figures a plan can rely on and where they come from."""

    id: str = described(
        "Stable slug such as 'rtx-4090'; also accepted, exactly, as a name.",
        pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
    )
    name: str = described(
        "Product name as nvidia-smi / amd-smi print it today. Memory variants that "
        "the tool names alike share it.",
        min_length=1,
    )
    vendor: CatalogVendor = described("GPU vendor.")
    segment: Segment = described("Market segment.")
    aliases: tuple[str, ...] = described(
        "Names people type, each unique to this entry; the first is the short "
        "label used in messages and suggestions.",
        min_length=1,
    )
    reported_names: tuple[str, ...] = described(
        "Other strings vendor tools print for it (old drivers, PCI-ids names).", ()
    )
    memory_gb: int = described("Memory size on the box, GB (marketing figure).", gt=0)
    vram_mb: int = described("Memory as the vendor tool reports it, MiB.", gt=0)
    vram_basis: VramBasis = described(
        "recorded: in a capture under shared/data/hardware; reported: in published "
        "tool output; estimated: derived from siblings (source says how)."
    )
    memory_bandwidth_gbs: float = described("Peak memory bandwidth, GB/s.", gt=0)
    compute_capability: str | None = described(
        "CUDA compute capability 'major.minor' (NVIDIA only).", None, pattern=r"^[0-9]+\.[0-9]+$"
    )
    gfx_target: str | None = described(
        "LLVM gfx target such as 'gfx942' (AMD only).", None, pattern=r"^gfx[0-9a-f]+$"
    )
    architecture: str = described(
        "Architecture family: 'Ada Lovelace', 'Hopper', 'CDNA 3', 'RDNA 3'.", min_length=1
    )
    bf16: bool = described("Matrix units compute in bfloat16.")
    fp8: bool = described("Matrix units compute in 8-bit floating point.")
    fp4: bool = described("Matrix units compute in 4-bit floating point.", False)
    tdp_w: int | None = described("Board power, W.", None, gt=0)
    unified_memory: bool = described(
        "Memory is shared with the CPU; vram_mb is the system's.", False
    )
    source: str = described("Where vram_mb and the other figures come from.", min_length=1)
    notes: str | None = described("Caveats a planner should know.", None)

    def __post_init__(self) -> None:
        Record.__post_init__(self)
        if isinstance(
            self.memory_bandwidth_gbs, int
        ):  # TOML's 1008 is 1008.0, as pydantic reads it
            object.__setattr__(self, "memory_bandwidth_gbs", float(self.memory_bandwidth_gbs))
        if self.vendor == "nvidia" and (self.compute_capability is None or self.gfx_target):
            raise ValueError("an NVIDIA entry needs compute_capability and no gfx_target")
        if self.vendor == "amd" and (self.gfx_target is None or self.compute_capability):
            raise ValueError("an AMD entry needs gfx_target and no compute_capability")

    @property
    def label(self) -> str:
        """Short unique name for messages, e.g. 'RTX 4060 Ti 16GB'."""
        return self.aliases[0]

    def _alias_keys(self) -> set[str]:
        return {normalise_name(alias) for alias in self.aliases}

    def _printed_keys(self) -> set[str]:
        return {normalise_name(self.name), *(normalise_name(n) for n in self.reported_names)}

    def _sized_keys(self) -> set[str]:
        suffix = f"{self.memory_gb}gb"
        bases = self._alias_keys() | self._printed_keys()
        return {base + suffix for base in bases if base and not base.endswith(suffix)}


class Catalog:
    """The loaded catalog with its name index; build it with ``load_catalog()``."""

    def __init__(self, entries: Iterable[CatalogGPU]) -> None:
        self.entries: tuple[CatalogGPU, ...] = tuple(entries)
        self._by_id: dict[str, CatalogGPU] = {}
        for entry in self.entries:
            if entry.id in self._by_id:
                raise ValueError(f"GPU catalog: id {entry.id!r} is used twice")
            self._by_id[entry.id] = entry
        self._index = _build_index(self.entries)

    def __iter__(self) -> Iterator[CatalogGPU]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, gpu_id: str) -> CatalogGPU | None:
        """The entry with this exact id, or None."""
        return self._by_id.get(gpu_id)

    def keys(self) -> dict[str, tuple[str, ...]]:
        """Every normalised key and the ids it names (integrity tests read this)."""
        return {key: tuple(e.id for e in found) for key, found in self._index.items()}

    def lookup(self, name: str) -> CatalogGPU:
        """The entry a *typed* name means; it must name exactly one GPU.

        Raises ``UnknownGPUError`` (with the closest labels) when nothing matches,
        and ``HardwareSpecError`` when the name fits several memory variants, since
        guessing between an 8 GB and a 16 GB card would make every plan wrong.
        """
        found = self._candidates(name)
        if not found:
            raise UnknownGPUError(_shorten(name), self.suggest(name))
        if len(found) > 1:
            labels = [entry.label for entry in found]
            raise HardwareSpecError(
                f"GPU name {_shorten(name)!r} fits {len(found)} catalog entries: "
                + ", ".join(labels),
                hint="say which one, e.g. " + " or ".join(repr(label) for label in labels[:2]),
            )
        return found[0]

    def match(self, name: str, *, vram_mb: int | None = None) -> CatalogGPU | None:
        """The entry a *detected* name most likely is, or None; never raises.

        Detection only needs the catalog for what the tool did not say, so a near
        miss is None rather than a guess. When memory variants share the name,
        ``vram_mb`` picks the closest one; without it the first listed wins.
        """
        found = self._candidates(name)
        if not found:
            return None
        if len(found) == 1 or vram_mb is None:
            return found[0]
        return min(found, key=lambda entry: abs(entry.vram_mb - vram_mb))

    def suggest(self, name: str, n: int = 5) -> list[str]:
        """Up to ``n`` labels close to ``name``, best first, for 'did you mean' errors."""
        key = normalise_name(name)[:_MAX_SUGGEST_KEY]
        if not key or n <= 0:
            return []
        keys = sorted(self._index)
        prefixed = sorted((k for k in keys if k.startswith(key)), key=len)
        containing = sorted((k for k in keys if key in k and not k.startswith(key)), key=len)
        close = difflib.get_close_matches(key, keys, n=n * 4, cutoff=0.5)
        labels: list[str] = []
        for k in [*prefixed, *containing, *close]:
            for entry in self._index[k]:
                if entry.label not in labels:
                    labels.append(entry.label)
        return labels[:n]

    def _candidates(self, name: str) -> list[CatalogGPU]:
        by_id = self._by_id.get(name.strip().casefold())
        if by_id is not None:
            return [by_id]
        for spelling in _spellings(name):
            found = self._index.get(normalise_name(spelling))
            if found:
                return list(found)
        return []


def _spellings(name: str) -> Iterator[str]:
    """The name, then the forms other tools wrap it in, unwrapped.

    Kubernetes labels add '-SHARED' or '-MIG-1g.5gb'; rocm-smi prints PCI-ids
    strings such as 'Arcturus GL-XL [Instinct MI100]'; some tools append
    '(MCM) OAM' style package notes in parentheses.
    """
    yield name
    unwrapped = _K8S_SUFFIX.sub("", name)
    if unwrapped != name:
        yield unwrapped
    yield from _BRACKETED.findall(name)
    stripped = _PARENTHESISED.sub(" ", name)
    if stripped != name:
        yield stripped


def _build_index(entries: tuple[CatalogGPU, ...]) -> dict[str, tuple[CatalogGPU, ...]]:
    """Key → entries, refusing any alias that could resolve to two GPUs."""
    owner: dict[str, CatalogGPU] = {}
    shared: dict[str, list[CatalogGPU]] = {}
    for entry in entries:
        for key in entry._alias_keys():
            if not key:
                raise ValueError(f"GPU catalog: {entry.id} has an alias with no letters or digits")
            other = owner.get(key)
            if other is not None and other.id != entry.id:
                raise ValueError(
                    f"GPU catalog: alias key {key!r} belongs to both {other.id} and {entry.id}"
                )
            owner[key] = entry
        for key in entry._printed_keys() | entry._sized_keys():
            if not key:
                raise ValueError(f"GPU catalog: {entry.id} has a name with no letters or digits")
            group = shared.setdefault(key, [])
            if entry not in group:
                group.append(entry)
    index: dict[str, tuple[CatalogGPU, ...]] = {}
    for key, group in shared.items():
        alias_owner = owner.get(key)
        if alias_owner is not None and any(e.id != alias_owner.id for e in group):
            names = ", ".join(e.id for e in group if e.id != alias_owner.id)
            raise ValueError(
                f"GPU catalog: alias key {key!r} of {alias_owner.id} is also a name of {names}"
            )
        index[key] = tuple(group)
    for key, entry in owner.items():
        index[key] = (entry,)
    return index


def _shorten(name: str, limit: int = 80) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


@dataclass(frozen=True, slots=True, kw_only=True)
class _CatalogFile(Record):
    version: Literal[1] = described("Catalog file format version.")
    gpu: tuple[CatalogGPU, ...] = described("The entries.", min_length=1)


def parse_catalog(text: str, *, origin: str = "<catalog>") -> Catalog:
    """A catalog from TOML text; ``ValueError`` names the entry and field on bad data."""
    from pydantic import ValidationError

    data = _toml(text, origin)
    try:
        parsed = _CatalogFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"{origin}: {where}: {first['msg']}") from exc
    return Catalog(parsed.gpu)


def _toml(text: str, origin: str) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{origin}: not valid TOML: {exc}") from exc


@functools.cache
def load_catalog() -> Catalog:
    """The packaged catalog, read once per process (it never changes at run time).

    Its entries are built directly, their constraints checked but not their types
    by pydantic: the file ships with gpuplan, and a test holds it to
    ``parse_catalog``'s full validation, so detection stays off pydantic's path.
    """
    resource = resources.files("gpuplan.hardware") / "data" / "gpus.toml"
    data = _toml(resource.read_text(encoding="utf-8"), "gpuplan/hardware/data/gpus.toml")
    entries = data["gpu"]
    assert isinstance(entries, list)
    return Catalog(CatalogGPU(**entry) for entry in entries)


def to_gpu(entry: CatalogGPU, index: int, *, vram_mb: int | None = None) -> GPU:
    """A declared ``GPU`` for ``entry``: entirely free memory, as on an idle machine.

    ``vram_mb`` overrides the catalog figure (a modded 48 GB RTX 4090). AMD GPUs
    carry their gfx target as architecture, as rocm-smi detection does, because
    engines key their kernels on it; NVIDIA GPUs carry the family nvidia-smi prints.
    """
    total = entry.vram_mb if vram_mb is None else vram_mb
    return GPU(
        index=index,
        name=entry.name,
        vendor=entry.vendor,
        vram_total_mb=total,
        vram_free_mb=total,
        vram_used_mb=0,
        compute_capability=entry.compute_capability,
        architecture=entry.gfx_target if entry.vendor == "amd" else entry.architecture,
        unified_memory=entry.unified_memory,
    )
