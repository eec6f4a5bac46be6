"""A checkpoint's exact tensor bytes, as its headers state them: a fact about the model.

The file readers (GGUF, safetensors) produce it and the estimator
(``gpuplan.memory.weights``) consumes it, so it lives with what a model *is*:
the models stage must not import the memory stage.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MIB", "WeightBytes"]

MIB = 2**20


class WeightBytes(BaseModel):
    """Exact tensor bytes of a checkpoint, read from its headers (never its data)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    total_bytes: int = Field(ge=0, description="Sum of every tensor's bytes.")
    parameters: int = Field(ge=0, description="Sum of every tensor's element count.")
    token_embedding_bytes: int = Field(default=0, ge=0, description="Token embedding table.")
    output_bytes: int = Field(default=0, ge=0, description="lm_head / output (0 when tied).")
    expert_bytes: int = Field(default=0, ge=0, description="Routed MoE expert tensors.")
    vision_bytes: int = Field(default=0, ge=0, description="Vision tower / projector tensors.")
    replicated_bytes: int = Field(
        default=0,
        ge=0,
        description="Text-model tensors vLLM and SGLang hold whole on every tensor-parallel "
        "GPU: norms, MoE routers, MLA's q_a_proj / kv_a_proj_with_mqa.",
    )
    tied_embeddings: bool = Field(default=False, description="No separate output tensor.")
    bytes_by_dtype: dict[str, int] = Field(
        default_factory=dict, description="Bytes per tensor dtype, e.g. {'Q4_K': …, 'F32': …}."
    )
    quant: str | None = Field(default=None, description="Canonical quant the file is stored in.")
    files: tuple[str, ...] = Field(default=(), description="Files the bytes were read from.")
    notes: tuple[str, ...] = Field(default=(), description="Oddities found reading the files.")
