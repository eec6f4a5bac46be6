"""safetensors checkpoints: exact tensor bytes from the headers, never the data.

A safetensors file is an 8-byte little-endian header length N, N bytes of JSON
(``{name: {dtype, shape, data_offsets}}`` plus optional ``__metadata__``), then the
data. Reading N + 8 bytes per shard gives every tensor's dtype and shape; the
bytes are checked against ``data_offsets`` so a corrupt header is caught rather
than silently summed. Sharded checkpoints are found through
``model.safetensors.index.json`` when present.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpuplan.documents import (
    DocumentReadError,
    DocumentSyntaxError,
    parse_document,
    read_document,
)
from gpuplan.errors import ModelFileError
from gpuplan.models.weight_bytes import WeightBytes

DTYPE_BITS: dict[str, int] = {
    "F64": 64, "I64": 64, "U64": 64, "F32": 32, "I32": 32, "U32": 32, "F16": 16, "BF16": 16,
    "I16": 16, "U16": 16, "F8_E4M3": 8, "F8_E5M2": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8, "I8": 8, "U8": 8, "BOOL": 8, "F6_E2M3": 6, "F6_E3M2": 6, "F4": 4,
}  # fmt: skip
"""Bits per element of every safetensors dtype."""

_MAX_HEADER = 100 * 2**20
"""safetensors refuses headers above 100 MB; so do we (a larger length is corruption)."""

_EMBEDDING_SUFFIXES = (
    "embed_tokens.weight", "wte.weight", "tok_embeddings.weight", "word_embeddings.weight",
    "embedding.word_embeddings.weight", "tok_embeddings.weight",
)  # fmt: skip
_OUTPUT_NAMES = ("lm_head.weight", "embed_out.weight", "output_layer.weight")
_REPLICATED_MARKERS = (
    "norm.", ".q_a_proj.", ".kv_a_proj_with_mqa.", ".gate.weight", ".router.",
    "e_score_correction_bias", "shared_expert_gate.",
)  # fmt: skip
"""Tensors vLLM does not shard under tensor parallelism (norms, routers, MLA's
down-projections: ReplicatedLinear / GateLinear in vllm/model_executor/models/deepseek_v2.py)."""
_VISION_MARKERS = (
    "visual.", "vision_tower.", "vision_model.", "vision_encoder.", "multi_modal_projector.",
    "mm_projector.", "vision_embed", "image_newline", "audio_tower.",
)  # fmt: skip


@dataclass(frozen=True)
class TensorEntry:
    """One tensor of a safetensors header."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    n_bytes: int

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)


def _fail(path: Path, problem: str) -> ModelFileError:
    return ModelFileError(
        f"{path}: {problem}",
        hint="the file is truncated or not a safetensors checkpoint; re-download it",
    )


