"""SLO scoring and ranking of experiments (pure).

Per constraint and concurrency level the *violation* is the relative miss
``max(0, (actual − threshold) / threshold)``; its penalty is
``weight × (exp(violation / steepness) − 1)``: zero at the threshold, continuous, and
steep past it. A constraint counts at its worst level — every level counts, so dropping
the levels that miss (the origin did) cannot make a configuration look better. A
``hard_fail`` constraint missed by more than ``fail_ratio`` disqualifies. Failed requests
add ``ERROR_WEIGHT × error ratio``.

The objective value is taken over all levels too (mean latency / TTFT / TPOT over the
levels; best level's output tokens/s for throughput, per GPU if asked) and penalised
in the direction that makes it worse: ×(1 + P) when minimising, ÷(1 + P) when
maximising — never a sign flip. Ranking is by tier first: ``ok`` (maybe penalised)
< ``slo_hard_fail`` < ``failed`` (did not start, crashed, timed out, or every request
failed), so a failed experiment is never the best, whatever the objective's sign, and a
crash never ranks above an SLO miss.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.tuning.metrics import LevelMetrics
from gpuplan.tuning.model import Objective, SLOConfig, SLOConstraint

__all__ = [
    "ERROR_WEIGHT",
    "ConstraintResult",
    "Score",
    "ScoreStatus",
    "best_index",
    "explain_best",
    "penalty",
    "rank_key",
    "score_experiment",
    "violation",
]

ERROR_WEIGHT = 10.0
"""Penalty per unit of error ratio (10 % failed requests → +1.0)."""

ScoreStatus = Literal["ok", "slo_hard_fail", "failed"]
_TIER: dict[ScoreStatus, int] = {"ok": 0, "slo_hard_fail": 1, "failed": 2}
_MAXIMIZE = {"maximize_throughput", "maximize_throughput_per_gpu"}


class ConstraintResult(BaseModel):
    """One SLO constraint at its worst concurrency level."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str = Field(description="ttft, tpot, latency.p50|p90|p99 or errors.")
    concurrency: int | None = Field(description="Worst level (None for errors over all).")
    actual: float | None = Field(description="Measured value there, s (None: not measured).")
    threshold: float = Field(description="Limit, s.")
    violation: float = Field(ge=0, description="Relative miss, 0 when met.")
    penalty: float = Field(ge=0, description="Weighted penalty, 0 when met.")
    hard_failed: bool = Field(description="Hard constraint missed by more than fail_ratio.")


