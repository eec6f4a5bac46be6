"""``vram_based``: largest service first, each onto the device with the most free memory.

Seed 004's recommended default ("sort models by VRAM desc, assign to GPU with
most free space"). Greedy and O(n log m) with a heap, so it runs at cluster
scale; it is not optimal, which is why ``place`` repairs an overfilled result
when a fitting one exists.
"""

from __future__ import annotations

from gpuplan.placement.problem import Decision, Loads, Problem, place_pins
from gpuplan.placement.strategies._greedy import Placed, decision_of, fill_most_free

__all__ = ["assign"]


def assign(problem: Problem) -> Decision:
    loads = Loads(problem)
    placed: Placed = place_pins(problem, loads)
    fill_most_free(problem, loads, placed, "largest first")
    return decision_of(problem, placed, "greedy (largest first, most free memory)")
