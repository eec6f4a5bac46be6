"""SLO scoring: violations, continuous penalties, hard fails, objectives and ranking."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gpuplan.tuning.metrics import level_metrics, percentile
from gpuplan.tuning.model import LatencySLO, SLOConfig, SLOConstraint
from gpuplan.tuning.scoring import (
    best_index,
    explain_best,
    penalty,
    rank_key,
    score_experiment,
    violation,
)
from tests.tuning.helpers import level, record

PRODUCTION = SLOConfig(
    ttft=SLOConstraint(threshold=1.0, weight=2.0),
    tpot=SLOConstraint(threshold=0.05, weight=2.0),
    latency=LatencySLO(p90=SLOConstraint(threshold=5.0, weight=3.0, hard_fail=True)),
)


def test_violation_is_relative_and_zero_when_met() -> None:
    assert violation(0.5, 1.0) == 0
    assert violation(1.0, 1.0) == 0
    assert violation(1.5, 1.0) == pytest.approx(0.5)
    assert violation(math.inf, 1.0) == math.inf
    assert violation(None, 1.0) == 0


@settings(max_examples=200)
@given(
    st.floats(0, 5),
    st.floats(0.01, 10),
    st.floats(0.01, 1),
)
def test_penalty_grows_continuously_from_zero(v: float, weight: float, steep: float) -> None:
    assert penalty(0.0, weight, steep) == 0
    p = penalty(v, weight, steep)
    assert p >= 0
    assert penalty(v + 0.01, weight, steep) >= p
    # continuity at the threshold: a tiny miss costs a tiny penalty
    assert penalty(1e-12, weight, steep) < 1e-6


def test_percentile_matches_numpy_linear_and_keeps_inf() -> None:
    import numpy as np

    values = [0.3, 0.1, 0.9, 0.5, 0.7, 0.2]
    for q in (0, 10, 50, 90, 99, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert percentile([1.0, 2.0, math.inf], 50) == 2.0
    assert percentile([1.0, 2.0, math.inf], 90) == math.inf


@settings(max_examples=100)
@given(st.lists(st.floats(0.01, 100), min_size=1, max_size=40), st.floats(0, 100))
def test_percentile_is_numpys(values: list[float], q: float) -> None:
    import numpy as np

    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), rel=1e-9)


def test_every_slo_met_scores_the_raw_objective() -> None:
    levels = [level(1, [1.0, 1.2, 1.1], tokens=100), level(4, [2.0, 2.2], tokens=100)]
    score = score_experiment(levels, "minimize_latency", PRODUCTION)
    assert score.status == "ok"
    assert score.penalty == 0
    expected = ((1.0 + 1.2 + 1.1) / 3 + (2.0 + 2.2) / 2) / 2
    assert score.objective_value == pytest.approx(expected)
    assert score.penalized_value == pytest.approx(expected)
    assert "every SLO met" in score.reason


def test_soft_miss_is_penalised_at_its_worst_level() -> None:
    levels = [level(1, [1.0] * 5, ttft=0.5, tokens=100), level(8, [2.0] * 5, ttft=1.5, tokens=100)]
    score = score_experiment(levels, "minimize_latency", PRODUCTION)
    ttft = next(c for c in score.constraints if c.metric == "ttft")
    assert ttft.concurrency == 8
    assert ttft.violation == pytest.approx(0.5)
    assert ttft.penalty == pytest.approx(2.0 * math.expm1(0.5 / PRODUCTION.steepness))
    assert score.status == "ok"
    assert score.penalized_value == pytest.approx(score.objective_value * (1 + score.penalty))  # type: ignore[operator]
    assert "ttft 1.5 > 1 at concurrency 8" in score.reason


def test_hard_fail_above_fail_ratio_only() -> None:
    within = score_experiment([level(1, [5.9] * 10, tokens=200)], "minimize_latency", PRODUCTION)
    assert within.status == "ok"  # 18 % over: penalised, not failed
    above = score_experiment([level(1, [6.1] * 10, tokens=200)], "minimize_latency", PRODUCTION)
    assert above.status == "slo_hard_fail"  # 22 % over the p90 threshold


def test_throughput_penalty_lowers_never_flips_sign() -> None:
    slo = SLOConfig(ttft=SLOConstraint(threshold=0.05))
    fast = score_experiment([level(4, [1.0] * 4, ttft=0.2)], "maximize_throughput", slo)
    assert fast.objective_value is not None and fast.objective_value > 0
    assert 0 < fast.penalized_value < fast.objective_value  # type: ignore[operator]


def test_per_gpu_throughput_divides_by_gpus() -> None:
    levels = [level(4, [1.0] * 4)]
    one = score_experiment(levels, "maximize_throughput", None, gpus=1)
    per = score_experiment(levels, "maximize_throughput_per_gpu", None, gpus=4)
    assert per.objective_value == pytest.approx(one.objective_value / 4)  # type: ignore[operator]


def test_ttft_and_tpot_objectives() -> None:
    levels = [level(1, [2.0] * 3, ttft=0.2, tokens=11)]
    assert score_experiment(levels, "minimize_ttft", None).objective_value == pytest.approx(0.2)
    tpot = score_experiment(levels, "minimize_tpot", None).objective_value
    assert tpot == pytest.approx((2.0 - 0.2) / 10)


def test_errors_are_penalised_and_count_in_percentiles() -> None:
    clean = score_experiment([level(1, [1.0] * 9)], "minimize_latency", None)
    some = score_experiment([level(1, [1.0] * 9, failed=1)], "minimize_latency", None)
    assert some.penalty == pytest.approx(10.0 * 0.1)
    assert rank_key(clean) < rank_key(some)
    lv = level(1, [1.0] * 8, failed=2)
    assert lv.latency_p90_s == math.inf  # 20 % failed: the p90 is a failure


def test_best_and_why() -> None:
    a = score_experiment([level(1, [1.0] * 3)], "minimize_latency", None)
    b = score_experiment([level(1, [0.5] * 3)], "minimize_latency", None)
    assert best_index([a, b]) == 1
    assert explain_best([a, b]).startswith("experiment 2: minimize_latency = 0.5")
    crashed = score_experiment([], "minimize_latency", None, error="exited with code 1")
    assert best_index([crashed]) is None
    assert "no configuration to deploy: 1 failed" in explain_best([crashed])


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(0.05, 20), min_size=1, max_size=8),
    st.sampled_from(["minimize_latency", "maximize_throughput", "minimize_ttft"]),
    st.floats(0.1, 10),
)
def test_ranking_is_by_tier_first(latencies: list[float], objective: str, threshold: float) -> None:
    slo = SLOConfig(latency=LatencySLO(p90=SLOConstraint(threshold=threshold, hard_fail=True)))
    scores = [
        score_experiment([level(2, [lat] * 4)], objective, slo)  # type: ignore[arg-type]
        for lat in latencies
    ]
    scores.append(score_experiment([], objective, slo, error="crash"))  # type: ignore[arg-type]
    ordered = sorted(scores, key=rank_key)
    tiers = [{"ok": 0, "slo_hard_fail": 1, "failed": 2}[s.status] for s in ordered]
    assert tiers == sorted(tiers)
    assert ordered[-1].status == "failed"
    index = best_index(scores)
    if index is not None:
        assert scores[index].status == "ok"


@settings(max_examples=100, deadline=None)
@given(st.floats(0.05, 10), st.floats(0.05, 10))
def test_lower_latency_never_scores_worse(a: float, b: float) -> None:
    assume(a < b)
    slo = SLOConfig(latency=LatencySLO(p90=SLOConstraint(threshold=2.0)))
    sa = score_experiment([level(1, [a] * 5)], "minimize_latency", slo)
    sb = score_experiment([level(1, [b] * 5)], "minimize_latency", slo)
    assert rank_key(sa) <= rank_key(sb)


def test_level_metrics_from_records() -> None:
    records = [record(0.0, 0.2, 1.2, tokens=11), record(0.5, 0.4, 2.4, tokens=11)]
    lv = level_metrics("D(10,10)", 2, records)
    assert lv.ttft_mean_s == pytest.approx(0.3)
    assert lv.tpot_mean_s == pytest.approx(((1.0 / 10) + (2.0 / 10)) / 2)
    assert lv.duration_s == pytest.approx(2.9)
    assert lv.output_tokens_per_s == pytest.approx(22 / 2.9)
    assert lv.latency_p50_s == pytest.approx(1.8)
