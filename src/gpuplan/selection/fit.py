"""Which registry variants fit these GPUs, and the longest context each can hold.

For every variant: the fewest GPUs it fits on (one, else tensor parallel over
the 2, 4 or 8 largest, whose smallest sets the per-GPU budget), then a binary
search for the longest context that still fits, capped at what the model
supports. A variant *fits* when it holds at least the planning context
(``DEFAULT_CONTEXT`` tokens, or the model's own limit when smaller); one that
only holds less is listed with how much, so nobody buys a GPU on a false "no".

Models without a KV cache and fixed registry figures do not depend on context
and are not split: they fit when they fit on the largest GPU.

Pure: the caller passes the usable MiB of each GPU (``Host.usable_vram_mb``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.memory.engines import engine_profile
from gpuplan.memory.estimate import Estimate, splits_heads
from gpuplan.memory.figure import DEFAULT_CONTEXT, VramSource
from gpuplan.memory.vram import arch_of, engine_for, estimate_variant, has_arch, variant_vram
from gpuplan.models.registry import Backend, ModelEntry, Role, Variant
from gpuplan.selection.candidates import planning_context

__all__ = [
    "CONTEXT_STEP",
    "FALLBACK_CONTEXT_LIMIT",
    "TENSOR_PARALLEL_SIZES",
    "FitRow",
    "fit_registry",
    "fit_variant",
]

TENSOR_PARALLEL_SIZES = (1, 2, 4, 8)
"""GPU counts a model may be split over (engines want powers of two)."""
CONTEXT_STEP = 256
"""Granularity of the longest-context search, tokens (llama.cpp's KV block)."""
FALLBACK_CONTEXT_LIMIT = 131072
"""Search limit for a decoder whose context length nobody recorded."""


class FitRow(BaseModel):
    """One variant on these GPUs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_id: str
    name: str
    backend: Backend
    quantization: str
    roles: tuple[Role, ...] = Field(description="Roles the model serves, best first.")
    fits: bool = Field(description="Holds at least the planning context on these GPUs.")
    gpus: int = Field(description="GPUs the variant is split over (1: a single GPU).")
    vram_estimate_mb: int = Field(
        description="MiB per GPU at the planning context (or its fixed figure)."
    )
    budget_mb: int = Field(description="Usable MiB per GPU it was checked against.")
    context: int | None = Field(description="Planning context, tokens; None without KV cache.")
    concurrency: int = Field(
        default=1,
        ge=1,
        description="Sequences served at once that the figures hold (each of `context` "
        "tokens; max_context is per sequence too).",
    )
    max_context: int | None = Field(
        description="Longest context that fits, tokens; None without KV cache or when nothing fits."
    )
    context_length: int | None = Field(description="Longest context the model supports.")
    vram_source: VramSource
    reason: str = Field(description="Why it fits, or why not, in words.")
    single_gpu_mb: int | None = Field(
        default=None,
        description="MiB on one (the largest) GPU at the planning context, when computed.",
    )
    assumptions: tuple[str, ...] = Field(
        default=(), description="What the estimator assumed for vram_estimate_mb."
    )


Cost = Callable[[int, int], int]
"""(context, GPUs) → MiB per GPU."""


def _roles(entry: ModelEntry) -> tuple[Role, ...]:
    ranked = sorted(entry.role_priority.items(), key=lambda item: -item[1])
    return tuple(role for role, _ in ranked)


def _longest(cost: Cost, gpus: int, budget: int, limit: int) -> int | None:
    """Largest context ≤ limit (a multiple of CONTEXT_STEP, or limit itself) that fits."""
    if cost(min(CONTEXT_STEP, limit), gpus) > budget:
        return None
    if cost(limit, gpus) <= budget:
        return limit
    low, high = 1, limit // CONTEXT_STEP  # in steps: low fits, high + 1 may not
    while low < high:
        middle = (low + high + 1) // 2
        if cost(middle * CONTEXT_STEP, gpus) <= budget:
            low = middle
        else:
            high = middle - 1
    return low * CONTEXT_STEP


def fit_variant(
    entry: ModelEntry,
    variant: Variant,
    budgets_mb: Sequence[int],
    *,
    context: int = DEFAULT_CONTEXT,
    gpu_memory_mb: Sequence[int] | None = None,
    max_split: int = max(TENSOR_PARALLEL_SIZES),
    concurrency: int = 1,
    flash_attention: bool | None = None,
) -> FitRow:
    """How ``variant`` fits GPUs with ``budgets_mb`` usable MiB each.

    ``flash_attention`` is the deployment profile's setting for llama.cpp / Ollama
    (None: their own ``-fa auto``), which the launch passes on.

    ``gpu_memory_mb`` (each GPU's total, aligned with ``budgets_mb``) lets the
    estimator use an engine's small-GPU start-up defaults; without it the
    largest-GPU defaults are assumed, which never underestimates. ``concurrency``
    sequences of the context are held at once: the KV cache is sized for all of
    them, and the longest context is the longest each of them can have.
    """
    totals = list(gpu_memory_mb) if gpu_memory_mb is not None else [None] * len(budgets_mb)
    gpus_by_size = sorted(zip(budgets_mb, totals, strict=True), key=lambda g: -g[0])
    budgets = [usable for usable, _ in gpus_by_size]
    tokens = planning_context(entry, context)
    base = {
        "model_id": entry.id,
        "name": entry.name,
        "backend": entry.backend_for(variant),
        "quantization": variant.quantization,
        "roles": _roles(entry),
        "context_length": entry.context_length,
        "context": tokens,
        "concurrency": concurrency,
    }
    uses_estimator = tokens is not None and has_arch(entry) and variant.vram_estimate_mb is None
    if not uses_estimator:
        figure = variant_vram(
            entry, variant, tokens, concurrency=concurrency, flash_attention=flash_attention
        )
        largest = budgets[0] if budgets else 0
        fits = figure.vram_mb <= largest
        return FitRow(
            **base,
            fits=fits,
            gpus=1,
            vram_estimate_mb=figure.vram_mb,
            budget_mb=largest,
            max_context=None,
            vram_source=figure.source,
            reason=_fixed_reason(figure.vram_mb, largest, fits),
            single_gpu_mb=figure.vram_mb,
            assumptions=figure.assumptions,
        )
    assert tokens is not None
    at = f"{tokens:,} tokens" + (f" × {concurrency} sequences" if concurrency > 1 else "")
    limit = entry.context_length or arch_of(entry).max_position_embeddings or FALLBACK_CONTEXT_LIMIT
    if limit < 1:  # a broken config.json must not abort the whole listing
        limit = FALLBACK_CONTEXT_LIMIT

    estimates: dict[tuple[int, int], Estimate] = {}

    def estimate(length: int, gpus: int) -> Estimate:
        # Each (context, GPUs) is costed once, however often the search and the
        # reason ask for it.
        if (length, gpus) not in estimates:
            sizes = [total for _, total in gpus_by_size[:gpus] if total is not None]
            estimates[length, gpus] = estimate_variant(
                entry,
                variant,
                context=length,
                concurrency=concurrency,
                tensor_parallel=gpus,
                gpu_memory_mb=min(sizes) if len(sizes) == gpus and sizes else None,
                flash_attention=flash_attention,
            )
        return estimates[length, gpus]

    def cost(length: int, gpus: int) -> int:
        return estimate(length, gpus).total_mb

    best: tuple[int, int, int] | None = None  # (gpus, budget, max context) of the longest reach
    engine = engine_profile(engine_for(entry.backend_for(variant)))
    for gpus in TENSOR_PARALLEL_SIZES:
        if gpus > len(budgets) or gpus > max_split:
            break
        if not splits_heads(arch_of(entry), engine, gpus):
            continue  # the engine refuses this tensor parallel size
        budget = budgets[gpus - 1]
        longest = _longest(cost, gpus, budget, limit)
        if longest is not None and longest >= tokens:
            return FitRow(
                **base,
                fits=True,
                gpus=gpus,
                vram_estimate_mb=cost(tokens, gpus),
                budget_mb=budget,
                max_context=longest,
                vram_source="estimator",
                reason=(
                    f"{cost(tokens, gpus):,} MiB per GPU at {at} on {gpus} GPU(s) "
                    f"of {budget:,} MiB; up to {longest:,} tokens fit"
                ),
                single_gpu_mb=cost(tokens, 1) if gpus == 1 else None,
                assumptions=tuple(estimate(tokens, gpus).assumptions),
            )
        if longest is not None and (best is None or longest > best[2]):
            best = (gpus, budget, longest)
    one_gpu = budgets[0] if budgets else 0
    needed = cost(tokens, 1)
    if best is not None:
        gpus, budget, longest = best
        reason = f"holds only {longest:,} tokens (< {tokens:,}) on {gpus} GPU(s) of {budget:,} MiB"
        if concurrency > 1:
            reason += f" per sequence, {concurrency} at once"
        return FitRow(
            **base,
            fits=False,
            gpus=gpus,
            vram_estimate_mb=cost(tokens, gpus),
            budget_mb=budget,
            max_context=longest,
            vram_source="estimator",
            reason=reason,
            single_gpu_mb=needed,
            assumptions=tuple(estimate(tokens, 1).assumptions),
        )
    reason = (
        f"needs {needed:,} MiB at {at}; the largest GPU has {one_gpu:,} MiB usable"
        if budgets
        else "no GPU to run on"
    )
    if len(budgets) > 1 and max_split > 1:
        widest = min(len(budgets), max_split)
        widest = max(g for g in TENSOR_PARALLEL_SIZES if g <= widest)
        reason += f"; split over {widest} GPUs it needs {cost(tokens, widest):,} MiB each"
    return FitRow(
        **base,
        fits=False,
        gpus=1,
        vram_estimate_mb=needed,
        budget_mb=one_gpu,
        max_context=None,
        vram_source="estimator",
        reason=reason,
        single_gpu_mb=needed,
        assumptions=tuple(estimate(tokens, 1).assumptions),
    )


def _fixed_reason(needed: int, budget: int, fits: bool) -> str:
    if budget == 0:
        return "no GPU to run on"
    relation = "<=" if fits else ">"
    return f"{needed:,} MiB {relation} {budget:,} MiB usable on the largest GPU"


def fit_registry(
    entries: Iterable[ModelEntry],
    budgets_mb: Sequence[int],
    *,
    context: int = DEFAULT_CONTEXT,
    gpu_memory_mb: Sequence[int] | None = None,
    max_split: int = max(TENSOR_PARALLEL_SIZES),
    concurrency: int = 1,
    flash_attention: bool | None = None,
) -> list[FitRow]:
    """Every variant of every entry, in registry order.

    ``max_split`` caps tensor parallelism: 1 where devices are MIG slices, which no
    engine can split a model across. ``concurrency``: sequences each variant must
    hold at once (``fit_variant``'s).
    """
    return [
        fit_variant(
            entry,
            variant,
            budgets_mb,
            context=context,
            gpu_memory_mb=gpu_memory_mb,
            max_split=max_split,
            concurrency=concurrency,
            flash_attention=flash_attention,
        )
        for entry in entries
        for variant in entry.variants
    ]
