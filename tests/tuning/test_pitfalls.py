"""The origin autotuner's scoring and search bugs — each test fails on its behaviour.

The executor here is scripted (known timings per point) so each property is exact;
the real engine runs in test_local_e2e.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from gpuplan.tuning.experiment import ExperimentOutcome
from gpuplan.tuning.factory import TaskContext, build_task
from gpuplan.tuning.metrics import LevelMetrics, level_metrics, percentile
from gpuplan.tuning.model import LatencySLO, ParamValue, SLOConfig, SLOConstraint, TaskConfig
from gpuplan.tuning.persist import TuningStore
from gpuplan.tuning.runner import run_task
from gpuplan.tuning.scoring import best_index, rank_key, score_experiment
from gpuplan.tuning.space import grid_points, params_key
from tests.tuning.helpers import level, record

Script = Callable[[dict[str, ParamValue]], list[LevelMetrics] | str]


class ScriptedExecutor:
    """Returns the levels (or the error) a script gives for each point; records calls."""

    def __init__(self, script: Script, crash_at: int | None = None) -> None:
        self.script = script
        self.calls: list[dict[str, ParamValue]] = []
        self.crash_at = crash_at

    def __call__(
        self, config: TaskConfig, params: dict[str, ParamValue], index: int
    ) -> ExperimentOutcome:
        if self.crash_at is not None and len(self.calls) + 1 == self.crash_at:
            raise KeyboardInterrupt("simulated crash")
        self.calls.append(dict(params))
        result = self.script(params)
        if isinstance(result, str):
            return ExperimentOutcome(params=params, mode="local", error=result)
        return ExperimentOutcome(params=params, mode="local", levels=result)


def make_task(store: TuningStore, **fields: object) -> str:
    fields.setdefault("model_name", "m")
    fields.setdefault("base_runtime", "llamacpp")
    fields.setdefault("deployment_mode", "local")
    build = build_task(TaskContext(**fields))
    return store.create_task(build.config).name


@pytest.fixture()
def store(tmp_path: Path) -> TuningStore:
    return TuningStore(tmp_path / "tuning.sqlite3")


def test_failed_experiment_is_never_best_when_maximising(store: TuningStore) -> None:
    # Origin: a failed run scored as ±inf and, when maximising, won.
    name = make_task(
        store,
        optimization_objective="maximize_throughput",
        user_overrides={"parameters": {"parallel": [1, 2, 4]}},
    )
    tokens = {1: 10, 2: 20}

    def script(p: dict[str, ParamValue]) -> list[LevelMetrics] | str:
        if p["parallel"] == 4:
            return "exited with code 1 before it was ready"
        return [level(4, [1.0] * 4, tokens=tokens[int(p["parallel"])])]

    result = run_task(store, name, ScriptedExecutor(script))
    assert result.best is not None and result.best.params["parallel"] == 2
    failed = next(e for e in result.experiments if e.params["parallel"] == 4)
    assert failed.score.status == "failed" and failed.score.penalized_value is None


def test_all_failed_means_no_best(store: TuningStore) -> None:
    name = make_task(store, optimization_objective="maximize_throughput")
    result = run_task(store, name, ScriptedExecutor(lambda p: "crashed"))
    assert result.best_seq is None
    assert result.best_reason.startswith("no configuration to deploy")


def test_percentiles_pool_all_requests_of_a_level() -> None:
    # Two batches of one level: the mean of per-batch p99s is not the level's p99.
    batch_a = [record(i, 0.1, 1.0) for i in range(10)]
    batch_b = [record(10 + i, 0.1, 1.0 if i < 9 else 10.0) for i in range(10)]
    all_latencies = [r.latency_s for r in batch_a + batch_b]
    lv = level_metrics("D(10,10)", 4, batch_a + batch_b)
    pooled = float(np.percentile(all_latencies, 99))
    mean_of_batches = (
        percentile([r.latency_s for r in batch_a], 99)
        + percentile([r.latency_s for r in batch_b], 99)
    ) / 2
    assert lv.latency_p99_s == pytest.approx(pooled)
    assert lv.latency_p99_s != pytest.approx(mean_of_batches)
    assert lv.latency_p90_s == pytest.approx(float(np.percentile(all_latencies, 90)))


def test_dropping_slo_violating_levels_does_not_flatter() -> None:
    # A is fast at concurrency 1 and misses the p90 SLO badly at 8; B meets it at both.
    slo = SLOConfig(latency=LatencySLO(p90=SLOConstraint(threshold=3.0, weight=3.0)))
    a = [level(1, [0.5] * 10, tokens=100), level(8, [9.0] * 10, tokens=100)]
    b = [level(1, [1.0] * 10, tokens=100), level(8, [2.0] * 10, tokens=100)]
    scores = [score_experiment(x, "minimize_latency", slo) for x in (a, b)]
    assert best_index(scores) == 1
    # What the origin did — score A on its passing level only — would have chosen A:
    a_dropped = score_experiment(a[:1], "minimize_latency", slo)
    assert rank_key(a_dropped) < rank_key(scores[1])


@pytest.mark.parametrize("objective", ["minimize_latency", "maximize_throughput"])
def test_crash_never_ranks_above_an_slo_miss(objective: str) -> None:
    hard = SLOConfig(latency=LatencySLO(p90=SLOConstraint(threshold=1.0, hard_fail=True)))
    miss = score_experiment([level(1, [30.0] * 5)], objective, hard)  # type: ignore[arg-type]
    soft = score_experiment(
        [level(1, [30.0] * 5)],
        objective,  # type: ignore[arg-type]
        SLOConfig(latency=LatencySLO(p90=SLOConstraint(threshold=1.0))),
    )
    crash = score_experiment([], objective, hard, error="segfault")  # type: ignore[arg-type]
    assert miss.status == "slo_hard_fail"
    assert rank_key(soft) < rank_key(miss) < rank_key(crash)
    assert best_index([crash, miss]) is None
    assert best_index([crash, soft]) == 1


def test_grid_cut_to_max_iterations_is_sampled_evenly() -> None:
    # Origin: kept the first points, i.e. tp 1 only, every memory fraction.
    params: dict[str, list[ParamValue]] = {
        "tp-size": [1, 2, 4],
        "mem-fraction-static": [0.8, 0.85, 0.9],
    }
    points = grid_points(params, 3)
    assert {p["tp-size"] for p in points} == {1, 2, 4}
    assert {p["mem-fraction-static"] for p in points} == {0.8, 0.85, 0.9}
    assert points[0] == {"tp-size": 1, "mem-fraction-static": 0.8}
    assert points[-1] == {"tp-size": 4, "mem-fraction-static": 0.9}
    five = grid_points({"x": list(range(10))}, 5)
    assert [p["x"] for p in five] == [0, 2, 4, 7, 9]


def _latency_script(p: dict[str, ParamValue]) -> list[LevelMetrics]:
    return [level(1, [1.0 + 0.1 * int(p["parallel"]) + 0.01 * int(p["batch-size"])] * 3)]


@pytest.mark.parametrize("strategy", ["grid_search", "bayesian"])
def test_resume_replays_recorded_params_with_scores(store: TuningStore, strategy: str) -> None:
    overrides = {
        "parameters": {"parallel": [1, 2, 3], "batch-size": [1, 2]},
        "optimization": {"max_iterations": 5, "strategy": strategy},
    }
    name = make_task(store, user_overrides=overrides)
    crashing = ScriptedExecutor(_latency_script, crash_at=3)
    with pytest.raises(KeyboardInterrupt):
        run_task(store, name, crashing)
    assert store.task(name).status == "interrupted"
    rows = store.experiments(store.task(name).id)
    before = {e.seq: (e.params, e.score) for e in rows if e.status == "done"}
    assert len(before) == 2
    assert [e.status for e in rows if e.status != "done"] == ["running"]  # the interrupted one
    resumed = ScriptedExecutor(_latency_script)
    result = run_task(store, name, resumed)
    assert len(result.experiments) == 5
    assert len(resumed.calls) == 3  # the two finished are replayed, not re-run
    ran = [params_key(p) for p in crashing.calls + resumed.calls]
    assert len(set(ran)) == len(ran)
    for e in result.experiments[:2]:
        assert (e.params, e.score) == before[e.seq]


def test_perturbed_params_are_recorded_as_run(store: TuningStore) -> None:
    # A two-point space with two iterations: TPE re-suggests the first point, so the
    # runner runs the other one — and records *that*.
    name = make_task(
        store,
        user_overrides={
            "parameters": {"parallel": [1, 2], "batch-size": [8]},
            "optimization": {"max_iterations": 2, "strategy": "bayesian"},
        },
    )
    executor = ScriptedExecutor(_latency_script)
    result = run_task(store, name, executor)
    recorded = [e.params for e in result.experiments]
    assert recorded == executor.calls
    assert sorted(int(p["parallel"]) for p in recorded) == [1, 2]
    stored = [e.params for e in store.experiments(store.task(name).id)]
    assert stored == executor.calls


def test_no_two_tasks_share_a_study_by_default(store: TuningStore) -> None:
    first, second = make_task(store), make_task(store)
    assert first != second
    assert store.task(first).study_name != store.task(second).study_name
    config = store.task(first).config
    from gpuplan.errors import TuningConfigError

    with pytest.raises(TuningConfigError, match="already exists"):
        store.create_task(config)
