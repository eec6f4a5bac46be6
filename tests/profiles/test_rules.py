"""Seed 000's and seed 001's detection table, on declared hardware.

Each row names the hardware, the seed 000 rule that must match, the profile the
rule names, and the profile gpuplan finally uses (the same one, unless keeping
it would strand or overcommit VRAM, when it is ``dynamic_<N>gb``).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuplan.hardware.model import GPU, Host
from gpuplan.profiles import load_rules, resolve
from gpuplan.profiles.rules import match_engine_rule, match_profile_rule, measure

RULES = load_rules()

DETECTION_TABLE = [
    # spec, seed 000 rule, profile the rule names, profile gpuplan uses
    ("RTX 4080", "single-gpu-16gb", "constrained_16gb", "constrained_16gb"),
    ("RTX 4080 @ 16GB", "single-gpu-16gb", "constrained_16gb", "constrained_16gb"),
    ("RTX 4060 Ti 16GB", "single-gpu-16gb", "constrained_16gb", "constrained_16gb"),
    ("RTX 4090", "single-gpu-24gb", "balanced_24gb", "balanced_24gb"),
    ("RTX A5000", "single-gpu-24gb", "balanced_24gb", "balanced_24gb"),
    ("2x RTX 4080", "two-similar-gpus", "multi_gpu_2x16gb", "multi_gpu_2x16gb"),
    ("RTX 6000 Pro", "single-gpu-96gb", "generous_96gb", "generous_96gb"),
    ("RTX 3060 12GB", "single-gpu-small", "development", "development"),
    ("cpu", "no-gpu", "development", "development"),
    # mismatched pair (seed 004's machine): seed 000 sizes on GPU 0
    ("RTX A5500, RTX A400", "mismatched-pair-24gb", "balanced_24gb", "balanced_24gb"),
    ("RTX 4080, RTX 3060", "mismatched-pair-16gb", "constrained_16gb", "constrained_16gb"),
    ("RTX A400, RTX A5500", "mismatched-pair-small", "development", "dynamic_21gb"),
    # two similar small cards
    ("2x Quadro RTX 4000", "two-similar-small-gpus", "development", "dynamic_12gb"),
    # 3+ GPUs: seed 000's total-VRAM branch
    ("4x RTX 4090", "many-gpus-60gb", "generous_96gb", "generous_96gb"),
    ("3x RTX 4090", "many-gpus-60gb", "generous_96gb", "dynamic_65gb"),
    ("3x RTX 4080", "many-gpus-40gb", "balanced_24gb", "dynamic_41gb"),
    ("3x RTX 3060", "many-gpus-small", "constrained_16gb", "dynamic_30gb"),
    # hardware seed 000 does not name: a dynamic profile instead of stranded VRAM
    ("H100-80GB", "single-gpu-24gb", "balanced_24gb", "dynamic_77gb"),
    ("H200", "single-gpu-96gb", "generous_96gb", "dynamic_138gb"),
    ("GTX 1080 Ti", "single-gpu-small", "development", "dynamic_9gb"),
]


@pytest.mark.parametrize(("spec", "rule_id", "rule_profile", "final"), DETECTION_TABLE)
def test_detection_table(host, builtins, spec, rule_id, rule_profile, final):
    resolution = resolve(host(spec), builtins)
    assert resolution.auto is not None
    assert resolution.auto.rule_id == rule_id
    assert resolution.auto.rule_profile == rule_profile
    assert resolution.name == final
    assert resolution.selection.by == "auto"
    assert resolution.manual_override is None


@pytest.mark.parametrize(
    ("total_mb", "expected"),
    [(16376, "constrained_16gb"), (16384, "constrained_16gb"), (24564, "balanced_24gb")],
)
def test_seed_000_compares_usable_not_total(total_mb, expected):
    """16384 − 2048 = 14336 ≥ 14000: a 16 GB card is constrained_16gb, not development."""
    gpu = GPU(index=0, name="card", vendor="nvidia", vram_total_mb=total_mb)
    facts = measure(Host(source="declared", gpus=(gpu,)), RULES.capabilities)
    rule = match_profile_rule(facts, RULES)
    assert rule is not None and rule.profile == expected


def test_seed_001_example_usable_vram(host):
    """Seed 001's response: 16384 MiB with 2 GB headroom → 14336 usable."""
    assert host("RTX 4080 @ 16GB").total_usable_vram_mb == 14336


def test_mismatched_pair_is_explained(host, builtins):
    resolution = resolve(host("RTX A5500, RTX A400"), builtins)
    assert resolution.auto is not None
    text = " ".join(resolution.auto.notes)
    # The headroom rule keeps 7/8 of a 4 GB card (seed 004's 3.5 GB), not 4094 - 2048.
    assert "GPU 1" in text and "RTX A400" in text and "3582 MiB usable" in text
    assert "not split across GPUs of unequal size" in text
    assert resolution.profile.max_vram_mb == 22000


