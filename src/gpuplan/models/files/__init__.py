"""Reading models from disk without reading their weights.

Each reader parses only headers — a GGUF file's metadata and tensor infos, a
safetensors file's 8-byte length and JSON header, a config.json, an Ollama manifest
— and returns a ``LocalModel``: the architecture plus the exact bytes of every
tensor. Tensor data is never read, so a 70B model is estimated in milliseconds. A
truncated or corrupt header raises ``ModelFileError`` naming the file and the fault.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.models.arch import ModelArch
from gpuplan.models.weight_bytes import WeightBytes

SourceKind = Literal["gguf", "hf", "ollama", "registry"]


class LocalModel(BaseModel):
    """A model found on disk: what it is and exactly how many bytes its tensors take."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="'org/name' (HF), 'name:tag' (Ollama) or the file's stem (GGUF).")
    kind: SourceKind = Field(description="Where it was found.")
    path: str = Field(description="The file or directory it was read from.")
    arch: ModelArch = Field(description="Architecture read from config.json or the GGUF header.")
    weights: WeightBytes | None = Field(
        default=None, description="Exact tensor bytes; None when no weight files are present."
    )
    quant: str | None = Field(default=None, description="Canonical quantization of the files.")
    notes: tuple[str, ...] = Field(default=(), description="What reading could not settle.")


__all__ = ["LocalModel", "SourceKind"]
