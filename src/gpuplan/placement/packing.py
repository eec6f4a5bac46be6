"""Can a set of models be placed on these GPUs? An exact, small bin-packing check.

Summing VRAM over GPUs is not enough: two 20 GB models do not fit two 24 GB
GPUs plus a 4 GB one in the gaps, and a model split over k GPUs needs k
*different* GPUs with room for its per-GPU share. Sets are small (a profile
loads a handful of models on at most a few dozen devices), so a depth-first
search over devices, largest demand first, is exact and fast. Devices with equal
free capacity are interchangeable, so each multiset of capacities is tried once,
which keeps sixteen equal GPUs from exploding.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple


class Demand(NamedTuple):
    """One model to place: ``per_gpu_mb`` on each of ``gpus`` distinct devices."""

    per_gpu_mb: int
    gpus: int = 1


def assign(
    demands: Sequence[Demand], capacities_mb: Sequence[int]
) -> tuple[tuple[int, ...], ...] | None:
    """Devices for each demand (indices into ``capacities_mb``), or None if impossible."""
    order = sorted(range(len(demands)), key=lambda i: (-demands[i].per_gpu_mb, -demands[i].gpus))
    free = list(capacities_mb)
    placed: list[tuple[int, ...]] = [() for _ in demands]

    def place(position: int) -> bool:
        if position == len(order):
            return True
        demand = demands[order[position]]
        if demand.gpus < 1 or demand.gpus > len(free):
            return False
        for devices in _distinct_choices(free, demand.per_gpu_mb, demand.gpus):
            for d in devices:
                free[d] -= demand.per_gpu_mb
            if place(position + 1):
                placed[order[position]] = devices
                return True
            for d in devices:
                free[d] += demand.per_gpu_mb
        return False

    return tuple(placed) if place(0) else None


def _distinct_choices(free: list[int], need: int, count: int) -> Iterator[tuple[int, ...]]:
    """Sets of ``count`` devices with at least ``need`` free, one per multiset of capacities.

    Devices with the same free capacity are interchangeable for the rest of the
    search (nothing else tells them apart), so only how many are taken from each
    capacity matters: C(16, 8) device sets on sixteen equal GPUs become one.
    """
    groups: dict[int, list[int]] = {}
    for device, room in enumerate(free):
        if room >= need:
            groups.setdefault(room, []).append(device)
    levels = sorted(groups, reverse=True)

    def pick(level: int, left: int, chosen: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
        if left == 0:
            yield chosen
            return
        if level == len(levels):
            return
        devices = groups[levels[level]]
        for take in range(min(left, len(devices)), -1, -1):
            yield from pick(level + 1, left - take, chosen + tuple(devices[:take]))

    yield from pick(0, count, ())


def packs(demands: Sequence[Demand], capacities_mb: Sequence[int]) -> bool:
    """True when every demand can be placed at once on devices of ``capacities_mb``."""
    if not demands:
        return True
    return assign(demands, capacities_mb) is not None