def test_mismatched_pair_small_card_first_is_explained(host, builtins):
    resolution = resolve(host("RTX A400, RTX A5500"), builtins)
    assert resolution.auto is not None
    assert resolution.profile.max_vram_mb == 24564 - 2048
    assert any("looks only at GPU 0" in note for note in resolution.auto.notes)


ENGINE_TABLE = [
    ("cpu", "no-cuda", "edge_cpu_int8"),
    ("8x H100-80GB", "four-or-more-gpus", "cloud_gpu_tp4_fp16"),
    ("4x RTX 4090", "four-or-more-gpus", "cloud_gpu_tp4_fp16"),
    ("H100-80GB", "ampere-single-gpu", "onprem_gpu_bf16_flash"),
    ("RTX 4060", "ampere-single-gpu", "onprem_gpu_bf16_flash"),
    ("MI300X", "ampere-single-gpu", "onprem_gpu_bf16_flash"),
    ("RTX 2080 Super", "low-memory-gpu", "gpu_4bit"),
    ("GTX 1080 Ti", "other-gpu", "gpu_8bit"),
    ("2x RTX 4090", "other-gpu", "gpu_8bit"),
]


@pytest.mark.parametrize(("spec", "rule_id", "profile"), ENGINE_TABLE)
def test_seed_002_engine_heuristics(host, builtins, spec, rule_id, profile):
    resolution = resolve(host(spec), builtins)
    assert resolution.auto is not None
    assert (resolution.auto.engine_rule_id, resolution.auto.engine_profile) == (rule_id, profile)
    expected = dict(builtins.layers(profile)[0].data["engine"])
    if spec == "MI300X":  # ROCm has no TF32 or cuDNN knobs
        expected.update(allow_tf32=False, cudnn_benchmark=False)
    engine = resolution.profile.engine.model_dump(exclude_none=True)
    assert {k: engine[k] for k in expected} == expected
    assert resolution.provenance["engine.tensor_parallel_size"].origin.kind == "rule"


def test_an_amd_gpu_is_not_called_ampere(host, builtins):
    resolution = resolve(host("MI300X"), builtins)
    assert resolution.auto is not None and resolution.auto.engine_reason is not None
    assert "AMD gfx942" in resolution.auto.engine_reason
    assert "compute capability unknown" not in resolution.auto.engine_reason


def test_engine_rule_falls_back_to_cpu_profile_without_edge(host, builtins):
    from gpuplan.profiles import Catalog

    without_edge = Catalog(tuple(e for e in builtins.entries if e.name != "edge_cpu_int8"))
    facts = measure(host("cpu"), RULES.capabilities)
    found = match_engine_rule(facts, RULES, frozenset(without_edge.names()))
    assert found is not None and found[1] == "cpu"


def seed_000_recommend_profile(totals: list[int]) -> str:
    """Seed 000's ``GPUDetector.recommend_profile``, transcribed literally as the oracle."""
    if not totals:
        return "development"
    gpu_count = len(totals)
    total_vram = sum(totals)
    usable_vram = total_vram - 2048 * gpu_count
    if gpu_count == 1:
        if usable_vram >= 85000:
            return "generous_96gb"
        elif usable_vram >= 20000:
            return "balanced_24gb"
        elif usable_vram >= 14000:
            return "constrained_16gb"
        else:
            return "development"
    elif gpu_count == 2:
        vram_variance = max(totals) / min(totals)
        if vram_variance < 1.2:
            avg_vram = total_vram / gpu_count
            if avg_vram >= 14000:
                return "multi_gpu_2x16gb"
            else:
                return "development"
        else:
            primary_vram = totals[0] - 2048
            if primary_vram >= 20000:
                return "balanced_24gb"
            elif primary_vram >= 14000:
                return "constrained_16gb"
            else:
                return "development"
    else:
        if usable_vram >= 60000:
            return "generous_96gb"
        elif usable_vram >= 40000:
            return "balanced_24gb"
        else:
            return "constrained_16gb"


