"""One placement problem as the strategies see it, and the tools they share.

``Problem`` fixes, before any strategy runs, how many devices each service
spans (``spans``: 1, or a tensor-parallel size the engine accepts) and what it
needs on each (``share_mb``), so every strategy answers the same question and
only decides *which* devices. A strategy returns a ``Decision``: device
positions and a reason per service, and which algorithm ran.

``Loads`` tracks what is used on each device; ``RoomHeap`` finds the device with
the most free memory in O(log n), so the greedy strategies stay fast at
cluster scale (thousands of GPUs, tens of thousands of services).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from gpuplan.errors import PlacementError
from gpuplan.placement.devices import Device
from gpuplan.placement.model import Service

__all__ = [
    "DEFAULT_TP_SIZES",
    "Decision",
    "Loads",
    "Problem",
    "RoomHeap",
    "choose_set",
    "make_problem",
    "place_pins",
    "tp_note",
]

DEFAULT_TP_SIZES = (1, 2, 4, 8, 16)
"""Tensor-parallel sizes a service may use when it names none (engines want powers of two)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """Services, devices, and each service's span and per-device share (MiB)."""

    services: tuple[Service, ...]
    devices: tuple[Device, ...]
    spans: tuple[int, ...]
    share_mb: tuple[int, ...]
    span_notes: tuple[str | None, ...]
    adjustable: tuple[bool, ...] = ()
    tp_floor_mb: tuple[int, ...] = ()
    """Per service: the least usable MiB a device needs to join its tensor-parallel set.

    Engines split a model evenly over its ranks, so every device of the set must
    hold the per-rank share; a 4 GB card beside a 24 GB one cannot. 0 when the
    host has too few such devices (the set is then warned about, see validate)."""

    def demand(self, s: int, d: int) -> int:
        """MiB service ``s`` takes on device ``d``.

        Its share, except that a budget which is only a budget (a model zoo, a
        user override: ``Service.adjustable``) is auto-adjusted to a smaller
        device (seed 004), so it never takes more than the device's usable memory.
        """
        share = self.share_mb[s]
        if self.adjustable[s]:
            return min(share, self.devices[d].usable_mb)
        return share

    def pinned(self, s: int) -> tuple[int, ...]:
        """Device positions service ``s`` is pinned to (its GPU's devices), or ()."""
        gpu = self.services[s].gpu
        if gpu is None:
            return ()
        return tuple(d.position for d in self.devices if d.gpu_index == gpu)

    def spannable(self, s: int, d: int) -> bool:
        """Device ``d`` may be one rank of service ``s``'s tensor-parallel set.

        Never a MIG slice, and never a device smaller than the per-rank share
        when the host has enough devices that hold it.
        """
        device = self.devices[d]
        floor = self.tp_floor_mb[s] if self.tp_floor_mb else 0
        return device.mig_index is None and device.usable_mb >= floor

    def eligible(self, s: int) -> list[int]:
        """Devices service ``s`` may use (for a tensor-parallel one: ``spannable``)."""
        if self.spans[s] == 1:
            return list(range(len(self.devices)))
        return [d.position for d in self.devices if self.spannable(s, d.position)]


@dataclass(frozen=True, slots=True)
class Decision:
    """A strategy's answer: device positions and a reason for every service."""

    slots: tuple[tuple[int, ...], ...]
    reasons: tuple[str, ...]
    solver: str | None = None


@dataclass(slots=True)
class Loads:
    """MiB used on each device so far."""

    problem: Problem
    used: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.used:
            self.used = [0] * len(self.problem.devices)

    def free(self, d: int) -> int:
        return self.problem.devices[d].usable_mb - self.used[d]

    def add(self, s: int, devices: Iterable[int]) -> None:
        for d in devices:
            self.used[d] += self.problem.demand(s, d)

    def fits(self, s: int, devices: Iterable[int]) -> bool:
        """Every one of ``devices`` still has room for service ``s`` (and there is one)."""
        problem, used = self.problem, self.used
        found = False
        for d in devices:
            if problem.devices[d].usable_mb - used[d] < problem.demand(s, d):
                return False
            found = True
        return found

    def utilisation(self, d: int, extra: int = 0) -> float:
        usable = self.problem.devices[d].usable_mb
        load = self.used[d] + extra
        if usable <= 0:
            return 0.0 if load == 0 else float("inf")
        return load / usable


