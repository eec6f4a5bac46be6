"""``isolation_first``: the LLM alone on the largest GPU, everything else on the others.

Seed 004's "keep the LLM stable by separating it from smaller models". The LLM
is the largest service whose role marks it as one (``Service.is_llm``); it takes
the largest device (a tensor-parallel LLM the largest whole GPUs), and the rest
go, largest first, to the device with the most free memory among the others.
A service no other device has room for shares the LLM's GPU only when that one
still has room (said in its reason), and on a single GPU everything shares it.
Without an LLM service this is ``vram_based`` with a reason that says so.
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
from gpuplan.placement.strategies._greedy import (
    Placed,
    decision_of,
    fill_most_free,
    least_overfilled,
    most_free,
    most_free_reason,
)

__all__ = ["assign"]


def assign(problem: Problem) -> Decision:
    loads = Loads(problem)
    placed: Placed = place_pins(problem, loads)
    llms = [s for s, service in enumerate(problem.services) if service.is_llm]
    if not llms:
        fill_most_free(problem, loads, placed, "no LLM to isolate; largest first")
        return decision_of(problem, placed, "greedy (no LLM: largest first, most free memory)")
    llm = max(llms, key=lambda s: (problem.share_mb[s] * problem.spans[s], -s))
    if llm in placed:
        isolated = set(placed[llm][0])
    else:
        busy = {d for chosen, _ in placed.values() for d in chosen}
        ranked = sorted(
            problem.eligible(llm),
            key=lambda d: (d in busy, -problem.devices[d].usable_mb, d),
        )
        chosen = choose_set(problem, ranked, problem.spans[llm])
        labels = ", ".join(problem.devices[d].label for d in chosen)
        size = min(problem.devices[d].usable_mb for d in chosen) if chosen else 0
        placed[llm] = (
            tuple(chosen),
            f"the LLM, alone on the largest GPU ({labels}, {size:,} MiB usable)"
            + tp_note(problem, llm),
        )
        loads.add(llm, chosen)
        isolated = set(chosen)
    others = [d.position for d in problem.devices if d.position not in isolated]
    if not others:
        fill_most_free(problem, loads, placed, "only one GPU, so it shares the LLM's")
        return decision_of(problem, placed, "greedy (LLM isolated, the rest on the other GPUs)")
    away = RoomHeap(loads, others)
    shared = RoomHeap(loads, sorted(isolated))
    rest = sorted(
        (s for s in range(len(problem.services)) if s not in placed),
        key=lambda s: (-problem.share_mb[s] * problem.spans[s], s),
    )
    for s in rest:
        chosen = most_free(problem, loads, away, s, fallback=False)
        prefix = "shares the GPUs the LLM leaves"
        if not loads.fits(s, chosen):
            spill = most_free(problem, loads, shared, s, fallback=False)
            if len(spill) == problem.spans[s] and loads.fits(s, spill):
                chosen, prefix = spill, "no other GPU had room, so it shares the LLM's"
            else:
                chosen = least_overfilled(problem, loads, away.members, s) or chosen
        placed[s] = (tuple(chosen), most_free_reason(problem, loads, s, chosen, prefix))
        loads.add(s, chosen)
        away.touch(chosen)
        shared.touch(chosen)
    return decision_of(problem, placed, "greedy (LLM isolated, the rest on the other GPUs)")