class Score(BaseModel):
    """How one experiment fared, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: ScoreStatus = Field(
        description="'ok', 'slo_hard_fail' (a hard SLO missed) or 'failed' (no usable measurement)."
    )
    objective: Objective = Field(description="The objective it was scored on.")
    objective_value: float | None = Field(description="Raw objective over all levels.")
    penalty: float = Field(ge=0, description="Sum of constraint penalties.")
    penalized_value: float | None = Field(description="Objective made worse by the penalty.")
    constraints: list[ConstraintResult] = Field(
        default_factory=list, description="Each SLO constraint and how it fared."
    )
    reason: str = Field(description="One line: what was measured, what was missed.")


def violation(actual: float | None, threshold: float) -> float:
    if actual is None:
        return 0.0
    if math.isinf(actual):
        return math.inf
    return max(0.0, (actual - threshold) / threshold)


def penalty(violation_ratio: float, weight: float, steepness: float) -> float:
    if violation_ratio <= 0 or weight == 0:
        return 0.0
    try:
        return weight * math.expm1(violation_ratio / steepness)
    except OverflowError:
        return math.inf


def _constraints(slo: SLOConfig) -> list[tuple[str, SLOConstraint]]:
    found: list[tuple[str, SLOConstraint]] = []
    if slo.ttft:
        found.append(("ttft", slo.ttft))
    if slo.tpot:
        found.append(("tpot", slo.tpot))
    if slo.latency:
        for name in ("p50", "p90", "p99"):
            constraint = getattr(slo.latency, name)
            if constraint is not None:
                found.append((f"latency.{name}", constraint))
    return found


def _actual(level: LevelMetrics, metric: str) -> float | None:
    return {
        "ttft": level.ttft_mean_s,
        "tpot": level.tpot_mean_s,
        "latency.p50": level.latency_p50_s,
        "latency.p90": level.latency_p90_s,
        "latency.p99": level.latency_p99_s,
    }[metric]


def _objective_value(objective: Objective, levels: Sequence[LevelMetrics], gpus: int) -> float:
    def mean_of(values: list[float | None]) -> float:
        known = [v for v in values if v is not None]
        return sum(known) / len(known) if len(known) == len(values) else math.inf

    if objective == "minimize_latency":
        return mean_of([lv.latency_mean_s for lv in levels])
    if objective == "minimize_ttft":
        return mean_of([lv.ttft_mean_s for lv in levels])
    if objective == "minimize_tpot":
        return mean_of([lv.tpot_mean_s for lv in levels])
    best = max(lv.output_tokens_per_s for lv in levels)
    return best / max(gpus, 1) if objective == "maximize_throughput_per_gpu" else best


def score_experiment(
    levels: Sequence[LevelMetrics],
    objective: Objective,
    slo: SLOConfig | None,
    *,
    gpus: int = 1,
    error: str | None = None,
) -> Score:
    """Score one experiment from all of its levels; ``error`` set means it failed."""
    if error is not None or not levels or all(lv.failed == lv.requests for lv in levels):
        why = error or ("no level measured" if not levels else "every request failed")
        return Score(
            status="failed",
            objective=objective,
            objective_value=None,
            penalty=0.0,
            penalized_value=None,
            reason=f"failed: {why}",
        )
    results: list[ConstraintResult] = []
    for metric, constraint in _constraints(slo) if slo else []:
        worst: tuple[float, LevelMetrics] | None = None
        for level in levels:
            v = violation(_actual(level, metric), constraint.threshold)
            if worst is None or v > worst[0]:
                worst = (v, level)
        assert worst is not None
        v, level = worst
        steep = slo.steepness if slo else 0.5
        results.append(
            ConstraintResult(
                metric=metric,
                concurrency=level.concurrency,
                actual=_actual(level, metric),
                threshold=constraint.threshold,
                violation=v,
                penalty=penalty(v, constraint.weight, steep),
                hard_failed=constraint.hard_fail and v > constraint.fail_ratio,
            )
        )
    requests = sum(lv.requests for lv in levels)
    failed = sum(lv.failed for lv in levels)
    if failed:
        ratio = failed / requests
        results.append(
            ConstraintResult(
                metric="errors",
                concurrency=None,
                actual=ratio,
                threshold=0.0,
                violation=ratio,
                penalty=ERROR_WEIGHT * ratio,
                hard_failed=False,
            )
        )
    total = sum(c.penalty for c in results)
    value = _objective_value(objective, levels, gpus)
    if objective in _MAXIMIZE:
        penalized = value / (1 + total) if not math.isinf(total) else 0.0
    else:
        penalized = value * (1 + total)
    hard = [c for c in results if c.hard_failed]
    status: ScoreStatus = "slo_hard_fail" if hard else "ok"
    missed = [c for c in results if c.violation > 0]
    parts = [f"{objective} = {_fmt(value)}"]
    if missed:
        parts.append(
            "missed "
            + ", ".join(
                f"{c.metric} {_fmt(c.actual)} > {_fmt(c.threshold)}"
                + (f" at concurrency {c.concurrency}" if c.concurrency else "")
                for c in missed
            )
            + f" (penalty {_fmt(total)})"
        )
    elif results:
        parts.append("every SLO met")
    if hard:
        parts.append("hard fail: " + ", ".join(c.metric for c in hard))
    return Score(
        status=status,
        objective=objective,
        objective_value=value,
        penalty=total,
        penalized_value=penalized,
        constraints=results,
        reason="; ".join(parts),
    )


def rank_key(score: Score) -> tuple[int, float]:
    """Lower sorts first: tier, then the penalised objective in its better direction."""
    tier = _TIER[score.status]
    if score.penalized_value is None:
        return (tier, math.inf)
    cost = -score.penalized_value if score.objective in _MAXIMIZE else score.penalized_value
    return (tier, cost)


def best_index(scores: Sequence[Score]) -> int | None:
    """The best ``ok`` experiment; None when every one failed or broke a hard SLO."""
    candidates = [i for i, s in enumerate(scores) if s.status == "ok"]
    if not candidates:
        return None
    return min(candidates, key=lambda i: (rank_key(scores[i]), i))


def explain_best(scores: Sequence[Score]) -> str:
    """Why the best is the best, in one sentence."""
    index = best_index(scores)
    if index is None:
        counts = {s: sum(1 for x in scores if x.status == s) for s in ("slo_hard_fail", "failed")}
        return (
            f"no configuration to deploy: {counts['failed']} failed, "
            f"{counts['slo_hard_fail']} broke a hard SLO"
        )
    best = scores[index]
    others = [s for i, s in enumerate(scores) if i != index and s.status == "ok"]
    tail = f", better than {len(others)} other passing configuration(s)" if others else ""
    return f"experiment {index + 1}: {best.reason}{tail}"


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if math.isinf(value):
        return "inf"
    return f"{value:.4g}"
