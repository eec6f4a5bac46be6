"""Serving: an OpenAI-compatible proxy's core that enforces the active profile.

Three parts, as llama-swap's router design and Ollama's scheduler split them:
``policy`` (pure: requested, running, budget → what to evict), ``scheduler``
(leases backends to requests, loads, evicts, expires, queues) and ``process``
(the one edge module that starts, health-checks and stops backend processes).
The HTTP routes in ``gpuplan.api.routes.proxy`` only forward bytes.
"""

from __future__ import annotations

from gpuplan.serving.model import FOREVER, ServiceSpec, StatusEntry
from gpuplan.serving.policy import Budget, Decision, Requested, Resident, plan_load
from gpuplan.serving.routing import resolve_service
from gpuplan.serving.services import SERVICES_ENV, load_serving_services, parse_serving_services

__all__ = [
    "FOREVER",
    "SERVICES_ENV",
    "Budget",
    "Decision",
    "Requested",
    "Resident",
    "ServiceSpec",
    "StatusEntry",
    "load_serving_services",
    "parse_serving_services",
    "plan_load",
    "resolve_service",
]
