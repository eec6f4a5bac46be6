"""What selection needs from a deployment profile, and the order it ranks candidates in.

Selectors do not import the profile stage: they take a ``SelectionPolicy``
(budget, concurrency, quantization preference, bias), which any profile object
converts into with ``SelectionPolicy.from_profile`` as long as it has the
seed-000 field names (``ProfileLike`` is checked structurally).

Ranking within one role (seed 001: priority, then quantization preference, then
VRAM, then the profile's bias), made total so results never depend on input order:

=================  ==================================================================
bias               order after role priority (higher first)
=================  ==================================================================
``vram_efficient`` quantization preference, **less VRAM**, more quality
``balanced``       quantization preference, more quality, less VRAM — the seed's order
                   (priority, then preference), its leftover ties broken toward quality
``quality``        **more quality** (parameters x bits), quantization preference, less
                   VRAM — a higher precision or a bigger model wins even over a
                   preferred quantization, because the profile asked for quality
=================  ==================================================================

then model id and quantization. Quantizations missing from the preference list
rank after all listed ones, equal among themselves.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, get_args

from gpuplan.errors import ModelError
from gpuplan.models.quant import normalize_quant
from gpuplan.models.registry import Role
from gpuplan.placement import packs
from gpuplan.selection.candidates import Candidate

__all__ = [
    "BIASES",
    "Bias",
    "ProfileLike",
    "RankKey",
    "SelectionPolicy",
    "canonical_quantization",
    "parse_bias",
    "quantization_rank",
    "rank_key",
]

Bias = Literal["vram_efficient", "balanced", "quality"]
"""Which way selection leans among candidates of equal role priority (seed 000)."""

BIASES: tuple[Bias, ...] = get_args(Bias)

RankKey = tuple[int, int, int, int, str, str]
"""Sort key of one candidate for one role: smaller sorts first."""


class ProfileLike(Protocol):
    """The seed-000 fields of a deployment profile that selection reads."""

    @property
    def max_vram_mb(self) -> int | None: ...

    @property
    def max_concurrent_models(self) -> int: ...

    @property
    def preferred_quantizations(self) -> Sequence[str]: ...

    @property
    def model_selection_bias(self) -> str: ...


def parse_bias(value: str) -> Bias:
    for bias in BIASES:
        if value == bias:
            return bias
    raise ModelError(
        f"unknown model_selection_bias {value!r}", hint="use one of " + ", ".join(BIASES)
    )


@dataclass(frozen=True)
class SelectionPolicy:
    """The budget and preferences a selection runs under (one profile's serving half)."""

    max_vram_mb: int
    """VRAM budget, MiB: a candidate above it is rejected; a joint set must fit in it."""
    preferred_quantizations: tuple[str, ...] = ()
    """Quantizations in order of preference; compared case-insensitively."""
    model_selection_bias: Bias = "balanced"
    max_concurrent_models: int = 1
    """How many models a joint selection may load at once."""
    name: str = "custom"
    """Profile name, echoed in responses."""
    device_budgets_mb: tuple[int, ...] | None = None
    """Usable MiB of each device (GPU or MIG slice) a model can be placed on; None when
    selection plans on the budget alone (no hardware known). With it, a set must also
    be placeable: the budget is a total, but every model lives on real GPUs."""

    def places(self, candidates: Iterable[Candidate]) -> bool:
        """True when these candidates can all be placed on the devices at once."""
        if self.device_budgets_mb is None:
            return True
        return packs([c.demand for c in candidates], self.device_budgets_mb)

    def admits(self, candidate: Candidate) -> bool:
        """Within the budget on its own, and placeable on some device(s)."""
        return candidate.vram_estimate_mb <= self.max_vram_mb and self.places((candidate,))

    def __post_init__(self) -> None:
        if self.max_vram_mb < 0:
            raise ModelError(f"max_vram_mb is {self.max_vram_mb}", hint="use 0 or more MiB")
        if self.max_concurrent_models < 1:
            raise ModelError(
                f"max_concurrent_models is {self.max_concurrent_models}", hint="use 1 or more"
            )
        parse_bias(self.model_selection_bias)
        lowered = tuple(q.strip().lower() for q in self.preferred_quantizations)
        object.__setattr__(self, "preferred_quantizations", lowered)

    @classmethod
    def from_profile(
        cls, profile: ProfileLike, *, name: str = "custom", max_vram_mb: int | None = None
    ) -> SelectionPolicy:
        """Policy of a profile; ``max_vram_mb`` fills a profile whose budget is unset.

        A profile without a budget means "all usable VRAM of the hardware", which
        only the caller (who has the host) knows.
        """
        budget = profile.max_vram_mb if profile.max_vram_mb is not None else max_vram_mb
        if budget is None:
            raise ModelError(
                f"profile {name!r} has no max_vram_mb and no hardware budget was given",
                hint="set max_vram_mb in the profile or plan with --hardware",
            )
        return cls(
            max_vram_mb=budget,
            preferred_quantizations=tuple(profile.preferred_quantizations),
            model_selection_bias=parse_bias(profile.model_selection_bias),
            max_concurrent_models=profile.max_concurrent_models,
            name=name,
        )


@functools.lru_cache(maxsize=1024)
def canonical_quantization(name: str) -> str:
    """One spelling per quantization ('Q4_K_M', 'q4-k-m' → 'q4_k_m'; 'AWQ' → 'awq')."""
    try:
        return normalize_quant(name)
    except ModelError:
        return name.strip().lower()


def quantization_rank(quantization: str, preferred: Sequence[str]) -> int:
    """Position in the preference list; unlisted quantizations all rank ``len(preferred)``.

    Both sides are compared in canonical form, so a profile's 'q4_k_m' matches a
    registry's 'Q4_K_M' and 'awq_marlin' matches 'awq'.
    """
    wanted = canonical_quantization(quantization)
    for index, item in enumerate(preferred):
        if canonical_quantization(item) == wanted:
            return index
    return len(preferred)


def rank_key(candidate: Candidate, role: Role, policy: SelectionPolicy) -> RankKey:
    """Where ``candidate`` ranks for ``role`` under ``policy``: smaller is better."""
    priority = -candidate.role_priority.get(role, -1)
    preference = quantization_rank(candidate.quantization, policy.preferred_quantizations)
    vram = candidate.vram_estimate_mb
    quality = -candidate.quality
    tail = (candidate.model_id, candidate.quantization.lower())
    if policy.model_selection_bias == "vram_efficient":
        return (priority, preference, vram, quality, *tail)
    if policy.model_selection_bias == "quality":
        return (priority, quality, preference, vram, *tail)
    return (priority, preference, quality, vram, *tail)
