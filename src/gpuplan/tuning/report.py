"""What a finished task shows: table rows, the trade-off plot, and the winner as a profile.

The plot puts every experiment's concurrency levels on latency (p90, s) against output
throughput (tokens/s), one line per configuration, the SLO lines dashed, the winner
starred; it is written as PNG and SVG with matplotlib's Agg backend, imported only here.
The winner becomes a gpuplan deployment profile (``engine`` block: the runtime's flags
in snake case, ``tensor_parallel_size`` when it has one) that ``gpuplan plan --profile
FILE`` takes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from gpuplan.tuning.metrics import LevelMetrics
from gpuplan.tuning.model import TaskConfig
from gpuplan.tuning.runner import TaskResult
from gpuplan.tuning.runtimes import tp_flag

__all__ = ["result_rows", "winner_profile", "write_plot"]


def _num(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:.{digits}g}"


def _ms(value: float | None) -> str:
    if value is None or math.isinf(value) or value * 1000 < 100:
        return _num(value * 1000 if value is not None else None, 3)
    return f"{value * 1000:.0f}"


def _rate(value: float | None) -> str:
    if value is None or value < 100:
        return _num(value, 3)
    return f"{value:.0f}"


def result_rows(result: TaskResult) -> list[dict[str, str]]:
    """One row per experiment and concurrency level, in run order; times in ms."""
    rows: list[dict[str, str]] = []
    for exp in result.experiments:
        params = " ".join(f"{k}={v}" for k, v in exp.params.items())
        mark = "★" if exp.seq == result.best_seq else ""
        levels: list[LevelMetrics | None] = [*exp.outcome.levels] or [None]
        for level in levels:
            rows.append(
                {
                    "#": f"{exp.seq}{mark}",
                    "params": params,
                    "conc": str(level.concurrency) if level else "-",
                    "ttft_ms": _ms(level.ttft_mean_s if level else None),
                    "tpot_ms": _ms(level.tpot_mean_s if level else None),
                    "p50_ms": _ms(level.latency_p50_s if level else None),
                    "p90_ms": _ms(level.latency_p90_s if level else None),
                    "p99_ms": _ms(level.latency_p99_s if level else None),
                    "tok/s": _rate(level.output_tokens_per_s if level else None),
                    "errors": f"{level.failed}/{level.requests}" if level else "-",
                    "status": exp.score.status,
                    "score": _num(exp.score.penalized_value),
                }
            )
    return rows


def write_plot(result: TaskResult, config: TaskConfig, stem: Path) -> list[Path]:
    """``stem``.png and ``stem``.svg of the latency/throughput trade-off with SLO lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    for exp in result.experiments:
        levels = [lv for lv in exp.outcome.levels if math.isfinite(lv.latency_p90_s)]
        if not levels:
            continue
        xs = [lv.output_tokens_per_s for lv in levels]
        ys = [lv.latency_p90_s for lv in levels]
        label = f"#{exp.seq} " + " ".join(f"{k}={v}" for k, v in exp.params.items())
        best = exp.seq == result.best_seq
        ax.plot(xs, ys, marker="*" if best else "o", markersize=12 if best else 5, label=label)
        for lv, x, y in zip(levels, xs, ys, strict=True):
            ax.annotate(f"c={lv.concurrency}", (x, y), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")  # fmt: skip
    slo = config.slo
    if slo and slo.latency:
        for name, style in (("p50", ":"), ("p90", "--"), ("p99", "-.")):
            constraint = getattr(slo.latency, name)
            if constraint is not None:
                ax.axhline(constraint.threshold, color="red", linestyle=style, linewidth=1,
                           label=f"SLO latency {name} ≤ {constraint.threshold} s")  # fmt: skip
    ax.set_xlabel("output throughput (tokens/s)")
    ax.set_ylabel("p90 end-to-end latency (s)")
    ax.set_title(f"{result.task_name}: latency vs throughput ({result.objective})", fontsize=9)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        fig.savefig(path)
    plt.close(fig)
    return paths


def winner_profile(result: TaskResult, config: TaskConfig) -> dict[str, Any]:
    """The best experiment as a gpuplan deployment profile document."""
    best = result.best
    if best is None:
        from gpuplan.errors import TuningError

        raise TuningError(
            f"task {result.task_name!r} has no configuration to deploy",
            hint=result.best_reason,
        )
    engine: dict[str, Any] = {}
    flag = tp_flag(config.base_runtime)
    for name, value in best.params.items():
        if name == flag:
            engine["tensor_parallel_size"] = int(value)
        else:
            engine[name.replace("-", "_")] = value
    slug = "".join(c if c.isalnum() or c in "._-" else "-" for c in result.task_name)
    return {
        "profile": f"tuned-{slug}",
        "description": (
            f"Tuned by gpuplan tune ({config.base_runtime}, {config.model.id_or_path}): "
            f"experiment {best.seq}, {best.score.reason}"
        ),
        "engine": engine,
    }


def write_winner_profile(result: TaskResult, config: TaskConfig, path: Path) -> Path:
    path.write_text(json.dumps(winner_profile(result, config), indent=2) + "\n")
    return path
