"""Tensor-parallel sets: engines split evenly, so every rank must hold the per-rank share."""

from __future__ import annotations

import pytest

from gpuplan.errors import PlacementError
from gpuplan.hardware import load_host
from gpuplan.placement import STRATEGIES, Service, place


def big(**extra: object) -> Service:
    return Service(name="big", vram_mb=23_081, gpus_needed=2, role="llm", **extra)


@pytest.mark.parametrize("strategy", [s for s in STRATEGIES if s != "manual"])
def test_no_strategy_spans_a_card_smaller_than_the_share(strategy: str) -> None:
    host = load_host("RTX A400, 2x RTX 4090")
    placement = place([big()], host, strategy=strategy)
    assert placement.assignments[0].gpu_indices == (1, 2)
    assert not any("tensor parallel" in w for w in placement.warnings)


@pytest.mark.parametrize("strategy", [s for s in STRATEGIES if s != "manual"])
def test_without_an_even_set_it_is_not_placed_and_said_so(strategy: str) -> None:
    host = load_host("RTX A5500, RTX A400")
    placement = place([big()], host, strategy=strategy)
    (assignment,) = placement.assignments
    assert assignment.gpu_indices == ()
    assert assignment.reason.startswith("not placed: tensor parallel over 2 GPUs")
    assert any(
        w.startswith("big is not placed: tensor parallel over 2 GPUs needs 11.3 GB")
        for w in placement.warnings
    ), placement.warnings
    assert all(fill.used_mb <= fill.usable_mb for fill in placement.gpus)


def test_a_pin_onto_a_small_card_is_allowed_but_warned() -> None:
    host = load_host("RTX A400, 2x RTX 4090")
    placement = place([big(gpu=0)], host, strategy="vram_based")
    assert placement.assignments[0].gpu_indices[0] == 0
    assert any(
        "tensor parallel splits it evenly (11.3 GB per GPU), but GPU 0" in w
        and "it is pinned there" in w
        for w in placement.warnings
    ), placement.warnings


def test_more_gpus_than_the_host_has_is_an_error_naming_both() -> None:
    host = load_host("RTX A5500, RTX A400")
    with pytest.raises(PlacementError, match=r"gpus: 64, but this host has 2 GPUs") as caught:
        place([Service(name="big", vram_mb=1000, gpus_needed=64)], host)
    assert "at most 2" in (caught.value.hint or "")