class RoomHeap:
    """Devices by most free memory first (ties: lowest position), with lazy updates."""

    def __init__(self, loads: Loads, devices: Iterable[int]) -> None:
        self.loads = loads
        self.members = set(devices)
        self.heap = [(-loads.free(d), d) for d in sorted(self.members)]
        heapq.heapify(self.heap)

    def top(self, accept: Callable[[int], bool] | None = None) -> int | None:
        """The member with the most free memory (that ``accept`` admits), or None."""
        skipped: list[tuple[int, int]] = []
        found: int | None = None
        while self.heap:
            room, d = self.heap[0]
            if -room != self.loads.free(d):  # stale entry: re-key it
                heapq.heapreplace(self.heap, (-self.loads.free(d), d))
                continue
            if accept is None or accept(d):
                found = d
                break
            skipped.append(heapq.heappop(self.heap))
        for entry in skipped:
            heapq.heappush(self.heap, entry)
        return found

    def take(self, count: int, accept: Callable[[int], bool] | None = None) -> list[int]:
        """Up to ``count`` distinct members, most free first."""
        chosen: list[int] = []
        popped: list[tuple[int, int]] = []
        while len(chosen) < count:
            d = self.top(lambda x: x not in chosen and (accept is None or accept(x)))
            if d is None:
                break
            chosen.append(d)
            popped.append(heapq.heappop(self.heap))
        for entry in popped:
            heapq.heappush(self.heap, entry)
        return chosen

    def touch(self, devices: Iterable[int]) -> None:
        """Re-key devices whose load changed (the top in place, others by a new entry)."""
        for d in devices:
            if d not in self.members:
                continue
            if self.heap and self.heap[0][1] == d:
                heapq.heapreplace(self.heap, (-self.loads.free(d), d))
            else:
                heapq.heappush(self.heap, (-self.loads.free(d), d))


