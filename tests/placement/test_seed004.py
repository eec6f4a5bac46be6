"""Seed 004's reference machine and services: its warnings, its texts, its 3.5 GB budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpuplan.hardware import load_host
from gpuplan.hardware.model import device_headroom_mb
from gpuplan.placement import STRATEGIES, Assignment, Placement, place
from gpuplan.placement.services import load_services
from gpuplan.placement.validate import gb

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "seed004-services.yml"


@pytest.fixture
def reference():
    return load_services(EXAMPLE), load_host("RTX A5500, RTX A400")


def by_name(placement: Placement) -> dict[str, Assignment]:
    return {a.service: a for a in placement.assignments}


def test_the_example_file_has_seed_004s_five_services_and_figures(reference) -> None:
    services, _ = reference
    figures = {s.name: s.budget_mb for s in services}
    # seed 004 "Model VRAM Estimates", GB read as GiB
    assert figures == {
        "ai-llm": 22221,  # ~21.7 GB
        "ai-yolo26": 650,  # ~650 MB
        "ai-florence": 1536,  # ~1.5 GB
        "ai-clip": 1229,  # ~1.2 GB
        "ai-enrichment": 6963,  # ~6.8 GB budget
    }
    assert [gb(figures[n]) for n in figures] == ["21.7 GB", "650 MB", "1.5 GB", "1.2 GB", "6.8 GB"]


def test_vram_based_gives_the_seeds_layout_warnings_and_3_5_gb_budget(reference) -> None:
    services, host = reference
    placement = place(services, host, strategy="vram_based")
    got = by_name(placement)
    # seed 004's config file: ai-llm and ai-yolo26 on 0, ai-enrichment on 1 at 3.5
    assert got["ai-llm"].gpu_indices == (0,)
    assert got["ai-yolo26"].gpu_indices == (0,)
    assert got["ai-enrichment"].gpu_indices == (1,)
    enrichment = got["ai-enrichment"]
    assert enrichment.budget_adjusted and gb(enrichment.vram_budget_mb) == "3.5 GB"
    assert enrichment.vram_budget_mb == 4094 - device_headroom_mb(4094, 2048) == 3582
    # seed 004's API response text, exactly
    assert (
        "ai-enrichment VRAM budget (6.8 GB) exceeds GPU 1 (4 GB). Auto-adjusted to 3.5 GB."
        in placement.warnings
    )
    assert "Combined VRAM (~25 GB) exceeds GPU 0 capacity (24 GB)" in placement.warnings


def test_manual_pins_give_the_seeds_llm_on_small_gpu_warning(reference) -> None:
    services, host = reference
    pinned = [s.model_copy(update={"gpu": 1 if s.name == "ai-llm" else 0}) for s in services]
    placement = place(pinned, host, strategy="manual")
    assert by_name(placement)["ai-llm"].gpu_indices == (1,)
    assert "nemotron-3-nano-30b-a3b requires ~21.7 GB, GPU 1 only has 4 GB" in placement.warnings
    assert not any(w.startswith("Combined VRAM") for w in placement.warnings)  # alone there
    both = [
        s.model_copy(update={"gpu": 1 if s.name in ("ai-llm", "ai-yolo26") else 0})
        for s in services
    ]
    placement = place(both, host, strategy="manual")
    assert "Combined VRAM (~22.3 GB) exceeds GPU 1 capacity (4 GB)" in placement.warnings


def test_a_fixed_model_over_its_gpu_is_warned_not_adjusted(reference) -> None:
    services, host = reference
    pinned = [s.model_copy(update={"gpu": 1 if s.name == "ai-florence" else 0}) for s in services]
    big = [s.model_copy(update={"vram_mb": 5120}) if s.name == "ai-florence" else s for s in pinned]
    placement = place(big, host, strategy="manual")
    florence = by_name(placement)["ai-florence"]
    assert not florence.budget_adjusted and florence.vram_budget_mb == 5120
    assert "ai-florence budget (5 GB) exceeds GPU 1 (4 GB)" in placement.warnings


@pytest.mark.parametrize("strategy", [s for s in STRATEGIES if s != "manual"])
def test_every_strategy_places_every_service_with_a_reason(reference, strategy: str) -> None:
    services, host = reference
    placement = place(services, host, strategy=strategy)
    assert [a.service for a in placement.assignments] == [s.name for s in services]
    assert all(a.gpu_indices and a.reason for a in placement.assignments)
    assert placement.solver


def test_isolation_first_keeps_the_llm_alone(reference) -> None:
    services, host = reference
    placement = place(services, host, strategy="isolation_first")
    assert placement.gpus[0].services == ("ai-llm",)
    assert "alone on the largest GPU" in by_name(placement)["ai-llm"].reason


def test_headroom_rule_keeps_seed_000_figures() -> None:
    # every card of 3 x headroom or more keeps exactly the configured headroom
    for total in (6144, 8192, 9984, 11264, 12288, 16376, 16384, 24564, 81559, 98304):
        assert device_headroom_mb(total, 2048) == 2048
    assert device_headroom_mb(4094, 2048) == 512
    assert device_headroom_mb(4094, 0) == 0
    sizes = range(0, 20000, 7)
    usable = [t - device_headroom_mb(t, 2048) for t in sizes]
    assert usable == sorted(usable)  # monotonic in the device's size


def test_auto_adjust_below_the_floor_says_the_zoo_cannot_serve() -> None:
    from pathlib import Path

    from gpuplan.hardware import load_host
    from gpuplan.placement import place
    from gpuplan.placement.services import load_services

    example = Path(__file__).resolve().parents[2] / "examples" / "seed004-services.yml"
    placement = place(
        load_services(example), load_host("RTX A5500, RTX A400"), strategy="isolation_first"
    )
    adjusted = [w for w in placement.warnings if w.startswith("ai-enrichment VRAM budget")]
    assert len(adjusted) == 1
    assert "Auto-adjusted to 167 MB: too small for any of its models" in adjusted[0]
    assert "cannot serve there" in adjusted[0]
    summary = [w for w in placement.warnings if w.startswith("services ask ")]
    assert summary == ["services ask 31.8 GB; this host has 25.5 GB usable"]


def test_an_adjusted_budget_above_the_floor_keeps_the_seeds_words() -> None:
    from gpuplan.hardware import load_host
    from gpuplan.placement import Service, place

    zoo = Service(name="zoo", models=("a", "b"), vram_mb=6963, gpu=1, min_vram_mb=700)
    placement = place([zoo], load_host("RTX A5500, RTX A400"), strategy="vram_based")
    (warning,) = [w for w in placement.warnings if w.startswith("zoo VRAM")]
    assert warning.endswith("Auto-adjusted to 3.5 GB.")
    tight = zoo.model_copy(update={"min_vram_mb": 4000})
    placement = place([tight], load_host("RTX A5500, RTX A400"), strategy="vram_based")
    (warning,) = [w for w in placement.warnings if w.startswith("zoo VRAM")]
    assert "too small for any of its models (the smallest needs ~3.9 GB)" in warning
    assert not any(w.startswith("services ask") for w in placement.warnings)
