"""The placement stage's data: services to place, and where each one went and why.

A service comes from the plan's own selection or from a services file (seed 004:
``name``, ``model``/``models``/``vram_mb``, ``role``, ``latency_sensitive``, a pinned
``gpu``, ``engine``, ``vram_budget_override_mb``). A strategy turns services and
devices into one ``Assignment`` per service, each carrying its reason. Field names
of ``Assignment`` and ``GpuFill`` are the JSON contract of ``gpuplan plan --json``
(``assignments``: ``service``, ``model``, ``gpu_indices``, ``vram_budget_mb``,
``reason``; ``gpus``: ``index``, ``name``, ``used_mb``, ``usable_mb``) and of the
store; fields may be added with defaults, never renamed. Memory is MiB.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["STRATEGIES", "Assignment", "GpuFill", "Strategy"]

Strategy = Literal["manual", "vram_based", "latency_optimized", "isolation_first", "balanced"]
"""Seed 004's five assignment strategies."""

STRATEGIES: tuple[Strategy, ...] = (
    "manual",
    "vram_based",
    "latency_optimized",
    "isolation_first",
    "balanced",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Assignment(_Frozen):
    """Where one service runs, with the budget it may use and why it is there."""

    service: str = Field(description="Service name, as in the services file / Compose file.")
    model: str | None = Field(default=None, description="Model id or label; None for vram_mb.")
    gpu_indices: tuple[int, ...] = Field(
        description="Host GPU indices; several = tensor parallel; empty = CPU / not placed."
    )
    vram_budget_mb: int = Field(
        ge=0,
        description="The service's whole budget, split evenly over gpu_indices when TP.",
    )
    reason: str = Field(description="Why the strategy put it there, in one sentence.")
    mig_device: int | None = Field(
        default=None, description="MIG device index on the GPU when placed on a slice."
    )
    budget_adjusted: bool = Field(
        default=False, description="The budget was auto-adjusted down to fit a smaller GPU."
    )


class GpuFill(_Frozen):
    """One device after placement: how much of its usable memory the plan uses."""

    index: int = Field(description="Host GPU index.")
    name: str = Field(description="Product name.")
    used_mb: int = Field(ge=0, description="MiB the assigned services' budgets add up to here.")
    usable_mb: int = Field(ge=0, description="Total (or free, with --on free) minus headroom.")
    services: tuple[str, ...] = Field(default=(), description="Services on this device.")
