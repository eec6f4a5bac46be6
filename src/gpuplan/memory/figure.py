"""What serving one variant costs, as one figure with its source: the estimator's output.

Selection ranks candidates by these figures and never calls the formula itself;
the ``VariantCoster`` seam lets tests and benchmarks hand selection fixed
figures, and lets ``fit`` cost a variant for a given GPU size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

from gpuplan.models.registry import ModelEntry, Variant

__all__ = ["DEFAULT_CONTEXT", "VariantCoster", "VramFigure", "VramSource"]

DEFAULT_CONTEXT = 4096
"""Tokens of context a candidate is costed at unless the caller says otherwise.

Small enough that a model's ranking reflects its weights, large enough that a
chat or captioning request fits; ``gpuplan fit`` reports the longest context
each variant can hold instead.
"""

VramSource = Literal["estimator", "weights_only", "registry"]
"""Where a candidate's VRAM figure comes from.

* ``estimator`` — the VRAM estimator on the entry's architecture facts (weights,
  KV cache at the planning context, activations, engine overhead);
* ``weights_only`` — a model without KV cache (encoder, embedder, detector):
  weights plus a fixed runtime overhead, computed from parameters x bits;
* ``registry`` — a fixed figure written in the registry with its source, for
  models the estimator cannot model (hybrid Mamba, YOLO).
"""


class VramFigure(NamedTuple):
    """What serving one variant costs, and where the number comes from."""

    vram_mb: int
    source: VramSource
    assumptions: tuple[str, ...] = ()


VariantCoster = Callable[[ModelEntry, Variant, int | None], VramFigure]
"""(entry, variant, context or None) → VRAM figure; the seam to the estimator."""
