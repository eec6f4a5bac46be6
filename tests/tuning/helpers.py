"""Build request records and levels with known timings, for scoring and runner tests."""

from __future__ import annotations

from collections.abc import Sequence

from gpuplan.tuning.metrics import LevelMetrics, RequestRecord, level_metrics


def record(
    start: float, ttft: float, latency: float, tokens: int = 10, ok: bool = True
) -> RequestRecord:
    return RequestRecord(
        start_s=start,
        first_token_s=start + ttft if ok else None,
        end_s=start + latency,
        input_tokens=10,
        output_tokens=tokens if ok else 0,
        ok=ok,
        error=None if ok else "HTTP 500",
    )


def level(
    concurrency: int,
    latencies: Sequence[float],
    *,
    ttft: float = 0.1,
    tokens: int = 10,
    failed: int = 0,
) -> LevelMetrics:
    """Requests back to back (one per second slot) with the given latencies."""
    records = [record(float(i), ttft, lat, tokens) for i, lat in enumerate(latencies)]
    records += [record(float(len(latencies) + i), 0, 0.5, ok=False) for i in range(failed)]
    return level_metrics("D(10,10)", concurrency, records)
