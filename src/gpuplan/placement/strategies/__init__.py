"""Seed 004's five assignment strategies, one module each, one signature.

Each module's ``assign(problem) -> Decision`` puts every service of a
``Problem`` on devices and says why; pins are placed first by all of them
(``problem.place_pins``). ``STRATEGY_FUNCTIONS`` maps a strategy name to it.
"""

from __future__ import annotations

from collections.abc import Callable

from gpuplan.placement.model import Strategy
from gpuplan.placement.problem import Decision, Problem
from gpuplan.placement.strategies import (
    balanced,
    isolation_first,
    latency_optimized,
    manual,
    vram_based,
)

__all__ = ["STRATEGY_FUNCTIONS"]

STRATEGY_FUNCTIONS: dict[Strategy, Callable[[Problem], Decision]] = {
    "manual": manual.assign,
    "vram_based": vram_based.assign,
    "latency_optimized": latency_optimized.assign,
    "isolation_first": isolation_first.assign,
    "balanced": balanced.assign,
}
