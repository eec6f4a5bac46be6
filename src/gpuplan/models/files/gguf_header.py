"""GGUF files: metadata and tensor infos from the header, never the tensor data.

A GGUF file is ``magic, version, tensor count, KV count``, the KV metadata, the
tensor infos (name, dims, ggml type, offset), then the aligned data section. This
module parses up to the data section through a read-only memory map, so only the
header's pages are ever touched (a sparse 40 GB file reads in milliseconds), and
computes each tensor's exact bytes from its ggml type's block size (``gguf``'s
``GGML_QUANT_SIZES``). gguf's own ``GGUFReader`` builds numpy views over every
tensor and fails on a file whose data section is missing; this reader does not
need the data at all.

Every malformation — wrong magic, an unsupported version, a count or length that
runs past the end of the file, an unknown tensor type — is a ``ModelFileError``
naming the file, the byte offset and what was being read.
"""

from __future__ import annotations

import mmap
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

from gpuplan.errors import ModelFileError

_MAGIC = b"GGUF"
_SUPPORTED_VERSIONS = (2, 3)
_SCALARS: dict[int, str] = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q",
    12: "<d",
}  # fmt: skip
_NUMPY: dict[int, str] = {
    0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "<u1", 10: "<u8",
    11: "<i8", 12: "<f8",
}  # fmt: skip
_STRING, _ARRAY = 8, 9
_KEEP_ARRAY = 4096
"""Arrays longer than this (tokenizer vocabularies, merges) are counted, not kept."""
_MAX_DIMS = 4


@dataclass(frozen=True)
class SkippedArray:
    """A long metadata array whose length we kept instead of its items."""

    item_type: int
    length: int


@dataclass(frozen=True)
class GGUFTensorInfo:
    """One tensor's header entry; ``dims`` in GGUF order (innermost first)."""

    name: str
    dims: tuple[int, ...]
    ggml_type: int
    offset: int
    n_elements: int
    n_bytes: int

    @property
    def type_name(self) -> str:
        return GGMLQuantizationType(self.ggml_type).name


@dataclass(frozen=True)
class GGUFHeader:
    """Everything before a GGUF file's tensor data."""

    path: Path
    version: int
    metadata: dict[str, Any]
    tensors: tuple[GGUFTensorInfo, ...]
    data_offset: int
    file_size: int
    header_bytes: int
    notes: tuple[str, ...] = field(default=())

    @property
    def data_end(self) -> int:
        ends = [t.offset + t.n_bytes for t in self.tensors]
        return self.data_offset + (max(ends) if ends else 0)

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))


class _Cursor:
    """Bounds-checked reads from the header buffer; every overrun names what was read."""

    def __init__(self, buf: mmap.mmap | bytes, path: Path) -> None:
        self.buf = buf
        self.size = len(buf)
        self.pos = 0
        self.path = path

    def fail(self, problem: str) -> ModelFileError:
        return ModelFileError(
            f"{self.path}: {problem}",
            hint="the file is truncated or not a GGUF model; re-download or re-convert it",
        )

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.size:
            raise self.fail(
                f"header ends at byte {self.size:,} while reading {what} "
                f"({n:,} bytes needed at byte {self.pos:,})"
            )

    def scalar(self, fmt: str, what: str) -> Any:
        n = struct.calcsize(fmt)
        self.need(n, what)
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += n
        return value

    def u32(self, what: str) -> int:
        return int(self.scalar("<I", what))

    def u64(self, what: str) -> int:
        return int(self.scalar("<Q", what))

    def string(self, what: str) -> str:
        length = self.u64(f"the length of {what}")
        self.need(length, what)
        raw = bytes(self.buf[self.pos : self.pos + length])
        self.pos += length
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{what} at byte {self.pos - length:,} is not UTF-8") from None

    def skip_strings(self, count: int, what: str) -> None:
        buf, pos, size = self.buf, self.pos, self.size
        unpack = struct.Struct("<Q").unpack_from
        for _ in range(count):
            if pos + 8 > size:
                self.pos = pos
                self.need(8, what)
            pos += 8 + unpack(buf, pos)[0]
        if pos > size:
            self.pos = size
            raise self.fail(f"header ends inside {what}")
        self.pos = pos

    def value(self, vtype: int, what: str) -> Any:
        if vtype in _SCALARS:
            return self.scalar(_SCALARS[vtype], what)
        if vtype == _STRING:
            return self.string(what)
        if vtype == _ARRAY:
            return self.array(what)
        raise self.fail(f"unknown value type {vtype} for {what} at byte {self.pos:,}")

    def array(self, what: str) -> Any:
        item_type = self.u32(f"the item type of {what}")
        length = self.u64(f"the length of {what}")
        if item_type in _NUMPY:
            width = np.dtype(_NUMPY[item_type]).itemsize
            self.need(length * width, what)
            if length > _KEEP_ARRAY:
                self.pos += length * width
                return SkippedArray(item_type, length)
            items = np.frombuffer(self.buf, dtype=_NUMPY[item_type], count=length, offset=self.pos)
            self.pos += length * width
            return [bool(v) for v in items] if item_type == 7 else items.tolist()
        if item_type == _STRING:
            if length > _KEEP_ARRAY:
                self.skip_strings(length, what)
                return SkippedArray(item_type, length)
            return [self.string(what) for _ in range(length)]
        if item_type == _ARRAY:
            return [self.array(what) for _ in range(length)]
        raise self.fail(f"unknown array item type {item_type} in {what}")


