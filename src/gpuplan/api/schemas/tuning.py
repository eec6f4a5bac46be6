"""What seed 003's tuning routes answer (``/api/profiles``, ``/api/tasks``).

Seed 003 fixes the profile items (``layers_count``, ``layer_names``) and the task's
``generated_config``; the config itself is the tuning stage's ``TaskConfig``, so its
schema is that model's and cannot drift from what a task really holds.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.tuning.model import ParamValue, TaskConfig
from gpuplan.tuning.runner import ExperimentResult

__all__ = [
    "DeployedPlanItem",
    "OmePlanItem",
    "PlanItem",
    "ProfileDetail",
    "ProfileSummary",
    "TaskCreated",
    "TaskDetail",
    "TaskProgress",
    "TaskResults",
]


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProfileSummary(_Answer):
    """One item of ``GET /api/profiles/`` (seed 003)."""

    name: str = Field(description="Profile name, as ``profiles`` in a task context names it.")
    description: str = Field(description="What the profile is for.")
    use_case: str = Field(description="The workloads it suits.")
    tags: list[str] = Field(description="Short labels.")
    recommended_for: list[str] = Field(description="Situations it is recommended for.")
    layers_count: int = Field(description="How many config layers it applies.")


class ProfileDetail(ProfileSummary):
    """``GET /api/profiles/{name}`` (seed 003): the summary and its layers' names."""

    layer_names: list[str] = Field(description="Its layers, in the order applied.")


class TaskCreated(_Answer):
    """``POST /api/tasks/from-context`` (seed 003): the merged config and where it came from."""

    task_name: str = Field(description="The task's unique name (the ``{task}`` of its routes).")
    generated_config: TaskConfig = Field(description="The merged, validated task config.")
    applied_layers: list[str] = Field(description="Layer names in the order applied.")
    warnings: list[str] = Field(description="Skipped profiles and dropped values, in words.")
    provenance: dict[str, str] = Field(description="Dotted config key → the layer that set it.")


class TaskProgress(_Answer):
    """A task's status: experiments finished of those planned, and the best so far."""

    task_name: str = Field(description="The task's name.")
    status: str = Field(
        description="'pending', 'running', 'done', 'interrupted' (resumable) or 'failed'."
    )
    completed: int = Field(description="Experiments finished.")
    running: list[int] = Field(description="Sequence numbers of experiments running now.")
    total: int = Field(description="Experiments planned.")
    best_seq: int | None = Field(description="Best experiment so far; null = none passed yet.")
    best_reason: str = Field(description="Why it is the best, or why there is none.")
    error: str | None = Field(description="Why the task failed; null = it did not.")


class DeployedPlanItem(_Answer):
    """One planned experiment of a local or docker task and the command that starts it."""

    seq: int = Field(description="1-based order in which it will run.")
    params: dict[str, ParamValue] = Field(description="Runtime flag (without --) → value.")
    gpus: int = Field(description="GPUs it uses (its tensor-parallel size).")
    argv: list[str] = Field(description="The exact argument list that would start it.")


class OmePlanItem(_Answer):
    """One planned experiment of an ome task and the Kubernetes manifests it renders."""

    seq: int = Field(description="1-based order in which it will run.")
    params: dict[str, ParamValue] = Field(description="Runtime flag (without --) → value.")
    gpus: int = Field(description="GPUs it uses (its tensor-parallel size).")
    manifests: list[dict[str, Any]] = Field(
        description="A Deployment and a Service, as Kubernetes objects (open-ended)."
    )


PlanItem = DeployedPlanItem | OmePlanItem


class TaskDetail(TaskProgress):
    """``GET /api/tasks/{task}``: its progress, config, and each point it will try."""

    generated_config: TaskConfig = Field(description="The task's config.")
    plan: list[PlanItem] = Field(description="Each point the strategy will try (nothing runs).")


class TaskResults(_Answer):
    """``GET /api/tasks/{task}/results``: every experiment, its score, and the best."""

    task_name: str = Field(description="The task's name.")
    status: str = Field(description="The task's status.")
    objective: str = Field(description="The objective the score optimises.")
    experiments: list[ExperimentResult] = Field(description="Every finished experiment.")
    best_seq: int | None = Field(description="Experiment to deploy; null = none passed.")
    best_reason: str = Field(description="Why it is the best, or why there is none.")
    best: ExperimentResult | None = Field(description="That experiment; null = none passed.")
