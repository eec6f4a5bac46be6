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

__all__ = [
    "LLM_ROLES",
    "SERVICE_NAME_MAX",
    "SERVICE_NAME_PATTERN",
    "STRATEGIES",
    "Assignment",
    "GpuFill",
    "Placement",
    "Service",
    "Strategy",
]

Strategy = Literal["manual", "vram_based", "latency_optimized", "isolation_first", "balanced"]
"""Seed 004's five assignment strategies."""

STRATEGIES: tuple[Strategy, ...] = (
    "manual",
    "vram_based",
    "latency_optimized",
    "isolation_first",
    "balanced",
)


SERVICE_NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"
"""Compose's service-name rule. Names become file names (``NAME.sh``) and Compose keys,
so anything else (``/``, ``..``, newlines) is refused where names are read."""

SERVICE_NAME_MAX = 63
"""Compose (and DNS labels, which service names become) allow at most 63 characters."""


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


class Service(_Frozen):
    """One service to place, its VRAM demand already resolved (estimator or ``vram_mb``)."""

    name: str = Field(description="Service name; unique within a services file.")
    model: str | None = Field(default=None, description="Registry id or discovered file id.")
    models: tuple[str, ...] = Field(
        default=(), description="A model zoo sharing one budget (seed 004's ai-enrichment)."
    )
    vram_mb: int = Field(ge=0, description="MiB the service needs in all (over its GPUs).")
    gpus_needed: int = Field(
        default=1, ge=1, description="Devices it must span (tensor parallel); 1 = one device."
    )
    role: str | None = Field(default=None, description="Role such as 'llm', 'chat', 'embedding'.")
    latency_sensitive: bool = Field(default=False, description="On the critical request path.")
    gpu: int | None = Field(default=None, description="Pinned GPU index; None = auto-assign.")
    engine: str | None = Field(default=None, description="Serving engine, when known.")
    vram_budget_override_mb: int | None = Field(
        default=None, ge=0, description="Budget the user set; it wins over vram_mb."
    )
    quantization: str | None = Field(
        default=None, description="Quantization of the served variant, when known."
    )
    min_vram_mb: int = Field(
        default=0,
        ge=0,
        description="MiB its smallest model needs (a zoo's smallest member); 0 = not known.",
    )
    tensor_parallel_sizes: tuple[int, ...] = Field(
        default=(),
        description=(
            "GPU counts the engine accepts for this model (heads divisible); empty = powers of two."
        ),
    )

    @property
    def budget_mb(self) -> int:
        """What the service may use in all: the user's override, else its estimate."""
        if self.vram_budget_override_mb is not None:
            return self.vram_budget_override_mb
        return self.vram_mb

    @property
    def is_llm(self) -> bool:
        """An LLM service (seed 004's ai-llm): role 'llm' or a generative text role."""
        return (self.role or "").lower() in LLM_ROLES

    @property
    def adjustable(self) -> bool:
        """Its budget is a budget, not a model's need: a zoo or a user override.

        Seed 004 auto-adjusts such a budget down when the service lands on a
        smaller GPU (models of the zoo load and unload inside it); a single
        model's need cannot shrink, so it is warned about instead.
        """
        return bool(self.models) or self.vram_budget_override_mb is not None


LLM_ROLES = frozenset({"llm", "chat", "reasoning", "code", "coding", "instruct"})
"""Roles that mark a service as the LLM for ``latency_optimized`` and ``isolation_first``."""


class Placement(_Frozen):
    """A strategy's answer for a set of services on one host."""

    strategy: Strategy
    assignments: tuple[Assignment, ...] = Field(description="One per service, in input order.")
    gpus: tuple[GpuFill, ...] = Field(description="Every device, after placement.")
    warnings: tuple[str, ...] = Field(default=(), description="Seed 004's non-blocking warnings.")
    solver: str | None = Field(
        default=None, description="Which algorithm ran (e.g. 'highs milp, optimal', 'greedy')."
    )
