"""No stranded VRAM: on hardware seed 000 does not name, the budget is the real usable VRAM.

DESIGN.md: the seeds' thresholds put an 80 GB H100 into a 22 GB profile. On these
cards auto-selection must leave no more than the headroom unused and say why.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuplan.hardware.model import GPU, Host
from gpuplan.profiles import explain, render_text, resolve

BIG = ["H100-80GB", "A100-80GB", "H200", "MI300X", "8x H100-80GB"]


@pytest.mark.parametrize("spec", BIG)
@pytest.mark.parametrize("headroom", [None, 4096])
def test_budget_leaves_only_the_headroom(host, builtins, spec, headroom):
    machine = host(spec, headroom)
    resolution = resolve(machine, builtins)
    total = sum(gpu.vram_total_mb or 0 for gpu in machine.gpus)
    budget = resolution.profile.max_vram_mb
    assert budget is not None
    unused = total - budget
    assert 0 <= unused <= machine.headroom_mb_per_gpu * machine.gpu_count
    assert budget == machine.total_usable_vram_mb
    assert resolution.name == f"dynamic_{budget // 1024}gb"


@pytest.mark.parametrize("spec", BIG)
def test_explanation_says_why(host, builtins, spec):
    machine = host(spec)
    resolution = resolve(machine, builtins)
    text = render_text(explain(resolution, machine))
    assert resolution.auto is not None and resolution.auto.dynamic
    assert f"calls for {resolution.auto.rule_profile}" in text
    assert "unused, more than 10%" in text or "more than the" in text
    assert f"derives {resolution.name} from the real usable VRAM" in text
    assert f"preferences borrowed from {resolution.auto.borrowed_from}" in text
    row = resolution.provenance["max_vram_mb"]
    assert row.origin.kind == "rule" and "all usable VRAM" in row.origin.label


def test_h100_borrows_from_generous(host, builtins):
    resolution = resolve(host("H100-80GB"), builtins)
    profile = resolution.profile
    assert resolution.auto is not None and resolution.auto.borrowed_from == "generous_96gb"
    assert profile.preferred_quantizations == ("fp8", "awq", "bf16", "fp16")
    assert profile.model_selection_bias == "quality"
    # 5 models in 90000 MiB keeps ~18000 MiB per model: 79511 MiB holds 4
    assert profile.max_concurrent_models == 4
    assert profile.strategy == "concurrent_full"


def test_two_similar_cards_borrow_a_two_gpu_profile(host, builtins):
    resolution = resolve(host("2x RTX 4090"), builtins)
    assert resolution.name == "dynamic_43gb"
    assert resolution.auto is not None and resolution.auto.borrowed_from == "multi_gpu_2x16gb"
    assert resolution.profile.strategy == "tensor_parallel_or_distributed"
    assert resolution.profile.tensor_parallel_threshold_mb == 12000
    assert resolution.profile.gpu_count == 2


def test_overcommitting_named_profile_becomes_dynamic(host, builtins):
    """GTX 1080 Ti: development's 10000 MiB exceed its 9216 usable MiB."""
    resolution = resolve(host("GTX 1080 Ti"), builtins)
    assert resolution.profile.max_vram_mb == 11264 - 2048
    assert resolution.auto is not None and "overcommit" in resolution.auto.fit.reason  # type: ignore[union-attr]
    assert resolution.profile.strategy == "load_unload"


def test_cpu_only_keeps_development(host, builtins):
    resolution = resolve(host("cpu"), builtins)
    assert resolution.name == "development"
    assert resolution.profile.max_vram_mb == 10000


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(min_value=2048, max_value=300_000), min_size=1, max_size=8),
    st.sampled_from([0, 1024, 2048, 4096]),
)
def test_auto_never_overcommits_nor_strands(builtins, totals, headroom):
    gpus = tuple(
        GPU(index=i, name=f"gpu{i}", vendor="nvidia", vram_total_mb=mb, compute_capability="8.0")
        for i, mb in enumerate(totals)
    )
    machine = Host(source="declared", gpus=gpus, headroom_mb_per_gpu=headroom)
    resolution = resolve(machine, builtins)
    auto = resolution.auto
    assert auto is not None and auto.fit is not None
    basis = auto.fit.basis_mb
    budget = resolution.profile.max_vram_mb
    assert budget is not None
    assert budget <= basis
    assert basis - budget <= 0.10 * basis
    assert resolution.profile.max_concurrent_models >= 1
