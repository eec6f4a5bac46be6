"""The greedy steps the heuristic strategies share: most free memory first."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from gpuplan.placement.problem import Decision, Loads, Problem, RoomHeap, choose_set, tp_note

__all__ = [
    "Placed",
    "decision_of",
    "fill_most_free",
    "least_overfilled",
    "most_free",
    "most_free_reason",
]

Placed = dict[int, tuple[tuple[int, ...], str]]
"""Service → (device positions, reason), filled in as a strategy goes."""


def most_free(
    problem: Problem,
    loads: Loads,
    heap: RoomHeap,
    s: int,
    accept: Callable[[int], bool] | None = None,
    *,
    fallback: bool = True,
) -> list[int]:
    """Devices for service ``s`` from ``heap``: the one with most free memory, or a TP set.

    A tensor-parallel service takes whole GPUs only, preferring an NVLink group
    among those with room (``choose_set``); a one-device service any device.
    When no device has room, the one it overfills least (lowest used ÷ usable
    afterwards) is taken instead (unless ``fallback`` is off: the caller has
    somewhere else to look), so a 24 GB GPU 300 MiB short is preferred to a
    4 GB one that is already full. That scan is O(devices); it only runs when
    nothing fits.
    """
    span = problem.spans[s]
    if span == 1:
        d = heap.top(accept)
        chosen = [] if d is None else [d]
    else:

        def whole(d: int) -> bool:
            return problem.spannable(s, d) and (accept is None or accept(d))

        if any(problem.devices[d].link_group is not None for d in heap.members):
            ranked = sorted(
                (d for d in heap.members if whole(d)), key=lambda d: (-loads.free(d), d)
            )
            roomy = [d for d in ranked if loads.free(d) >= problem.demand(s, d)]
            chosen = choose_set(problem, roomy, span)
            if len(chosen) != span:
                chosen = choose_set(problem, ranked, span)
        else:
            chosen = heap.take(span, whole)
    if not fallback or not chosen or loads.fits(s, chosen):
        return chosen
    return least_overfilled(problem, loads, heap.members, s, accept)


def least_overfilled(
    problem: Problem,
    loads: Loads,
    members: Iterable[int],
    s: int,
    accept: Callable[[int], bool] | None = None,
) -> list[int]:
    """The ``span`` devices whose utilisation after taking ``s`` is lowest (ties: position)."""
    span = problem.spans[s]
    allowed = [
        d
        for d in members
        if (accept is None or accept(d))
        and (span == 1 or problem.spannable(s, d))
        and problem.devices[d].usable_mb > 0
    ]
    ranked = sorted(allowed, key=lambda d: (loads.utilisation(d, problem.demand(s, d)), d))
    return choose_set(problem, ranked, span) if span > 1 else ranked[:1]


def most_free_reason(problem: Problem, loads: Loads, s: int, chosen: list[int], prefix: str) -> str:
    """'PREFIX: GPU 1 had the most free memory (3,582 MiB)' (before the service is added)."""
    if not chosen:
        return f"{prefix}: no device to put it on"
    labels = ", ".join(problem.devices[d].label for d in chosen)
    if not loads.fits(s, chosen):
        return (
            f"{prefix}: no GPU had room for {problem.share_mb[s]:,} MiB; {labels} is the one "
            f"it overfills least{tp_note(problem, s)}"
        )
    free = min(loads.free(d) for d in chosen)
    return f"{prefix}: {labels} had the most free memory ({free:,} MiB){tp_note(problem, s)}"


def fill_most_free(
    problem: Problem,
    loads: Loads,
    placed: Placed,
    prefix: str,
    devices: Iterable[int] | None = None,
    services: Iterable[int] | None = None,
) -> None:
    """Place ``services`` (default: all not yet placed), largest first, by most free memory."""
    heap = RoomHeap(loads, range(len(problem.devices)) if devices is None else devices)
    pending = (
        (s for s in range(len(problem.services)) if s not in placed)
        if services is None
        else services
    )
    order = sorted(pending, key=lambda s: (-problem.share_mb[s] * problem.spans[s], s))
    for s in order:
        chosen = most_free(problem, loads, heap, s)
        placed[s] = (tuple(chosen), most_free_reason(problem, loads, s, chosen, prefix))
        loads.add(s, chosen)
        heap.touch(chosen)


def decision_of(problem: Problem, placed: Placed, solver: str) -> Decision:
    """The ``Decision`` for a fully filled ``placed``."""
    n = len(problem.services)
    return Decision(
        tuple(placed[s][0] for s in range(n)), tuple(placed[s][1] for s in range(n)), solver
    )
