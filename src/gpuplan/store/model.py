"""What the store keeps, as plain typed data: a saved configuration and its history.

``GpuConfig`` is the full assignment set of seed 004's ``gpu_configurations`` plus
the strategy; it is what a save writes, what an apply diffs, and what every
history entry holds, so restoring an old state is saving an old ``GpuConfig``.
Memory is MiB; seed 004's ``vram_budget_override`` in GB exists only in the table
and the HTTP/YAML shapes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.placement.model import Assignment, Strategy

__all__ = [
    "DeviceRecord",
    "GpuConfig",
    "HistoryEntry",
    "HistoryKind",
    "Outcome",
    "Progress",
    "SavedConfig",
    "ServiceConfig",
]

HistoryKind = Literal["save", "apply", "rollback", "restore"]
Outcome = Literal["saved", "in_progress", "applied", "failed", "interrupted"]
Progress = Literal["pending", "recreating", "done", "failed", "reverted"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServiceConfig(_Frozen):
    """One service's saved assignment: where it runs and the budget it may use."""

    service: str = Field(description="Compose service name.")
    gpu_indices: tuple[int, ...] = Field(
        default=(), description="Host GPU indices; several = tensor parallel; empty = CPU."
    )
    mig_device: int | None = Field(default=None, description="MIG device index, when a slice.")
    model: str | None = Field(default=None, description="Model id or label.")
    vram_budget_mb: int = Field(default=0, ge=0, description="The service's whole budget, MiB.")
    vram_budget_override_mb: int | None = Field(
        default=None, ge=0, description="Budget the user set (seed 004's override), MiB."
    )
    budget_adjusted: bool = Field(
        default=False, description="The budget was auto-adjusted down to fit a smaller GPU."
    )
    reason: str = Field(default="", description="Why the service is on these GPUs.")
    enabled: bool = Field(default=True, description="Seed 004's enabled flag.")

    @classmethod
    def from_assignment(
        cls, assignment: Assignment, *, override_mb: int | None = None
    ) -> ServiceConfig:
        return cls(
            service=assignment.service,
            gpu_indices=assignment.gpu_indices,
            mig_device=assignment.mig_device,
            model=assignment.model,
            vram_budget_mb=override_mb if override_mb is not None else assignment.vram_budget_mb,
            vram_budget_override_mb=override_mb,
            budget_adjusted=assignment.budget_adjusted,
            reason=assignment.reason,
        )

    def assignment(self) -> Assignment:
        return Assignment(
            service=self.service,
            model=self.model,
            gpu_indices=self.gpu_indices,
            vram_budget_mb=self.vram_budget_mb,
            reason=self.reason or "saved assignment",
            mig_device=self.mig_device,
            budget_adjusted=self.budget_adjusted,
        )

    def placement_key(self) -> tuple[Any, ...]:
        """What the container sees: a change here means the service must be recreated."""
        budget = (
            self.vram_budget_mb
            if self.budget_adjusted or self.vram_budget_override_mb is not None
            else None
        )
        return (self.gpu_indices, self.mig_device, budget, self.enabled)


class GpuConfig(_Frozen):
    """A complete configuration: the strategy and one entry per service, in order."""

    strategy: Strategy = Field(default="manual", description="Seed 004 strategy that made it.")
    services: tuple[ServiceConfig, ...] = Field(default=(), description="One per service.")

    def assignments(self) -> tuple[Assignment, ...]:
        return tuple(s.assignment() for s in self.services if s.enabled)

    def overridden(self) -> frozenset[str]:
        return frozenset(s.service for s in self.services if s.vram_budget_override_mb is not None)

    def by_name(self) -> dict[str, ServiceConfig]:
        return {s.service: s for s in self.services}


class SavedConfig(_Frozen):
    """The saved configuration and its revision (the HTTP ETag)."""

    revision: int = Field(description="Bumped by every save; 0 = nothing saved yet.")
    config: GpuConfig = Field(description="The saved assignments.")
    updated_at: datetime | None = Field(default=None, description="When it was last saved.")
    updated_by: str = Field(default="", description="Who saved it.")


class DeviceRecord(_Frozen):
    """A row of seed 004's ``gpu_devices``."""

    gpu_index: int
    name: str | None = None
    vram_total_mb: int | None = None
    vram_available_mb: int | None = None
    compute_capability: str | None = None
    vendor: str | None = None
    last_seen_at: datetime | None = None


class HistoryEntry(_Frozen):
    """One saved or applied configuration, with its files and what happened."""

    id: int
    kind: HistoryKind
    outcome: Outcome
    actor: str
    created_at: datetime
    finished_at: datetime | None = None
    revision: int
    strategy: str
    config: GpuConfig
    override_text: str | None = None
    override_sha256: str | None = None
    assignments_text: str | None = None
    assignments_sha256: str | None = None
    detail: str = ""
    warnings: tuple[str, ...] = ()
    previous_config: GpuConfig | None = None
    previous_override_text: str | None = None
    previous_revision: int | None = None
    compose_file: str | None = None
    override_file: str | None = None
    mirror_file: str | None = None
    runtime: str | None = None
    progress: dict[str, Progress] = Field(default_factory=dict)
