"""``latency_optimized``: the critical path on the fastest GPU, the rest spread elsewhere.

Seed 004: "ai-yolo26 + ai-llm on GPU 0, others distributed". Critical services
are the latency-sensitive ones and the LLM; "fastest" is memory bandwidth from
the GPU catalog (token generation is bandwidth-bound), ties broken by memory.
Each critical service, largest first, takes the fastest device that still has
room for it. The others go, largest first, to the device with the most free
memory among those holding no critical service, and only when none has room
onto the critical ones, so they do not compete with the critical path.
"""

from __future__ import annotations

from gpuplan.placement.problem import (
    Decision,
    Loads,
    Problem,
    RoomHeap,
    choose_set,
    place_pins,
    tp_note,
)
from gpuplan.placement.strategies._greedy import Placed, decision_of, most_free, most_free_reason

__all__ = ["assign", "is_critical"]


def is_critical(problem: Problem, s: int) -> bool:
    service = problem.services[s]
    return service.latency_sensitive or service.is_llm


def assign(problem: Problem) -> Decision:
    loads = Loads(problem)
    placed: Placed = place_pins(problem, loads)
    devices = problem.devices
    speeds = sorted({d.bandwidth_gbs for d in devices}, reverse=True)
    by_speed = {
        speed: RoomHeap(loads, [d.position for d in devices if d.bandwidth_gbs == speed])
        for speed in speeds
    }
    critical = sorted(
        (s for s in range(len(problem.services)) if s not in placed and is_critical(problem, s)),
        key=lambda s: (-problem.share_mb[s] * problem.spans[s], s),
    )
    hot: set[int] = {
        d for s, (chosen, _) in placed.items() if is_critical(problem, s) for d in chosen
    }
    for s in critical:
        chosen = _fastest(problem, loads, by_speed, s)
        why = "latency-sensitive" if problem.services[s].latency_sensitive else "the LLM"
        placed[s] = (tuple(chosen), _fast_reason(problem, loads, s, chosen, why))
        loads.add(s, chosen)
        for heap in by_speed.values():
            heap.touch(chosen)
        hot.update(chosen)
    everywhere = RoomHeap(loads, range(len(devices)))
    quiet = RoomHeap(loads, [d.position for d in devices if d.position not in hot])
    rest = sorted(
        (s for s in range(len(problem.services)) if s not in placed),
        key=lambda s: (-problem.share_mb[s] * problem.spans[s], s),
    )
    for s in rest:
        chosen = most_free(problem, loads, quiet, s, fallback=False)
        prefix = "spread away from the critical path"
        if not loads.fits(s, chosen):
            chosen, prefix = (
                most_free(problem, loads, everywhere, s),
                "spread (no quiet GPU had room)",
            )
        placed[s] = (tuple(chosen), most_free_reason(problem, loads, s, chosen, prefix))
        loads.add(s, chosen)
        quiet.touch(chosen)
        everywhere.touch(chosen)
    return decision_of(problem, placed, "greedy (critical path on the fastest GPU)")


def _fastest(problem: Problem, loads: Loads, by_speed: dict[float, RoomHeap], s: int) -> list[int]:
    span = problem.spans[s]
    if span == 1:
        first: int | None = None
        for heap in by_speed.values():  # fastest first
            d = heap.top()
            if d is None:
                continue
            if first is None:
                first = d
            if loads.fits(s, [d]):
                return [d]
        return [] if first is None else [first]
    ranked = sorted(
        (d.position for d in problem.devices if problem.spannable(s, d.position)),
        key=lambda d: (-problem.devices[d].bandwidth_gbs, -loads.free(d), d),
    )
    roomy = [d for d in ranked if loads.fits(s, [d])]
    chosen = choose_set(problem, roomy, span)
    return chosen if len(chosen) == span else choose_set(problem, ranked, span)


def _fast_reason(problem: Problem, loads: Loads, s: int, chosen: list[int], why: str) -> str:
    if not chosen:
        return f"{why}: no device to put it on"
    labels = ", ".join(problem.devices[d].label for d in chosen)
    speed = min(problem.devices[d].bandwidth_gbs for d in chosen)
    known = f"{speed:,.0f} GB/s" if speed > 0 else "bandwidth unknown"
    room = "" if loads.fits(s, chosen) else f"; none had room for {problem.share_mb[s]:,} MiB"
    return f"{why}: on {labels}, the fastest GPU with room ({known}){room}{tp_note(problem, s)}"
