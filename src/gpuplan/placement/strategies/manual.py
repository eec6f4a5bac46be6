"""``manual``: every service goes where its ``gpu`` pin says, and nowhere else.

Seed 004's "you control each assignment": nothing is chosen for the user, so a
service without a pin is an error that names every such service.
"""

from __future__ import annotations

from gpuplan.errors import PlacementError
from gpuplan.placement.problem import Decision, Loads, Problem, place_pins, tp_note

__all__ = ["assign"]


def assign(problem: Problem) -> Decision:
    unpinned = [service.name for service in problem.services if service.gpu is None]
    if unpinned:
        listed = ", ".join(unpinned[:8]) + (
            f" and {len(unpinned) - 8} more" if len(unpinned) > 8 else ""
        )
        raise PlacementError(
            f"strategy manual needs a gpu for every service; not pinned: {listed}",
            hint="add `gpu: N` to each in the services file, or choose another --strategy "
            "(vram_based, latency_optimized, isolation_first, balanced)",
        )
    loads = Loads(problem)
    placed = place_pins(problem, loads)
    slots = tuple(placed[s][0] for s in range(len(problem.services)))
    reasons = tuple(
        f"manual: {placed[s][1]}{tp_note(problem, s)}" for s in range(len(problem.services))
    )
    return Decision(slots, reasons, solver="pins (manual)")
