"""Can a set of models be placed on these GPUs? An exact, small bin-packing check.

Summing VRAM over GPUs is not enough: two 20 GB models do not fit two 24 GB
GPUs plus a 4 GB one in the gaps, and a model split over k GPUs needs k
*different* GPUs with room for its per-GPU share. Sets are small (a profile
loads a handful of models on at most a few dozen devices), so a depth-first
search over devices, largest demand first, is exact and fast. Identical free
capacities are tried once, which keeps eight equal GPUs from exploding.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
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
        roomy = [d for d in range(len(free)) if free[d] >= demand.per_gpu_mb]
        tried: set[tuple[int, ...]] = set()
        for devices in combinations(roomy, demand.gpus):
            shape = tuple(sorted(free[d] for d in devices))
            if shape in tried:  # same free capacities: same outcome
                continue
            tried.add(shape)
            for d in devices:
                free[d] -= demand.per_gpu_mb
            if place(position + 1):
                placed[order[position]] = devices
                return True
            for d in devices:
                free[d] += demand.per_gpu_mb
        return False

    return tuple(placed) if place(0) else None


def packs(demands: Sequence[Demand], capacities_mb: Sequence[int]) -> bool:
    """True when every demand can be placed at once on devices of ``capacities_mb``."""
    if not demands:
        return True
    return assign(demands, capacities_mb) is not None
