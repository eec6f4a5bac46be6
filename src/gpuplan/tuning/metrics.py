"""From streamed requests to one concurrency level's figures (pure).

Percentiles are taken over *all* requests of a level at once — never as the mean of
per-batch percentiles, which the origin did and which understates tails (the mean of
two batches' p99 is not the p99 of the whole). A failed request counts as an infinitely
slow one in the latency percentiles, so a level with more than 10 % errors has an
infinite p90 instead of a flattering one computed over the survivors; TTFT and TPOT are
means over the requests that produced tokens. Times are seconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LevelMetrics", "RequestRecord", "level_metrics", "percentile"]


class RequestRecord(BaseModel):
    """One request as the load generator saw it; times relative to the level's start."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start_s: float = Field(description="When the request was sent.")
    first_token_s: float | None = Field(default=None, description="First content chunk.")
    end_s: float = Field(description="Stream end (or failure).")
    input_tokens: int = Field(default=0, ge=0, description="Prompt tokens (usage, or sent).")
    output_tokens: int = Field(default=0, ge=0, description="Generated tokens.")
    ok: bool = Field(description="200 and a complete stream.")
    error: str | None = Field(default=None, description="Why it failed.")

    @property
    def latency_s(self) -> float:
        return self.end_s - self.start_s if self.ok else math.inf

    @property
    def ttft_s(self) -> float | None:
        if not self.ok or self.first_token_s is None:
            return None
        return self.first_token_s - self.start_s

    @property
    def tpot_s(self) -> float | None:
        """(end − first token) / (output tokens − 1): decode time per token after the first."""
        if not self.ok or self.first_token_s is None or self.output_tokens < 2:
            return None
        return (self.end_s - self.first_token_s) / (self.output_tokens - 1)


class LevelMetrics(BaseModel):
    """One concurrency level of one traffic scenario."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scenario: str = Field(description="Traffic scenario, e.g. D(100,100).")
    concurrency: int = Field(ge=1, description="Requests in flight at most.")
    requests: int = Field(ge=0, description="Requests sent.")
    failed: int = Field(ge=0, description="Requests that failed.")
    duration_s: float = Field(ge=0, description="First send to last end.")
    ttft_mean_s: float | None = Field(description="Mean time to first token.")
    ttft_p90_s: float | None = Field(description="90th percentile time to first token.")
    tpot_mean_s: float | None = Field(description="Mean time per output token.")
    latency_mean_s: float | None = Field(description="Mean end-to-end latency of successes.")
    latency_p50_s: float = Field(description="Median latency over all requests (fail = inf).")
    latency_p90_s: float = Field(description="p90 latency over all requests (fail = inf).")
    latency_p99_s: float = Field(description="p99 latency over all requests (fail = inf).")
    requests_per_s: float = Field(ge=0, description="Successful requests per second.")
    output_tokens_per_s: float = Field(ge=0, description="Generated tokens per second.")
    input_tokens_mean: float = Field(ge=0, description="Mean prompt tokens.")
    output_tokens_mean: float = Field(ge=0, description="Mean generated tokens of successes.")

    @property
    def error_ratio(self) -> float:
        return self.failed / self.requests if self.requests else 1.0


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default) that keeps ``inf`` meaningful."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    frac = rank - low
    a, b = ordered[low], ordered[high]
    if frac == 0 or a == b:
        return a
    if math.isinf(b):
        return math.inf
    return a + (b - a) * frac


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def level_metrics(
    scenario: str, concurrency: int, records: Sequence[RequestRecord]
) -> LevelMetrics:
    """Every figure of a level from all of its requests at once."""
    ok = [r for r in records if r.ok]
    ttfts = [t for r in ok if (t := r.ttft_s) is not None]
    tpots = [t for r in ok if (t := r.tpot_s) is not None]
    latencies = [r.latency_s for r in records]
    starts, ends = [r.start_s for r in records], [r.end_s for r in records]
    duration = max(ends) - min(starts) if records else 0.0

    def rate(count: float) -> float:
        return count / duration if duration > 0 else 0.0

    return LevelMetrics(
        scenario=scenario,
        concurrency=concurrency,
        requests=len(records),
        failed=len(records) - len(ok),
        duration_s=duration,
        ttft_mean_s=_mean(ttfts),
        ttft_p90_s=percentile(ttfts, 90) if ttfts else None,
        tpot_mean_s=_mean(tpots),
        latency_mean_s=_mean([r.latency_s for r in ok]),
        latency_p50_s=percentile(latencies, 50) if latencies else math.inf,
        latency_p90_s=percentile(latencies, 90) if latencies else math.inf,
        latency_p99_s=percentile(latencies, 99) if latencies else math.inf,
        requests_per_s=rate(len(ok)),
        output_tokens_per_s=rate(sum(r.output_tokens for r in ok)),
        input_tokens_mean=_mean([float(r.input_tokens) for r in records]) or 0.0,
        output_tokens_mean=_mean([float(r.output_tokens) for r in ok]) or 0.0,
    )
