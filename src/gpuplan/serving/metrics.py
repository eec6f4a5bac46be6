"""Prometheus metrics of the proxy: requests, latency, loads, evictions, queue.

One ``CollectorRegistry`` per scheduler, so several apps in one process (tests)
never share counters; ``/metrics`` renders it in the text exposition format.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["ServingMetrics"]


class ServingMetrics:
    """The counters, gauges and histograms the scheduler and the proxy update."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gpuplan_requests",
            "Proxied requests by service, endpoint and HTTP status.",
            ["service", "endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gpuplan_request_seconds",
            "Time from request to the end of the proxied response, load included.",
            ["service", "endpoint"],
            registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
        )
        self.loads = Counter(
            "gpuplan_loads",
            "Backend starts by service and outcome.",
            ["service", "outcome"],
            registry=self.registry,
        )
        self.load_seconds = Histogram(
            "gpuplan_load_seconds",
            "Start-up time until healthy.",
            ["service"],
            registry=self.registry,
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
        )
        self.evictions = Counter(
            "gpuplan_evictions",
            "Backends stopped, by service and reason.",
            ["service", "reason"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "gpuplan_queue_depth",
            "Requests waiting for a model to load.",
            registry=self.registry,
        )
        self.queue_rejected = Counter(
            "gpuplan_queue_rejected",
            "Requests refused with 503 because the queue was full.",
            registry=self.registry,
        )
        self.loaded = Gauge(
            "gpuplan_loaded_models", "Backends loaded or loading.", registry=self.registry
        )

    def render(self) -> bytes:
        """The text exposition format."""
        text: bytes = generate_latest(self.registry)
        return text