def make_problem(
    services: Sequence[Service],
    devices: Sequence[Device],
    *,
    tensor_parallel_threshold_mb: int | None = None,
) -> Problem:
    """Decide each service's span: one device, or a tensor-parallel set.

    A service spans one device unless no single device holds it, or it is
    larger than the profile's ``tensor_parallel_threshold_mb`` (seed 000:
    "prefer tensor-parallel for large models, distributed for small"); then it
    takes the smallest size its engine accepts whose per-GPU share fits that many
    whole GPUs (MIG slices are never spanned). A service that fits nowhere, even
    split, stays on one device and is warned about.
    """
    counts = Counter(s.name for s in services)
    duplicates = sorted(name for name, count in counts.items() if count > 1)
    if duplicates:
        raise PlacementError(
            f"service {duplicates[0]!r} is listed twice", hint="give every service its own name"
        )
    whole = sorted((d.usable_mb for d in devices if d.mig_index is None), reverse=True)
    largest = max((d.usable_mb for d in devices), default=0)
    spans: list[int] = []
    shares: list[int] = []
    notes: list[str | None] = []
    floors: list[int] = []
    for service in services:
        budget = service.budget_mb
        span, note = service.gpus_needed, None
        if span > 1 and span > len(whole):
            raise PlacementError(
                f"service {service.name!r} asks for gpus: {span}, but this host has "
                f"{len(whole)} GPU{'s' if len(whole) != 1 else ''} it can span",
                hint=f"set gpus to at most {len(whole)} for {service.name}, or plan on "
                "hardware with more GPUs",
            )
        if span == 1:
            over_threshold = (
                tensor_parallel_threshold_mb is not None
                and budget > tensor_parallel_threshold_mb
                and len(whole) > 1
            )
            if budget > largest or over_threshold:
                span, note = _split(service, budget, whole, tensor_parallel_threshold_mb, largest)
        spans.append(span)
        share = -(-budget // span)
        shares.append(share)
        notes.append(note)
        holding = sum(1 for usable in whole if usable >= share)
        floors.append(share if span > 1 and holding >= span else 0)
    return Problem(
        tuple(services),
        tuple(devices),
        tuple(spans),
        tuple(shares),
        tuple(notes),
        tuple(service.adjustable for service in services),
        tuple(floors),
    )


def _split(
    service: Service, budget: int, whole: list[int], threshold: int | None, largest: int
) -> tuple[int, str | None]:
    sizes = sorted(set(service.tensor_parallel_sizes or DEFAULT_TP_SIZES))
    for k in sizes:
        if k < 2 or k > len(whole):
            continue
        share = -(-budget // k)
        if whole[k - 1] >= share:
            why = (
                f"larger than the profile's tensor_parallel_threshold_mb ({threshold:,} MiB)"
                if budget <= largest and threshold is not None
                else f"no single GPU holds its {budget:,} MiB"
            )
            return k, f"tensor parallel over {k} GPUs ({share:,} MiB each): {why}"
    return 1, None


def tp_note(problem: Problem, s: int) -> str:
    """'; tensor parallel over …' for a spanning service, else ''."""
    note = problem.span_notes[s]
    return f"; {note}" if note else ""


def choose_set(problem: Problem, ranked: Sequence[int], count: int) -> list[int]:
    """``count`` devices from ``ranked`` (best first), preferring one NVLink group.

    When the topology is known and some NVLink group has ``count`` of the ranked
    devices, the group whose members rank best is taken; otherwise the best
    ``count`` overall.
    """
    if count <= 1 or len(ranked) <= count:
        return list(ranked[:count])
    groups: dict[int, list[int]] = {}
    for d in ranked:
        group = problem.devices[d].link_group
        if group is not None:
            groups.setdefault(group, []).append(d)
    rank = {d: i for i, d in enumerate(ranked)}
    best: list[int] | None = None
    for members in groups.values():
        if len(members) >= count:
            pick = members[:count]
            if best is None or [rank[d] for d in pick] < [rank[d] for d in best]:
                best = pick
    return best if best is not None else list(ranked[:count])


def place_pins(problem: Problem, loads: Loads) -> dict[int, tuple[tuple[int, ...], str]]:
    """Put every pinned service on its GPU first: pins always win over a strategy.

    On a GPU in MIG mode the pin takes the slice with the most free memory; a
    pinned tensor-parallel service takes its GPU and the other GPUs with the most
    free memory. A pin to a GPU the host does not have is an error naming it.
    """
    placed: dict[int, tuple[tuple[int, ...], str]] = {}
    indices = sorted({d.gpu_index for d in problem.devices})
    for s, service in enumerate(problem.services):
        if service.gpu is None:
            continue
        own = problem.pinned(s)
        if not own:
            raise PlacementError(
                f"service {service.name!r} is pinned to GPU {service.gpu}, which this host "
                "does not have",
                hint="pin it to one of GPU " + ", ".join(map(str, indices))
                if indices
                else "plan on hardware with a GPU (--hardware SPEC)",
            )
        first = max(own, key=lambda d: (loads.free(d), -d))
        chosen = [first]
        if problem.spans[s] > 1:
            others = sorted(
                (d for d in problem.eligible(s) if problem.devices[d].gpu_index != service.gpu),
                key=lambda d: (-loads.free(d), d),
            )
            chosen += choose_set(problem, others, problem.spans[s] - 1)
        loads.add(s, chosen)
        placed[s] = (tuple(chosen), f"pinned to GPU {service.gpu} in the services file")
    return placed