def read_safetensors_header(path: str | Path) -> list[TensorEntry]:
    """The tensors a safetensors file declares, read from its header only."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            raw_length = handle.read(8)
            if len(raw_length) < 8:
                raise _fail(path, f"only {len(raw_length)} bytes: no header length")
            length = int.from_bytes(raw_length, "little")
            if length > _MAX_HEADER or length + 8 > size:
                raise _fail(
                    path,
                    f"header length {length:,} does not fit a {size:,}-byte file "
                    "(truncated, or not safetensors)",
                )
            raw = handle.read(length)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a directory, not a safetensors file") from None
    try:
        header = parse_document(raw.decode("utf-8"), "json", max_bytes=_MAX_HEADER)
    except UnicodeDecodeError:
        raise _fail(path, "header is not UTF-8 JSON") from None
    except DocumentSyntaxError as error:
        raise _fail(path, f"header is {error}") from None
    if not isinstance(header, dict):
        raise _fail(path, "header is not a JSON object")
    return [
        _entry(path, name, info, size - 8 - length)
        for name, info in header.items()
        if name != "__metadata__"
    ]


def _entry(path: Path, name: str, info: Any, data_size: int) -> TensorEntry:
    if not isinstance(info, dict):
        raise _fail(path, f"tensor {name!r}: entry is not an object")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dtype not in DTYPE_BITS:
        raise _fail(path, f"tensor {name!r}: unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise _fail(path, f"tensor {name!r}: shape {shape!r} is not a list of sizes")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) for o in offsets)
    ):
        raise _fail(path, f"tensor {name!r}: data_offsets {offsets!r} is not [start, end]")
    n_bytes = math.ceil(math.prod(shape) * DTYPE_BITS[dtype] / 8)
    start, end = offsets
    if end - start != n_bytes or start < 0:
        raise _fail(
            path,
            f"tensor {name!r}: {dtype} {shape} needs {n_bytes:,} bytes but data_offsets "
            f"span {end - start:,}",
        )
    if end > data_size:
        raise _fail(
            path, f"tensor {name!r} ends at byte {end:,} of a {data_size:,}-byte data section"
        )
    return TensorEntry(name, dtype, tuple(shape), n_bytes)


def checkpoint_files(directory: Path) -> list[Path]:
    """The safetensors shards of a checkpoint directory, once each."""
    index = directory / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = read_document(index, "json")["weight_map"]  # type: ignore[index]
            names = sorted(set(weight_map.values()))
        except (
            DocumentReadError,
            DocumentSyntaxError,
            KeyError,
            TypeError,
            AttributeError,
        ) as error:
            raise ModelFileError(
                f"{index}: unreadable index ({error})", hint="re-download the checkpoint"
            ) from None
        missing = [n for n in names if not (directory / n).is_file()]
        if missing:
            raise ModelFileError(
                f"{directory}: index lists {len(missing)} missing shard(s): "
                + ", ".join(missing[:3]),
                hint="download every shard of the checkpoint",
            )
        return [directory / n for n in names]
    files = sorted(directory.glob("*.safetensors"))
    # Mistral repos ship the same weights twice: consolidated.safetensors and HF shards.
    hf = [f for f in files if not f.name.startswith("consolidated")]
    return hf or files


def _role(name: str) -> str:
    if any(marker in name for marker in _VISION_MARKERS):
        return "vision"
    if name.endswith(_EMBEDDING_SUFFIXES):
        return "embedding"
    if name in _OUTPUT_NAMES or name.endswith(".lm_head.weight"):
        return "output"
    if any(marker in name for marker in _REPLICATED_MARKERS):
        return "replicated"
    if ".experts." in name and "shared_expert" not in name:
        return "experts"
    return "other"


def safetensors_weights(files: Sequence[Path] | Iterable[Path], quant: str | None) -> WeightBytes:
    """Exact tensor bytes of a (sharded) safetensors checkpoint, by role and dtype."""
    files = list(files)
    by_dtype: Counter[str] = Counter()
    by_role: Counter[str] = Counter()
    params = 0
    for path in files:
        for entry in read_safetensors_header(path):
            by_dtype[entry.dtype] += entry.n_bytes
            by_role[_role(entry.name)] += entry.n_bytes
            params += entry.n_elements
    return WeightBytes(
        total_bytes=sum(by_dtype.values()),
        parameters=params,
        token_embedding_bytes=by_role["embedding"],
        output_bytes=by_role["output"],
        expert_bytes=by_role["experts"],
        vision_bytes=by_role["vision"],
        replicated_bytes=by_role["replicated"],
        tied_embeddings=by_role["output"] == 0,
        bytes_by_dtype=dict(by_dtype),
        quant=quant or dominant_quant(by_dtype),
        files=tuple(str(p) for p in files),
    )


def dominant_quant(by_dtype: Counter[str]) -> str | None:
    """A canonical quant for an unlabelled checkpoint from its heaviest dtype."""
    if not by_dtype:
        return None
    dtype = by_dtype.most_common(1)[0][0]
    return {"BF16": "bf16", "F16": "fp16", "F32": "fp32", "F8_E4M3": "fp8", "F8_E5M2": "fp8"}.get(
        dtype
    )
