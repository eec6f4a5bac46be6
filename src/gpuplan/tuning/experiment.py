"""One experiment's record, and the seam every executor (local, docker, fake) fits."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.tuning.metrics import LevelMetrics
from gpuplan.tuning.model import DeploymentMode, ParamValue, TaskConfig

__all__ = ["Executor", "ExperimentOutcome"]


class ExperimentOutcome(BaseModel):
    """What running one point of the space produced (params are the ones really run)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    params: dict[str, ParamValue] = Field(description="Flags the runtime was started with.")
    mode: DeploymentMode = Field(description="How it was started: local, docker or ome.")
    argv: list[str] = Field(default_factory=list, description="The command that started it.")
    gpus: int = Field(default=1, ge=1, description="GPUs it used (its TP size).")
    levels: list[LevelMetrics] = Field(default_factory=list, description="Each level measured.")
    error: str | None = Field(default=None, description="Why it failed (None: it ran).")
    duration_s: float = Field(default=0.0, ge=0, description="Start to stop, s.")
    notes: list[str] = Field(default_factory=list, description="Flags not applied, and why.")


class Executor(Protocol):
    """Runs one point: start the runtime, wait for health, drive load, stop, measure."""

    def __call__(
        self, config: TaskConfig, params: dict[str, ParamValue], index: int
    ) -> ExperimentOutcome: ...
