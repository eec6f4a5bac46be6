"""The tuning stage's data: a task's generated config, laid out as seed 003's layers are.

``TaskConfig`` is what ``POST /api/tasks/from-context`` returns as ``generated_config``
and what the runner executes: ``optimization`` (objective, ``max_iterations``,
``timeout_per_iteration``), ``parameters`` (the runtime's own flag → values to try),
``benchmark`` (``traffic_scenarios``, ``num_concurrency``) and ``slo`` (``ttft``,
``tpot``, ``latency.p50|p90|p99``, each with ``threshold``, ``weight``, ``hard_fail``,
``fail_ratio``). Times are seconds, as in seed 003.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.tuning.runtimes import Runtime

__all__ = [
    "Benchmark",
    "DeploymentMode",
    "LatencySLO",
    "ModelRef",
    "Objective",
    "Optimization",
    "ParamValue",
    "SLOConfig",
    "SLOConstraint",
    "Strategy",
    "TaskConfig",
]

DeploymentMode = Literal["docker", "ome", "local"]
"""docker: ``docker run`` with GPU device requests; ome: a Kubernetes manifest; local: a
process on this machine."""

Objective = Literal[
    "minimize_latency",
    "maximize_throughput",
    "maximize_throughput_per_gpu",
    "minimize_ttft",
    "minimize_tpot",
]
Strategy = Literal["grid_search", "random_search", "bayesian"]
ParamValue = int | float | str | bool


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SLOConstraint(_Frozen):
    """One service-level objective: a threshold and what missing it costs."""

    threshold: float = Field(gt=0, description="Limit in seconds; at or below it costs nothing.")
    weight: float = Field(default=1.0, ge=0, description="Penalty weight of a miss.")
    hard_fail: bool = Field(
        default=False,
        description="A miss by more than ``fail_ratio`` disqualifies the configuration.",
    )
    fail_ratio: float = Field(
        default=0.2,
        ge=0,
        description="Relative miss ((actual - threshold) / threshold) above which a hard_fail "
        "constraint fails.",
    )


class LatencySLO(_Frozen):
    """End-to-end request latency percentiles, over all requests of a concurrency level."""

    p50: SLOConstraint | None = Field(default=None, description="Median latency, s.")
    p90: SLOConstraint | None = Field(default=None, description="90th percentile latency, s.")
    p99: SLOConstraint | None = Field(default=None, description="99th percentile latency, s.")


class SLOConfig(_Frozen):
    """Seed 003's ``slo`` block."""

    ttft: SLOConstraint | None = Field(default=None, description="Mean time to first token, s.")
    tpot: SLOConstraint | None = Field(default=None, description="Mean time per output token, s.")
    latency: LatencySLO | None = Field(default=None, description="Latency percentiles.")
    steepness: float = Field(
        default=0.5,
        gt=0,
        description="Penalty = weight × (exp(miss / steepness) − 1): 0 at the threshold, "
        "growing continuously; smaller is stricter.",
    )


class Optimization(_Frozen):
    """How the parameter space is searched."""

    strategy: Strategy = Field(default="grid_search", description="Search strategy.")
    objective: Objective = Field(default="minimize_latency", description="What 'best' means.")
    max_iterations: int = Field(default=10, ge=1, description="Experiments at most.")
    timeout_per_iteration: float = Field(
        default=600, gt=0, description="Seconds one experiment (start, load, stop) may take."
    )
    seed: int = Field(default=0, description="Seed of the random and Bayesian strategies.")


class Benchmark(_Frozen):
    """The load each experiment drives, per concurrency level."""

    task: str = Field(default="text-to-text", description="Kind of requests.")
    model_name: str | None = Field(default=None, description="Model name sent in requests.")
    traffic_scenarios: list[str] = Field(
        default_factory=lambda: ["D(100,100)"],
        description="D(in,out): deterministic input/output tokens per request.",
    )
    num_concurrency: list[int] = Field(
        default_factory=lambda: [1], description="Concurrency levels, each measured on its own."
    )
    request_rate: float | None = Field(
        default=None,
        gt=0,
        description="Poisson arrivals at this many requests/s (capped by the concurrency); "
        "None: closed loop, a new request as soon as one finishes.",
    )
    max_requests_per_iteration: int = Field(
        default=50, ge=1, description="Requests per concurrency level and scenario."
    )
    max_time_per_iteration: float = Field(
        default=60, gt=0, description="Seconds per concurrency level and scenario at most."
    )
    additional_params: dict[str, Any] = Field(
        default_factory=lambda: {"temperature": 0.0},
        description="Extra fields of every request body.",
    )


class ModelRef(_Frozen):
    """The model the engine serves."""

    id_or_path: str = Field(description="HF repo id, local path or GGUF file.")
    namespace: str = Field(default="autotuner", description="Kubernetes namespace (ome mode).")


class TaskConfig(_Frozen):
    """A whole tuning task: the merged layers, validated."""

    task_name: str = Field(description="Unique task name (default names never collide).")
    model: ModelRef = Field(description="The model to tune: id or path, and namespace.")
    base_runtime: Runtime = Field(description="Serving runtime whose flags ``parameters`` uses.")
    deployment_mode: DeploymentMode = Field(
        default="docker", description="Where experiments run: docker, ome (Kubernetes) or local."
    )
    deployment: dict[str, Any] = Field(
        default_factory=dict, description="Mode settings: image, port, host, namespace, gpus."
    )
    optimization: Optimization = Field(
        default_factory=Optimization, description="Search strategy, objective and budget."
    )
    parameters: dict[str, list[ParamValue]] = Field(
        default_factory=dict, description="Runtime flag (without --) → values to try."
    )
    benchmark: Benchmark = Field(
        default_factory=Benchmark, description="The load each experiment is measured under."
    )
    slo: SLOConfig | None = Field(default=None, description="SLO constraints, if any.")
