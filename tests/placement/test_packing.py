"""The packing check is exact: it agrees with brute force on small random instances."""

from __future__ import annotations

from itertools import permutations, product

from hypothesis import given, settings
from hypothesis import strategies as st

from gpuplan.placement import Demand, assign, packs


def brute_force(demands: list[Demand], capacities: list[int]) -> bool:
    """Try every device tuple for every demand (distinct devices within a demand)."""
    n = len(capacities)
    choices = [
        [devs for devs in permutations(range(n), d.gpus) if list(devs) == sorted(devs)]
        for d in demands
    ]
    for pick in product(*choices):
        free = list(capacities)
        for demand, devices in zip(demands, pick, strict=True):
            for device in devices:
                free[device] -= demand.per_gpu_mb
        if all(f >= 0 for f in free):
            return True
    return False


demand = st.builds(Demand, st.integers(1, 30), st.integers(1, 3))


@settings(max_examples=400, deadline=None)
@given(st.lists(demand, max_size=4), st.lists(st.integers(0, 40), min_size=1, max_size=4))
def test_packs_equals_brute_force(demands: list[Demand], capacities: list[int]) -> None:
    assert packs(demands, capacities) == brute_force(demands, capacities)


@settings(max_examples=200, deadline=None)
@given(st.lists(demand, max_size=4), st.lists(st.integers(0, 40), min_size=1, max_size=4))
def test_an_assignment_respects_every_capacity(
    demands: list[Demand], capacities: list[int]
) -> None:
    placed = assign(demands, capacities)
    if placed is None:
        return
    free = list(capacities)
    for d, devices in zip(demands, placed, strict=True):
        assert len(set(devices)) == d.gpus
        for device in devices:
            free[device] -= d.per_gpu_mb
    assert all(f >= 0 for f in free)


def test_sum_is_not_enough() -> None:
    """The reviewer's 2x RTX 4090 case: three models whose sum fits but that cannot be placed."""
    usable = [22516, 22516]
    assert sum(usable) >= 20873 + 19356 + 4441
    assert not packs([Demand(20873), Demand(19356), Demand(4441)], usable)
    assert packs([Demand(20873), Demand(19356), Demand(1500)], usable)


def test_tensor_parallel_needs_distinct_gpus() -> None:
    assert not packs([Demand(15000, 2)], [40000])
    assert packs([Demand(15000, 2)], [16000, 16000])
    assert not packs([Demand(10248, 2), Demand(6216)], [14328, 14328])


def test_eight_equal_gpus_are_fast_and_exact() -> None:
    assert packs([Demand(40000, 4), Demand(40000, 4)] + [Demand(30000)] * 0, [79511] * 8)
    assert not packs([Demand(40000, 4)] * 2 + [Demand(40000)], [79511] * 8)
