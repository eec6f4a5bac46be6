"""Run a persisted task: pick points, run each through an executor, score, resume.

Strategies: ``grid_search`` (the grid, sampled evenly down to ``max_iterations``),
``random_search`` (seeded, without replacement) and ``bayesian`` (Optuna's TPE through
ask/tell over a study named after the task — ``gpuplan-tune-{task_name}`` — so two tasks
never share one). On resume the finished experiments are *replayed*: grid and random
skip their points, Bayesian adds them to the fresh study as completed trials with their
recorded values, and the interrupted experiment runs again. When Optuna suggests a
point already run, the nearest untried point is run instead and that point — not the
suggestion — is what is recorded and told to the study.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.tuning.experiment import Executor, ExperimentOutcome
from gpuplan.tuning.model import ParamValue, TaskConfig
from gpuplan.tuning.persist import ExperimentRow, TuningStore
from gpuplan.tuning.scoring import Score, best_index, explain_best, rank_key, score_experiment
from gpuplan.tuning.space import Params, grid, grid_points, params_key, random_points

__all__ = ["ExperimentResult", "Progress", "TaskResult", "planned_points", "run_task"]

Progress = Callable[[str, int, int, Params, "ExperimentResult | None"], None]
"""Called as ("start" | "done", seq, total, params, result) around each experiment."""


class ExperimentResult(BaseModel):
    """One finished experiment of a task."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int = Field(ge=1, description="1-based order in which it ran.")
    params: dict[str, ParamValue] = Field(description="Runtime flag (without --) → value run.")
    outcome: ExperimentOutcome = Field(description="What running it produced.")
    score: Score = Field(description="How it fared against the objective and the SLOs.")


class TaskResult(BaseModel):
    """A task's experiments and its answer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_name: str
    status: str
    objective: str
    experiments: list[ExperimentResult]
    best_seq: int | None = Field(description="Experiment to deploy (None: none passed).")
    best_reason: str

    @property
    def best(self) -> ExperimentResult | None:
        return next((e for e in self.experiments if e.seq == self.best_seq), None)


def planned_points(config: TaskConfig) -> list[Params] | None:
    """The points grid/random search will run, in order; None for adaptive (Bayesian)."""
    opt = config.optimization
    if opt.strategy == "grid_search":
        return grid_points(config.parameters, opt.max_iterations)
    if opt.strategy == "random_search":
        return random_points(config.parameters, opt.max_iterations, opt.seed)
    return None


def _result_of(row: ExperimentRow) -> ExperimentResult | None:
    if row.status != "done" or row.outcome is None or row.score is None:
        return None
    return ExperimentResult(seq=row.seq, params=row.params, outcome=row.outcome, score=row.score)


def _run_one(
    store: TuningStore, task_id: int, config: TaskConfig, executor: Executor, seq: int, p: Params
) -> ExperimentResult:
    store.start_experiment(task_id, seq, dict(p), params_key(p))
    try:
        outcome = executor(config, dict(p), seq)
    except Exception as exc:  # an executor bug fails this experiment, not the task
        outcome = ExperimentOutcome(
            params=dict(p), mode=config.deployment_mode, error=f"{type(exc).__name__}: {exc}"
        )
    score = score_experiment(
        outcome.levels,
        config.optimization.objective,
        config.slo,
        gpus=outcome.gpus,
        error=outcome.error,
    )
    store.finish_experiment(task_id, seq, outcome, score, params_key(outcome.params))
    return ExperimentResult(seq=seq, params=outcome.params, outcome=outcome, score=score)


def run_task(
    store: TuningStore,
    task: str | int,
    executor: Executor,
    *,
    progress: Progress | None = None,
) -> TaskResult:
    """Run (or resume) ``task`` to its end and record the best configuration."""
    row = store.task(task)
    config = row.config
    store.drop_unfinished(row.id)
    results = [r for r in map(_result_of, store.experiments(row.id)) if r is not None]
    store.set_status(row.id, "running")
    budget = config.optimization.max_iterations
    notify = progress or (lambda *_: None)

    def run(p: Params) -> ExperimentResult:
        seq = len(results) + 1
        total = min(budget, len(grid(config.parameters)))
        notify("start", seq, total, p, None)
        result = _run_one(store, row.id, config, executor, seq, p)
        results.append(result)
        notify("done", seq, total, result.params, result)
        return result

    try:
        points = planned_points(config)
        if points is not None:
            done = {params_key(r.params) for r in results}
            for point in points:
                if len(results) >= budget:
                    break
                if params_key(point) not in done:
                    run(point)
        else:
            _bayesian(config, row.study_name, results, run, budget)
    except BaseException as exc:
        store.set_status(row.id, "interrupted", error=f"{type(exc).__name__}: {exc}")
        raise
    scores = [r.score for r in results]
    index = best_index(scores)
    best_seq = results[index].seq if index is not None else None
    reason = explain_best(scores)
    store.set_status(row.id, "done", best_seq=best_seq, best_reason=reason)
    return TaskResult(
        task_name=config.task_name,
        status="done",
        objective=config.optimization.objective,
        experiments=results,
        best_seq=best_seq,
        best_reason=reason,
    )


def load_result(store: TuningStore, task: str | int) -> TaskResult:
    """A task's recorded results (finished or not) without running anything."""
    row = store.task(task)
    results = [r for r in map(_result_of, store.experiments(row.id)) if r is not None]
    scores = [r.score for r in results]
    index = best_index(scores)
    return TaskResult(
        task_name=row.name,
        status=row.status,
        objective=row.config.optimization.objective,
        experiments=results,
        best_seq=results[index].seq if index is not None else None,
        best_reason=explain_best(scores) if results else "no experiment has finished yet",
    )


def _cost(score: Score) -> float | None:
    """What Optuna minimises: the rank's cost for a passing run; None (FAIL) otherwise."""
    if score.status != "ok":
        return None
    cost = rank_key(score)[1]
    return cost if math.isfinite(cost) else None


def _nearest_untried(suggested: Params, untried: Sequence[Params]) -> Params:
    return min(untried, key=lambda p: sum(1 for k in p if p[k] != suggested.get(k)))


def _bayesian(
    config: TaskConfig,
    study_name: str,
    results: list[ExperimentResult],
    run: Callable[[Params], ExperimentResult],
    budget: int,
) -> None:
    import optuna
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions: dict[str, Any] = {
        name: CategoricalDistribution(list(values)) for name, values in config.parameters.items()
    }
    study = optuna.create_study(
        study_name=study_name,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=config.optimization.seed),
    )

    def record(result: ExperimentResult) -> None:
        value = _cost(result.score)
        study.add_trial(
            create_trial(
                params=dict(result.params),
                distributions=distributions,
                value=value,
                state=TrialState.COMPLETE if value is not None else TrialState.FAIL,
            )
        )

    for result in results:  # replay what a previous run recorded, with its scores
        record(result)
    everything = grid(config.parameters)
    while len(results) < budget:
        tried = {params_key(r.params) for r in results}
        untried = [p for p in everything if params_key(p) not in tried]
        if not untried:
            break
        trial = study.ask(distributions)
        suggested: Params = dict(trial.params)
        if params_key(suggested) in tried:
            study.tell(trial, state=TrialState.PRUNED)
            record(run(_nearest_untried(suggested, untried)))
            continue
        result = run(suggested)
        value = _cost(result.score)
        if params_key(result.params) != params_key(suggested):
            study.tell(trial, state=TrialState.PRUNED)
            record(result)
        elif value is None:
            study.tell(trial, state=TrialState.FAIL)
        else:
            study.tell(trial, value)
