"""Tuning stage: seed 003's layered task config, experiments that really run, SLO scores.

``build_task`` merges base → deployment mode → runtime → profiles → overrides into a
``TaskConfig`` that remembers which layer set each value; ``run_task`` runs it through an
executor (``LocalExecutor``: the runtime as a process here; ``DockerExecutor``) with
grid, random or Bayesian (Optuna ask/tell) search, scores every experiment against the
SLOs (``score_experiment``) and records everything in a ``TuningStore`` so a task
resumes after a crash. Optuna and matplotlib are imported only when used.
"""

from __future__ import annotations

from gpuplan.tuning.experiment import Executor, ExperimentOutcome
from gpuplan.tuning.factory import TaskBuild, TaskContext, build_task, default_task_name
from gpuplan.tuning.metrics import LevelMetrics, RequestRecord, level_metrics, percentile
from gpuplan.tuning.model import (
    Benchmark,
    LatencySLO,
    ModelRef,
    Optimization,
    SLOConfig,
    SLOConstraint,
    TaskConfig,
)
from gpuplan.tuning.persist import TuningStore
from gpuplan.tuning.profiles import (
    BUILTIN_PROFILES,
    ConfigLayer,
    ProfileMetadata,
    ProfileRegistry,
    TuningProfile,
    default_registry,
    load_profile_file,
)
from gpuplan.tuning.runner import ExperimentResult, TaskResult, load_result, run_task
from gpuplan.tuning.scoring import Score, best_index, explain_best, score_experiment

__all__ = [
    "BUILTIN_PROFILES",
    "Benchmark",
    "ConfigLayer",
    "Executor",
    "ExperimentOutcome",
    "ExperimentResult",
    "LatencySLO",
    "LevelMetrics",
    "ModelRef",
    "Optimization",
    "ProfileMetadata",
    "ProfileRegistry",
    "RequestRecord",
    "SLOConfig",
    "SLOConstraint",
    "Score",
    "TaskBuild",
    "TaskConfig",
    "TaskContext",
    "TaskResult",
    "TuningProfile",
    "TuningStore",
    "best_index",
    "build_task",
    "default_registry",
    "default_task_name",
    "explain_best",
    "level_metrics",
    "load_profile_file",
    "load_result",
    "percentile",
    "run_task",
    "score_experiment",
]
