"""Candidates: one (model, quantization) pair with the VRAM it needs, what selectors rank.

The registry says what a model *is*; a candidate says what loading one variant
of it *costs* at a given context. Flattening happens once, so the selectors
(``select``, ``joint``) are pure functions over plain numbers and can be tested
and benchmarked without an estimator.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.errors import ModelError
from gpuplan.memory.figure import DEFAULT_CONTEXT, VariantCoster, VramFigure, VramSource
from gpuplan.memory.vram import variant_vram
from gpuplan.models.quant import quant_spec
from gpuplan.models.registry import Backend, ModelEntry, Role
from gpuplan.placement import Demand

__all__ = [
    "Candidate",
    "bits_per_weight",
    "build_candidates",
    "nominal_bits",
    "planning_context",
]


@functools.lru_cache(maxsize=1024)
def bits_per_weight(quantization: str) -> float:
    """Effective bits per weight (the estimator's table); unknown names rank as 4 bits.

    Only used to *rank* quality, so an unknown name must not stop a selection.
    """
    try:
        return quant_spec(quantization).bits
    except ModelError:
        return 4.0


QUALITY_BITS_CAP = 16
"""Above 16 bits inference gains nothing a user can measure: FP32 ranks as BF16/FP16."""


def nominal_bits(quantization: str) -> int:
    """The precision class of a quantization: its effective bits, rounded down (Q4_K_M 4.85
    → 4, FP8 8.03 → 8, Q8_0 8.5 → 8, BF16 16), and FP32 in the 16-bit class: models are
    trained and published in 16 bits, so FP32 weights only cost twice the memory."""
    return min(QUALITY_BITS_CAP, int(bits_per_weight(quantization)))


class Candidate(BaseModel):
    """One loadable variant of one model, costed at the planning context."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_id: str = Field(description="Registry id of the model.")
    name: str = Field(description="Human name of the model.")
    backend: Backend = Field(description="Engine this variant is served with.")
    family: str = Field(default="", description="Architecture family.")
    quantization: str = Field(
        description="Quantization of this variant, as the registry spells it."
    )
    vram_estimate_mb: int = Field(
        ge=0, description="VRAM needed to serve this variant, MiB (summed over its GPUs)."
    )
    gpus: int = Field(
        default=1, ge=1, description="GPUs the variant is split over (tensor parallel)."
    )
    vram_per_gpu_mb: int | None = Field(
        default=None,
        ge=0,
        description="MiB on each of its GPUs; None: all of vram_estimate_mb on one GPU.",
    )
    vram_source: VramSource = Field(
        default="registry", description="Where vram_estimate_mb comes from."
    )
    role_priority: Mapping[Role, int] = Field(
        default_factory=dict, description="Role → priority 0-100; a missing role is not served."
    )
    parameters_b: float = Field(default=0.0, ge=0, description="Total parameters, billions.")
    context: int | None = Field(
        default=None, description="Context (tokens) the VRAM figure was computed for."
    )
    assumptions: tuple[str, ...] = Field(
        default=(), description="What the VRAM figure assumes, from the estimator."
    )

    @property
    def key(self) -> str:
        """'model-id@QUANT': unique among candidates, stable across runs."""
        return f"{self.model_id}@{self.quantization}"

    @property
    def demand(self) -> Demand:
        """What placing it takes: MiB on each of ``gpus`` distinct devices."""
        per_gpu = (
            self.vram_per_gpu_mb if self.vram_per_gpu_mb is not None else self.vram_estimate_mb
        )
        return Demand(per_gpu, self.gpus)

    @property
    def bits_per_weight(self) -> float:
        return bits_per_weight(self.quantization)

    @property
    def quality(self) -> int:
        """Parameters x nominal bits (in millions of bits): the ``quality`` bias's score.

        A bigger model at 4 bits usually beats a smaller one at 16, and for one
        model a higher precision class beats a lower one; the product orders both.
        Bits are the precision *class* (``nominal_bits``): Q4_K_M, AWQ and MXFP4 are
        all 4-bit, FP8 and Q8_0 8-bit, so within a class the profile's preferred
        quantizations decide, not a few tenths of a bit of block scales. An
        integer, so that sums over a joint selection compare exactly.
        """
        return round(self.parameters_b * 1000 * nominal_bits(self.quantization))

    def serves(self, role: Role) -> bool:
        return role in self.role_priority


def planning_context(entry: ModelEntry, context: int) -> int | None:
    """The context a model is costed at: ``context``, capped at what the model supports.

    None for models without a KV cache, whose memory does not depend on context.
    """
    if not entry.kv_cache:
        return None
    if entry.context_length is not None:
        return min(context, entry.context_length)
    return context


def build_candidates(
    entries: Iterable[ModelEntry],
    *,
    context: int = DEFAULT_CONTEXT,
    coster: VariantCoster | None = None,
) -> tuple[Candidate, ...]:
    """One candidate per (model, variant), in registry order.

    A variant with a fixed ``vram_estimate_mb`` keeps it (``registry``); every
    other variant is costed by ``coster``, by default the VRAM estimator
    (``gpuplan.memory.vram.variant_vram``).
    """
    candidates: list[Candidate] = []
    for entry in entries:
        tokens = planning_context(entry, context)
        for variant in entry.variants:
            if variant.vram_estimate_mb is not None:
                figure = VramFigure(
                    variant.vram_estimate_mb,
                    "registry",
                    (f"fixed figure from the registry: {variant.vram_estimate_source}",),
                )
            else:
                figure = (coster or variant_vram)(entry, variant, tokens)
            candidates.append(
                Candidate(
                    model_id=entry.id,
                    name=entry.name,
                    backend=entry.backend_for(variant),
                    family=entry.family,
                    quantization=variant.quantization,
                    vram_estimate_mb=figure.vram_mb,
                    vram_source=figure.source,
                    role_priority=dict(entry.role_priority),
                    parameters_b=entry.parameters_b,
                    context=tokens,
                    assumptions=figure.assumptions,
                )
            )
    return tuple(candidates)
