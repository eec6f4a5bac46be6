"""``balanced``: minimise the largest utilisation (used ÷ usable) over all devices.

Seed 004's "distribute VRAM evenly". Dividing by each device's usable memory
makes mixed sizes fair: a 4 GB card at 50 % is as full as a 24 GB one at 50 %.

Up to ``MILP_MAX_PAIRS`` (service, device) pairs it is solved exactly as a MILP
with HiGHS (``placement._milp.min_max_utilisation``): the answer is optimal
(proven within ``MIP_REL_GAP``, 0.01 %), or after ``MILP_TIME_LIMIT_S`` the best
found with the gap HiGHS proved. In ``bench/bench_placement.py`` proofs finish
in about a second up to ~16 GPUs x 25 services; larger random instances often
stop at the limit with a proven gap below 0.5 %. Beyond
that, or if HiGHS finds nothing, a greedy heuristic runs: largest service
first, each onto the device whose utilisation after taking it is lowest
(devices of equal size kept in one heap, so each step costs O(sizes x log n)).
``Placement.solver`` says which ran, with the gap to a lower bound
(max of total demand ÷ total usable and each service's share ÷ the largest
device it may use) for the heuristic.
"""

from __future__ import annotations

import heapq

from gpuplan.placement._milp import MILP_MAX_PAIRS, min_max_utilisation, pair_count
from gpuplan.placement.problem import Decision, Loads, Problem, place_pins, tp_note
from gpuplan.placement.strategies._greedy import Placed, decision_of

__all__ = ["assign", "greedy_balanced", "lower_bound", "max_utilisation"]


def assign(problem: Problem) -> Decision:
    loads = Loads(problem)
    placed: Placed = place_pins(problem, loads)
    pending = [s for s in range(len(problem.services)) if s not in placed]
    if pending and pair_count(problem, pending) <= MILP_MAX_PAIRS:
        result = min_max_utilisation(problem, pending, list(loads.used))
        if result is not None:
            for s in pending:
                loads.add(s, result.slots[s])
            peak = max_utilisation(problem, loads)
            if result.optimal:
                how = "optimal"
                solver = f"highs milp: optimal, largest utilisation {peak:.1%}"
            else:
                gap = "unknown" if result.gap is None else f"{result.gap:.1%}"
                how = f"best found, gap {gap}"
                solver = f"highs milp: time limit, largest utilisation {peak:.1%}, gap {gap}"
            for s in pending:
                placed[s] = (result.slots[s], _reason(problem, result.slots[s], s, peak, how))
            return decision_of(problem, placed, solver)
    greedy_balanced(problem, loads, placed, pending)
    peak = max_utilisation(problem, loads)
    bound = lower_bound(problem)
    gap_share = (peak - bound) / peak if peak > 0 else 0.0
    for s in pending:
        placed[s] = (placed[s][0], _reason(problem, placed[s][0], s, peak, "greedy"))
    reason = "beyond the exact size" if pending else "nothing to place"
    return decision_of(
        problem,
        placed,
        f"greedy ({reason}): largest utilisation {peak:.1%}, gap to lower bound ≤ {gap_share:.1%}",
    )


def _reason(problem: Problem, chosen: tuple[int, ...], s: int, peak: float, how: str) -> str:
    labels = ", ".join(problem.devices[d].label for d in chosen) or "no device"
    note = tp_note(problem, s)
    return f"balanced: on {labels}, keeping every GPU at most {peak:.0%} full ({how}){note}"


def max_utilisation(problem: Problem, loads: Loads) -> float:
    """The largest used ÷ usable over devices with memory (the objective)."""
    peaks = [
        loads.used[d] / device.usable_mb
        for d, device in enumerate(problem.devices)
        if device.usable_mb > 0
    ]
    return max(peaks, default=0.0)


def lower_bound(problem: Problem) -> float:
    """No placement has a smaller largest utilisation than this."""
    usable = [d.usable_mb for d in problem.devices if d.usable_mb > 0]
    if not usable:
        return 0.0
    largest, smallest = max(usable), min(usable)
    whole = sorted((d.usable_mb for d in problem.devices if d.mig_index is None), reverse=True)
    total = 0
    bound = 0.0
    for s, service in enumerate(problem.services):
        share, span = problem.share_mb[s], problem.spans[s]
        least = min(share, smallest) if service.adjustable else share  # smallest possible take
        total += least * span
        room = largest if span == 1 else (whole[span - 1] if len(whole) >= span else 0)
        if room > 0:
            bound = max(bound, (min(share, room) if service.adjustable else share) / room)
    return max(bound, total / sum(usable))


def greedy_balanced(problem: Problem, loads: Loads, placed: Placed, pending: list[int]) -> None:
    """Largest first, each onto the device(s) whose utilisation afterwards is lowest."""
    groups: dict[tuple[int, bool], list[tuple[int, int]]] = {}
    for device in problem.devices:
        if device.usable_mb <= 0:
            continue
        key = (device.usable_mb, device.mig_index is not None)
        groups.setdefault(key, []).append((loads.used[device.position], device.position))
    for heap in groups.values():
        heapq.heapify(heap)
    order = sorted(pending, key=lambda s: (-problem.share_mb[s] * problem.spans[s], s))
    for s in order:
        chosen: list[int] = []
        popped: list[tuple[tuple[int, bool], tuple[int, int]]] = []
        for _ in range(problem.spans[s]):
            best: tuple[float, int, tuple[int, bool]] | None = None
            for key, heap in groups.items():
                if not heap or (problem.spans[s] > 1 and not problem.spannable(s, heap[0][1])):
                    continue
                used, d = heap[0]
                score = (used + problem.demand(s, d)) / key[0]
                if best is None or (score, d) < best[:2]:
                    best = (score, d, key)
            if best is None:
                break
            entry = heapq.heappop(groups[best[2]])
            popped.append((best[2], entry))
            chosen.append(entry[1])
        loads.add(s, chosen)
        for key, (_, d) in popped:
            heapq.heappush(groups[key], (loads.used[d], d))
        placed[s] = (tuple(chosen), "")