vram = st.one_of(
    st.integers(min_value=1, max_value=200_000),
    st.sampled_from([4094, 8192, 12288, 13999, 14000, 16376, 16384, 22047, 22048, 24564, 97887]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(vram, min_size=0, max_size=9))
def test_data_rules_reproduce_seed_000_code(totals):
    gpus = tuple(
        GPU(index=i, name="gpu", vendor="nvidia", vram_total_mb=mb) for i, mb in enumerate(totals)
    )
    facts = measure(Host(source="declared", gpus=gpus), RULES.capabilities)
    rule = match_profile_rule(facts, RULES)
    assert rule is not None
    assert rule.profile == seed_000_recommend_profile(totals)


def test_average_is_seed_000s_float_average():
    """avg_vram is a float in seed 000; 13999.5 must stay under 14000."""
    gpus = (
        GPU(index=0, name="a", vendor="nvidia", vram_total_mb=13999),
        GPU(index=1, name="b", vendor="nvidia", vram_total_mb=14000),
    )
    facts = measure(Host(source="declared", gpus=gpus), RULES.capabilities)
    assert not math.isclose(facts.average_vram_mb, 14000)
    rule = match_profile_rule(facts, RULES)
    assert rule is not None and rule.profile == "development"


def _mig_host(gpus: int, slices: int) -> Host:
    """``gpus`` H100s, each split into ``slices`` 1g.10gb instances (NVML's 9984 MiB)."""
    from gpuplan.hardware.model import MigDevice

    devices = tuple(
        MigDevice(index=i, profile="1g.10gb", vram_total_mb=9984, gpu_instance_id=i + 7)
        for i in range(slices)
    )
    return Host(
        source="declared",
        gpus=tuple(
            GPU(
                index=g, name="NVIDIA H100 80GB HBM3", vendor="nvidia", vram_total_mb=81559,
                compute_capability="9.0", mig_mode=True, mig_devices=devices,
            )
            for g in range(gpus)
        ),
    )  # fmt: skip


@pytest.mark.parametrize(("gpus", "rule_id"), [(1, "many-gpus-40gb"), (8, "many-gpus-60gb")])
def test_mig_slices_are_the_devices_seed_000_counts(builtins, gpus: int, rule_id: str) -> None:
    """A process sees one MIG slice as its GPU: seed 000 sizes the host on slices (7 × 9984
    MiB, 2048 headroom each), never on the whole card the slices are cut from."""
    host = _mig_host(gpus, 7)
    facts = measure(host, RULES.capabilities)
    assert facts.mig and facts.gpu_count == 7 * gpus
    assert facts.usable_vram_mb == facts.total_usable_mb == 7 * gpus * (9984 - 2048)
    assert facts.largest_usable_mb == 9984 - 2048
    resolution = resolve(host, builtins)
    assert resolution.auto is not None and resolution.auto.rule_id == rule_id
    assert f"{7 * gpus} MIG slices of {gpus} GPU" in resolution.auto.rule_reason
    assert resolution.profile.max_vram_mb == 7 * gpus * (9984 - 2048)
    assert resolution.profile.strategy != "tensor_parallel_or_distributed"


def test_mig_hosts_never_get_tensor_parallel_engine_settings(builtins) -> None:
    """Eight H100s in 56 slices are eight GPUs to seed 002's rule (TP 4), but no engine
    can run tensor parallelism across MIG slices: the engine rule sees one GPU."""
    resolution = resolve(_mig_host(8, 7), builtins)
    assert resolution.auto is not None
    assert resolution.auto.engine_rule_id == "ampere-single-gpu"
    assert "each MIG slice is one GPU" in (resolution.auto.engine_reason or "")
    assert (resolution.profile.engine.tensor_parallel_size or 1) == 1
    assert not any("written for" in w for w in resolution.warnings)


def test_a_tensor_parallel_profile_on_mig_slices_is_warned(builtins) -> None:
    from gpuplan.profiles.provenance import Origin
    from gpuplan.profiles.resolve import Choice, ProfileRequest

    choice = Choice(
        source="flag", value="cloud_gpu_tp4_fp16", origin=Origin(kind="flag", label="--profile")
    )
    resolution = resolve(_mig_host(8, 7), builtins, ProfileRequest(choices=(choice,)))
    assert resolution.profile.engine.tensor_parallel_size == 4
    assert any("cannot span slices" in w for w in resolution.warnings), resolution.warnings


def test_a_mig_gpu_beside_whole_gpus_is_described_as_what_it_is(builtins) -> None:
    """One H100 cut into seven slices beside a whole H100 is 7 slices and 1 GPU, not
    '8 MIG slices of 2 GPUs'; a single slice is not plural."""
    mig = _mig_host(1, 7)
    whole = GPU(
        index=1, name="NVIDIA H100 80GB HBM3", vendor="nvidia", vram_total_mb=81559,
        compute_capability="9.0",
    )  # fmt: skip
    facts = measure(Host(source="declared", gpus=(*mig.gpus, whole)), RULES.capabilities)
    assert facts.mig and facts.gpu_count == 8
    assert facts.devices == "7 MIG slices and 1 GPU"
    one = measure(_mig_host(1, 1), RULES.capabilities)
    assert one.devices == "1 MIG slice of 1 GPU"
    assert measure(_mig_host(8, 7), RULES.capabilities).devices == "56 MIG slices of 8 GPUs"


def test_mig_on_without_instances_is_planned_as_no_gpu_throughout(builtins) -> None:
    """Until a MIG instance exists no process can use the GPU: the profile rule and the
    engine rule agree on that instead of "no GPU was found" beside "one BF16 GPU"."""
    resolution = resolve(_mig_host(1, 0), builtins)
    assert resolution.auto is not None
    assert resolution.auto.rule_id == "no-gpu"
    assert resolution.auto.engine_rule_id == "no-cuda"
