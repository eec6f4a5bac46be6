"""Each strategy on seed-like machines: where things go, and the reason given."""

from __future__ import annotations

import pytest

from gpuplan.errors import PlacementError
from gpuplan.hardware import GPU, Host, MigDevice, load_host
from gpuplan.placement import Placement, Service, place


def svc(name: str, mib: int, **extra: object) -> Service:
    return Service(name=name, vram_mb=mib, **extra)


def where(placement: Placement) -> dict[str, tuple[int, ...]]:
    return {a.service: a.gpu_indices for a in placement.assignments}


def mig_h100() -> Host:
    """An H100 with three 1g.10gb and one 3g.40gb instance, next to a whole H100."""
    slices = (
        *(MigDevice(index=i, profile="1g.10gb", vram_total_mb=9984, gpu_instance_id=9 + i)
        for i in range(3)),
        MigDevice(index=3, profile="3g.40gb", vram_total_mb=40192, gpu_instance_id=2),
    )  # fmt: skip
    return Host(
        source="declared",
        gpus=(
            GPU(index=0, name="NVIDIA H100 80GB HBM3", vram_total_mb=81559, mig_mode=True,
                mig_devices=slices),
            GPU(index=1, name="NVIDIA H100 80GB HBM3", vram_total_mb=81559),
        ),
    )  # fmt: skip


def test_manual_names_every_unpinned_service() -> None:
    host = load_host("2x RTX 4090")
    with pytest.raises(PlacementError, match="not pinned: b, c"):
        place([svc("a", 100, gpu=0), svc("b", 100), svc("c", 100)], host, strategy="manual")
    with pytest.raises(PlacementError, match="pinned to GPU 5"):
        place([svc("a", 100, gpu=5)], host, strategy="manual")
    with pytest.raises(PlacementError, match="unknown placement strategy"):
        place([svc("a", 100)], host, strategy="fastest")


def test_vram_based_on_two_4090s_alternates_largest_first() -> None:
    host = load_host("2x RTX 4090")
    services = [svc("small", 2000), svc("big", 15000), svc("mid", 6000), svc("tiny", 500)]
    placement = place(services, host, strategy="vram_based")
    assert where(placement) == {"big": (0,), "mid": (1,), "small": (1,), "tiny": (1,)}
    assert "most free memory" in placement.assignments[1].reason
    assert not placement.warnings


def test_latency_optimized_puts_the_critical_path_on_the_fastest_gpu() -> None:
    host = load_host("RTX 3090, RTX 4090, RTX A4000")  # 936, 1008, 448 GB/s
    services = [
        svc("llm", 12000, role="llm"),
        svc("detector", 1000, latency_sensitive=True),
        svc("batch-a", 3000),
        svc("batch-b", 2000),
    ]
    placement = place(services, host, strategy="latency_optimized")
    got = where(placement)
    assert got["llm"] == (1,) and got["detector"] == (1,)  # the 4090 is fastest
    assert got["batch-a"] != (1,) and got["batch-b"] != (1,)  # away from it
    assert "1,008 GB/s" in placement.assignments[0].reason


def test_isolation_first_gives_the_llm_the_largest_gpu_alone() -> None:
    host = load_host("RTX 4090, RTX A6000, RTX 4080")  # 24, 48, 16 GB
    services = [svc("llm", 30000, role="chat"), svc("a", 8000), svc("b", 6000), svc("c", 1000)]
    placement = place(services, host, strategy="isolation_first")
    assert where(placement)["llm"] == (1,)
    assert placement.gpus[1].services == ("llm",)
    # with a single GPU everything shares it, and says so
    single = place(services[:2], load_host("RTX A6000"), strategy="isolation_first")
    assert "only one GPU" in single.assignments[1].reason


def test_balanced_minimises_the_largest_utilisation_on_mixed_sizes() -> None:
    host = load_host("RTX A5500, RTX A400")  # 22516 and 3582 MiB usable
    services = [svc(f"s{i}", mib) for i, mib in enumerate((9000, 7000, 5000, 2000, 1000))]
    placement = place(services, host, strategy="balanced")
    assert placement.solver is not None and "optimal" in placement.solver
    peak = max(g.used_mb / g.usable_mb for g in placement.gpus)
    assert peak == pytest.approx(21000 / 22516, abs=1e-9) or peak < 21000 / 22516
    # the optimum: 3000 of the 24000 MiB on the small card (2000 + 1000) → 21000 / 22516
    assert sorted(placement.gpus[1].services) == ["s3", "s4"]


