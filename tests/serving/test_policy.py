"""The eviction policy as a pure function: no process, no clock, no socket."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gpuplan.serving.policy import (
    Budget,
    Requested,
    Resident,
    co_residence_limit,
    effective_gpu_capacity,
    evict_all_others,
    eviction_order,
    expired,
    plan_load,
)


def resident(name: str, **kw) -> Resident:
    defaults = {"vram_mb": 1000, "idle_seconds": 10.0, "keep_alive_seconds": 300}
    return Resident(name=name, **{**defaults, **kw})


def test_strategy_decides_co_residence() -> None:
    assert co_residence_limit("load_unload", 1) == 1
    assert co_residence_limit("load_unload", 3) == 1
    assert co_residence_limit("concurrent_limited", 2) == 2
    assert co_residence_limit("concurrent_full", 5) == 5


def test_load_unload_swaps_the_running_model() -> None:
    decision = plan_load(
        Requested(name="b", vram_mb=1000), [resident("a")], Budget(max_models=1, total_mb=14000)
    )
    assert decision.action == "load"
    assert decision.evict == ("a",)


def test_concurrent_keeps_both_when_they_fit() -> None:
    decision = plan_load(
        Requested(name="b", vram_mb=1000), [resident("a")], Budget(max_models=2, total_mb=14000)
    )
    assert (decision.action, decision.evict) == ("load", ())


def test_eviction_order_idle_then_keep_alive_left_then_priority() -> None:
    busy = resident("busy", busy=True, idle_seconds=0)
    short = resident("short", idle_seconds=290)  # 10 s left
    long_low = resident("long-low", idle_seconds=0, priority=10)  # 300 s left
    long_high = resident("long-high", idle_seconds=0, priority=90)
    forever = resident("forever", keep_alive_seconds=-1, idle_seconds=1000)
    pinned = resident("pinned", pinned=True, idle_seconds=10_000)
    order = eviction_order([busy, forever, long_high, pinned, long_low, short])
    assert [r.name for r in order] == ["short", "long-low", "long-high", "forever", "busy"]


def test_budget_evicts_only_as_many_as_needed_in_order() -> None:
    running = [
        resident("a", vram_mb=4000, idle_seconds=0, priority=80),
        resident("b", vram_mb=4000, idle_seconds=0, priority=20),
        resident("c", vram_mb=4000, idle_seconds=200),
    ]
    decision = plan_load(
        Requested(name="new", vram_mb=7000), running, Budget(max_models=5, total_mb=14000)
    )
    # 12000 + 7000 > 14000: evict c (least keep-alive left), then b (lower priority).
    assert decision.evict == ("c", "b")


def test_max_models_limit_evicts_one() -> None:
    running = [resident("a", idle_seconds=5), resident("b", idle_seconds=100)]
    decision = plan_load(Requested(name="c", vram_mb=10), running, Budget(max_models=2))
    assert decision.evict == ("b",)


def test_busy_model_is_waited_for_not_stopped() -> None:
    decision = plan_load(
        Requested(name="b", vram_mb=1000), [resident("a", busy=True)], Budget(max_models=1)
    )
    assert decision.action == "wait"
    assert "a" in decision.reason


def test_pinned_is_never_evicted_and_a_hopeless_request_is_refused() -> None:
    decision = plan_load(
        Requested(name="b", vram_mb=1000),
        [resident("a", pinned=True)],
        Budget(max_models=1),
    )
    assert decision.action == "refuse"
    assert "pinned a" in decision.reason


def test_too_big_for_the_budget_is_refused_with_numbers() -> None:
    decision = plan_load(
        Requested(name="big", vram_mb=20000), [], Budget(max_models=1, total_mb=14000)
    )
    assert decision.action == "refuse"
    assert "20000 MiB > the budget of 14000 MiB" in decision.reason


def test_each_gpu_capacity_is_respected_not_only_the_sum() -> None:
    budget = Budget(max_models=4, total_mb=40000, gpu_capacity_mb={0: 22000, 1: 22000})
    on0 = resident("on0", gpus=(0,), vram_mb=20000)
    # fits on GPU 1 without evicting anything; GPU 0 would need on0 gone
    decision = plan_load(Requested(name="x", vram_mb=10000, options=((0,), (1,))), [on0], budget)
    assert (decision.action, decision.gpus, decision.evict) == ("load", (1,), ())
    pinned_to_0 = plan_load(Requested(name="x", vram_mb=10000, options=((0,),)), [on0], budget)
    assert (pinned_to_0.gpus, pinned_to_0.evict) == ((0,), ("on0",))


def test_a_model_on_another_gpu_is_not_evicted_for_a_per_gpu_shortage() -> None:
    budget = Budget(max_models=4, gpu_capacity_mb={0: 10000, 1: 10000})
    running = [
        resident("on1", gpus=(1,), vram_mb=9000, idle_seconds=299),
        resident("on0", gpus=(0,), vram_mb=9000, idle_seconds=0),
    ]
    decision = plan_load(Requested(name="x", vram_mb=5000, options=((0,),)), running, budget)
    assert decision.evict == ("on0",)


def test_tensor_parallel_request_charges_each_gpu_its_share() -> None:
    budget = Budget(max_models=4, gpu_capacity_mb={0: 10000, 1: 10000})
    running = [resident("on1", gpus=(1,), vram_mb=4000)]
    decision = plan_load(Requested(name="tp", vram_mb=12000, options=((0, 1),)), running, budget)
    assert decision.action == "load" and decision.evict == ()
    decision = plan_load(Requested(name="tp", vram_mb=14000, options=((0, 1),)), running, budget)
    assert decision.evict == ("on1",)


def test_live_nvml_memory_of_other_processes_counts() -> None:
    room = effective_gpu_capacity({0: 22000, 1: 22000}, {0: 9000, 1: 500}, {0: 8000})
    assert room == {0: 21000, 1: 21500}
    assert effective_gpu_capacity({0: 22000}, None, {0: 8000}) == {0: 22000}


def test_expiry_and_zero_keep_alive() -> None:
    running = [
        resident("old", idle_seconds=301),
        resident("zero", keep_alive_seconds=0, idle_seconds=0),
        resident("fresh", idle_seconds=1),
        resident("forever", keep_alive_seconds=-1, idle_seconds=99999),
        resident("pinned", pinned=True, idle_seconds=99999),
        resident("busy", busy=True, idle_seconds=99999),
    ]
    assert expired(running) == ["old", "zero"]


def test_retry_evicts_every_idle_unpinned_other() -> None:
    running = [resident("a"), resident("b", pinned=True), resident("c", busy=True), resident("x")]
    assert evict_all_others("x", running) == ("a",)


names = st.sampled_from(["a", "b", "c", "d", "e", "f"])
residents = st.lists(
    st.builds(
        Resident,
        name=names,
        gpus=st.sampled_from([(), (0,), (1,), (0, 1)]),
        vram_mb=st.integers(0, 30000),
        busy=st.booleans(),
        idle_seconds=st.floats(0, 1000),
        keep_alive_seconds=st.integers(-1, 600),
        pinned=st.booleans(),
        priority=st.integers(0, 100),
    ),
    unique_by=lambda r: r.name,
    max_size=5,
)


@given(
    running=residents,
    vram=st.integers(0, 30000),
    max_models=st.integers(1, 5),
    total=st.none() | st.integers(0, 60000),
    options=st.sampled_from([((),), ((0,),), ((0,), (1,)), ((0, 1),)]),
)
def test_a_load_never_breaks_the_budget_nor_touches_pinned_or_busy(
    running, vram, max_models, total, options
) -> None:
    budget = Budget(max_models=max_models, total_mb=total, gpu_capacity_mb={0: 24000, 1: 24000})
    requested = Requested(name="new", vram_mb=vram, options=options)
    decision = plan_load(requested, running, budget)
    by_name = {r.name: r for r in running}
    if decision.action != "load":
        return
    assert all(not by_name[n].pinned and not by_name[n].busy for n in decision.evict)
    kept = [r for r in running if r.name not in decision.evict]
    assert len(kept) + 1 <= max_models
    if total is not None:
        assert sum(r.vram_mb for r in kept) + vram <= total
    for index in decision.gpus:
        share = -(-vram // len(decision.gpus))
        assert sum(r.per_gpu_mb() for r in kept if index in r.gpus) + share <= 24000