def _parse(buf: mmap.mmap | bytes, path: Path) -> GGUFHeader:
    cur = _Cursor(buf, path)
    cur.need(4, "the magic number")
    magic = bytes(buf[0:4])
    if magic != _MAGIC:
        raise cur.fail(f"not a GGUF file (starts with {magic!r}, expected b'GGUF')")
    cur.pos = 4
    version = cur.u32("the version")
    if version not in _SUPPORTED_VERSIONS:
        swapped = int.from_bytes(version.to_bytes(4, "little"), "big")
        problem = (
            "big-endian GGUF files are not supported"
            if swapped in _SUPPORTED_VERSIONS
            else f"GGUF version {version} is not supported (only {_SUPPORTED_VERSIONS})"
        )
        raise cur.fail(problem)
    n_tensors = cur.u64("the tensor count")
    n_kv = cur.u64("the metadata count")
    if n_tensors > cur.size // 24 + 1 or n_kv > cur.size // 13 + 1:
        raise cur.fail(f"header claims {n_tensors:,} tensors and {n_kv:,} keys: corrupt")
    metadata: dict[str, Any] = {}
    for i in range(n_kv):
        key = cur.string(f"metadata key #{i}")
        vtype = cur.u32(f"the type of {key!r}")
        metadata[key] = cur.value(vtype, repr(key))
    alignment = metadata.get("general.alignment", 32)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise cur.fail(f"general.alignment {alignment!r} is not a power of two")
    tensors = tuple(_tensor_info(cur, i, alignment) for i in range(n_tensors))
    data_offset = -(-cur.pos // alignment) * alignment
    header = GGUFHeader(path, version, metadata, tensors, data_offset, cur.size, cur.pos)
    if header.data_end > cur.size:
        missing = header.data_end - cur.size
        note = (
            f"{path.name} ends {missing / 2**20:,.0f} MiB before its tensor data does "
            "(incomplete download?): sizes are from the header"
        )
        header = GGUFHeader(
            path, version, metadata, tensors, data_offset, cur.size, cur.pos, (note,)
        )
    return header


def _tensor_info(cur: _Cursor, index: int, alignment: int) -> GGUFTensorInfo:
    name = cur.string(f"the name of tensor #{index}")
    n_dims = cur.u32(f"the rank of {name}")
    if not 1 <= n_dims <= _MAX_DIMS:
        raise cur.fail(f"tensor {name} has {n_dims} dimensions (at most {_MAX_DIMS}): corrupt")
    dims = tuple(cur.u64(f"the shape of {name}") for _ in range(n_dims))
    ggml_type = cur.u32(f"the type of {name}")
    offset = cur.u64(f"the offset of {name}")
    try:
        block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
    except (ValueError, KeyError):
        raise cur.fail(
            f"tensor {name} has ggml type {ggml_type}, unknown to gguf "
            f"{_gguf_version()}: corrupt, or newer than this gguf package"
        ) from None
    n_elements = 1
    for d in dims:
        n_elements *= d
    if dims[0] % block:
        raise cur.fail(f"tensor {name}: row of {dims[0]} is not a multiple of its block {block}")
    if offset % alignment:
        raise cur.fail(f"tensor {name}: data offset {offset} is not {alignment}-byte aligned")
    return GGUFTensorInfo(
        name, dims, ggml_type, offset, n_elements, n_elements // block * type_size
    )


def _gguf_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gguf")
    except PackageNotFoundError:  # pragma: no cover - gguf is a dependency
        return "?"


def read_gguf_header(path: str | Path) -> GGUFHeader:
    """Parse one GGUF file's header (metadata + tensor infos) without reading tensor data."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            size = path.stat().st_size
            if size == 0:
                raise ModelFileError(f"{path}: empty file", hint="re-download it")
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _parse(buf, path)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a directory, not a GGUF file") from None
    except PermissionError:
        raise ModelFileError(f"{path}: permission denied") from None


_SPLIT = re.compile(r"^(?P<stem>.*)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$")


def split_paths(first: Path, header: GGUFHeader) -> list[Path]:
    """All shard paths of a split GGUF ('name-00001-of-00003.gguf'), or [first]."""
    count = int(header.metadata.get("split.count", 1) or 1)
    if count <= 1:
        return [first]
    match = _SPLIT.match(first.name)
    if match is None:
        raise ModelFileError(
            f"{first}: header says it is one of {count} split files, but the name does not "
            "follow 'name-00001-of-0000N.gguf'",
            hint="keep llama.cpp's split file names",
        )
    stem = match["stem"]
    paths = [first.with_name(f"{stem}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1)]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        raise ModelFileError(
            f"{first}: split GGUF is missing {', '.join(missing)}",
            hint="download every part of the model",
        )
    return paths


def metadata_int(metadata: Mapping[str, Any], key: str) -> int | None:
    """An integer (or the largest of a per-layer list) from GGUF metadata."""
    value = metadata.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list) and value and all(isinstance(v, int | float) for v in value):
        return int(max(value))
    return None