def test_eight_h100s_tensor_parallel_prefers_nvlink_groups() -> None:
    host = load_host("8x H100-80GB")
    host = host.model_copy(update={"nvlink_groups": ((0, 1, 2, 3), (4, 5, 6, 7))})
    services = [svc("llama-405b", 4 * 70000, role="llm", tensor_parallel_sizes=(1, 2, 4, 8))]
    services += [svc(f"embed-{i}", 3000) for i in range(3)]
    for strategy in ("vram_based", "latency_optimized", "isolation_first", "balanced"):
        placement = place(services, host, strategy=strategy)
        big = placement.assignments[0]
        assert len(big.gpu_indices) == 4, strategy
        assert set(big.gpu_indices) in ({0, 1, 2, 3}, {4, 5, 6, 7}), (strategy, big.gpu_indices)
        assert "tensor parallel over 4 GPUs" in big.reason
        assert big.vram_budget_mb == 280000
    # heads that 4 does not divide: the engine needs 8
    odd = [svc("odd", 4 * 70000, tensor_parallel_sizes=(1, 2, 8))]
    assert len(place(odd, host).assignments[0].gpu_indices) == 8


def test_tensor_parallel_threshold_splits_large_models() -> None:
    host = load_host("2x RTX 4080")  # seed 000's multi_gpu_2x16gb, threshold 12000
    services = [svc("big", 13000), svc("small", 3500)]
    placement = place(services, host, strategy="vram_based", tensor_parallel_threshold_mb=12000)
    assert placement.assignments[0].gpu_indices == (0, 1)
    assert "tensor_parallel_threshold_mb" in placement.assignments[0].reason
    assert place(services, host).assignments[0].gpu_indices in ((0,), (1,))


def test_mig_slices_are_devices_and_never_spanned() -> None:
    host = mig_h100()
    services = [svc("a", 7000), svc("b", 7000), svc("c", 30000), svc("huge", 150000)]
    placement = place(services, host, strategy="vram_based")
    got = {a.service: a for a in placement.assignments}
    assert got["a"].mig_device is not None or got["a"].gpu_indices == (1,)
    assert got["c"].gpu_indices in ((0,), (1,))
    # 150000 MiB fits no device, and TP may not use slices: it stays on one device, warned
    assert len(got["huge"].gpu_indices) == 1
    assert any("huge budget" in w for w in placement.warnings)
    assert placement.gpus[0].usable_mb == 3 * (9984 - 2048) + (40192 - 2048)


def test_on_free_plans_on_memory_free_now() -> None:
    host = load_host("2x RTX 4090")
    busy = host.gpus[0].model_copy(update={"vram_free_mb": 4000, "vram_used_mb": 20564})
    host = host.model_copy(update={"gpus": (busy, host.gpus[1])})
    services = [svc("a", 12000), svc("b", 3000)]
    total = place(services, host, on="total")
    free = place(services, host, on="free")
    assert free.gpus[0].usable_mb == 4000 and total.gpus[0].usable_mb == 22516
    assert where(free)["a"] == (1,)
    unknown = host.gpus[1].model_copy(update={"vram_free_mb": None})
    declared = place(services, host.model_copy(update={"gpus": (unknown,)}), on="free")
    assert any("does not report its free memory" in w for w in declared.warnings)


def test_pins_win_in_every_strategy() -> None:
    host = load_host("4x RTX 4090")
    services = [svc("a", 20000, gpu=3), svc("b", 20000, gpu=3), svc("c", 1000)]
    for strategy in ("manual", "vram_based", "latency_optimized", "isolation_first", "balanced"):
        manual = strategy == "manual"
        services_here = [*services[:2], svc("c", 1000, gpu=0)] if manual else services
        placement = place(services_here, host, strategy=strategy)
        assert where(placement)["a"] == (3,) and where(placement)["b"] == (3,), strategy
        assert "pinned to GPU 3" in placement.assignments[0].reason


def test_a_cpu_host_places_nothing_and_says_so() -> None:
    placement = place([svc("a", 100)], load_host("cpu"))
    assert placement.assignments[0].gpu_indices == () and placement.gpus == ()
    assert any("No GPUs detected" in w for w in placement.warnings)


def test_repair_moves_the_fewest_services_when_greedy_overfills() -> None:
    # largest-first onto most free memory strands 9000: 10000 → A, 8000 → B, 7000 → B
    host = Host(
        source="declared",
        gpus=(
            GPU(index=0, name="x", vram_total_mb=19000 + 2048),
            GPU(index=1, name="y", vram_total_mb=15000 + 2048),
        ),
    )
    services = [svc("a", 10000), svc("b", 8000), svc("c", 7000), svc("d", 9000)]
    placement = place(services, host, strategy="vram_based")
    assert all(g.used_mb <= g.usable_mb for g in placement.gpus)
    assert placement.solver is not None and "moved to fit" in placement.solver
    assert any(a.reason.startswith("moved to fit") for a in placement.assignments)
