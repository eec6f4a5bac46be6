"""Seed 001's role selector, behaviour by behaviour (its 14 tested cases), plus the doc shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpuplan.errors import ModelError, ModelNotFoundError
from gpuplan.selection.candidates import Candidate
from gpuplan.selection.policy import SelectionPolicy, quantization_rank, rank_key
from gpuplan.selection.select import RoleSelector, select_by_role_response
from tests.models.seed_registry import (
    BALANCED_24GB,
    CONSTRAINED_16GB,
    DEVELOPMENT,
    GENEROUS_96GB,
    SEED_MODEL_IDS,
    seed_candidates,
    seed_registry,
)


@pytest.fixture
def candidates(tmp_path: Path) -> tuple[Candidate, ...]:
    return seed_candidates(tmp_path)


def selector(candidates: tuple[Candidate, ...], policy: SelectionPolicy) -> RoleSelector:
    return RoleSelector(candidates, policy)


def ids(chosen: list[Candidate]) -> list[str]:
    return [c.model_id for c in chosen]


# 1. registry loading
def test_registry_loading(tmp_path: Path) -> None:
    registry = seed_registry(tmp_path)
    assert tuple(e.id for e in registry) == SEED_MODEL_IDS
    assert all(origin.endswith("seed-models.toml") for origin in registry.origins.values())
    assert registry.get("qwen3-vl").role_priority["description"] == 95


# 2. available roles
def test_available_roles(candidates: tuple[Candidate, ...]) -> None:
    roles = selector(candidates, CONSTRAINED_16GB).available_roles()
    assert roles == (
        "keywords",
        "caption",
        "description",
        "narration",
        "object_detection",
        "vision_general",
        "chat",
        "reasoning",
        "embedding",
    )


def test_available_roles_only_lists_served_roles(candidates: tuple[Candidate, ...]) -> None:
    vision_only = [c for c in candidates if c.model_id in ("florence-2-large", "qwen25vl")]
    assert RoleSelector(vision_only, CONSTRAINED_16GB).available_roles() == (
        "keywords",
        "caption",
        "description",
        "narration",
        "object_detection",
    )


# 3. basic role selection — seed 001's example response, figure for figure
def test_basic_role_selection_matches_seed_example(candidates: tuple[Candidate, ...]) -> None:
    chosen = selector(candidates, CONSTRAINED_16GB).select_for_role("keywords", top_n=3)
    assert [(c.model_id, c.quantization, c.vram_estimate_mb) for c in chosen] == [
        ("florence-2-large", "Q4_K_M", 3500),
        ("qwen3-vl", "FP8", 10600),
        ("qwen25vl", "FP8", 6400),
    ]


def test_select_by_role_response_is_seed_document(candidates: tuple[Candidate, ...]) -> None:
    doc = select_by_role_response(selector(candidates, CONSTRAINED_16GB), "keywords", 3)
    body = doc.model_dump(mode="json")
    for model in body["models"]:
        assert model.pop("vram_source") == "registry"
        # gpuplan's additions: a single-GPU model, its whole figure on that GPU
        assert model.pop("gpus") == 1
        assert model.pop("vram_per_gpu_mb") == model["vram_estimate_mb"]
    assert body == {
        "role": "keywords",
        "profile": "constrained_16gb",
        "max_vram_mb": 14000,
        "model_selection_bias": "vram_efficient",
        "top_n": 3,
        "models": [
            {
                "id": "florence-2-large",
                "name": "Florence-2 Large",
                "backend": "ollama",
                "quantization": "Q4_K_M",
                "vram_estimate_mb": 3500,
                "role_priority": 95,
            },
            {
                "id": "qwen3-vl",
                "name": "Qwen3-VL",
                "backend": "vllm",
                "quantization": "FP8",
                "vram_estimate_mb": 10600,
                "role_priority": 80,
            },
            {
                "id": "qwen25vl",
                "name": "Qwen2.5-VL",
                "backend": "vllm",
                "quantization": "FP8",
                "vram_estimate_mb": 6400,
                "role_priority": 75,
            },
        ],
    }


# 4. VRAM filtering — seed 000's test: an 8 GB budget excludes qwen3-vl (10.6 GB)
def test_vram_filtering(candidates: tuple[Candidate, ...]) -> None:
    policy = SelectionPolicy(max_vram_mb=8000, preferred_quantizations=("q4_k_m",))
    chosen = selector(candidates, policy).select_for_role("keywords", top_n=10)
    assert "qwen3-vl" not in ids(chosen)
    assert ids(chosen) == ["florence-2-large", "qwen25vl"]
    assert all(c.vram_estimate_mb <= 8000 for c in chosen)


def test_budget_is_inclusive(candidates: tuple[Candidate, ...]) -> None:
    exact = SelectionPolicy(max_vram_mb=10600)
    assert "qwen3-vl" in ids(selector(candidates, exact).select_for_role("keywords", 5))


# 5. quantization preferences
def test_quantization_preference_picks_preferred_variant(candidates: tuple[Candidate, ...]) -> None:
    (q4,) = selector(candidates, CONSTRAINED_16GB).select_for_role("chat", top_n=1)
    assert (q4.model_id, q4.quantization, q4.backend) == ("mistral-7b", "Q4_K_M", "llamacpp")
    (fp8,) = selector(candidates, BALANCED_24GB).select_for_role("chat", top_n=1)
    assert (fp8.model_id, fp8.quantization, fp8.backend) == ("mistral-7b", "FP8", "vllm")


def test_quantization_preference_is_case_and_spelling_insensitive() -> None:
    preferred = ("q4_k_m", "fp8", "awq")
    assert quantization_rank("Q4_K_M", preferred) == 0
    assert quantization_rank("q4-k-m", preferred) == 0
    assert quantization_rank("awq_marlin", preferred) == 2
    assert quantization_rank("BF16", preferred) == 3
    assert quantization_rank("no-such-quant", preferred) == 3


def test_preference_comes_after_priority(candidates: tuple[Candidate, ...]) -> None:
    # llama-70b (priority 95) beats mistral-7b (60) for chat whatever the quantization.
    chosen = selector(candidates, GENEROUS_96GB).select_for_role("chat", top_n=2)
    assert ids(chosen) == ["llama-70b", "mistral-7b"]


# 6. efficiency bias
def test_efficiency_bias_prefers_less_vram_at_equal_priority(
    candidates: tuple[Candidate, ...],
) -> None:
    policy = SelectionPolicy(
        max_vram_mb=22000, preferred_quantizations=("fp8",), model_selection_bias="vram_efficient"
    )
    chosen = selector(candidates, policy).select_for_role("narration", top_n=3)
    assert ids(chosen) == ["narrator-small", "qwen3-vl", "qwen25vl"]


# 7. quality bias
def test_quality_bias_prefers_bigger_model_at_equal_priority(
    candidates: tuple[Candidate, ...],
) -> None:
    policy = SelectionPolicy(
        max_vram_mb=22000, preferred_quantizations=("fp8",), model_selection_bias="quality"
    )
    chosen = selector(candidates, policy).select_for_role("narration", top_n=3)
    assert ids(chosen) == ["qwen3-vl", "narrator-small", "qwen25vl"]


def test_quality_bias_prefers_higher_precision_over_preferred_quantization(
    candidates: tuple[Candidate, ...],
) -> None:
    (pick,) = selector(candidates, GENEROUS_96GB).select_for_role("description", top_n=1)
    assert (pick.model_id, pick.quantization) == ("qwen3-vl", "BF16")
    balanced = SelectionPolicy(
        max_vram_mb=90000, preferred_quantizations=GENEROUS_96GB.preferred_quantizations
    )
    (pick,) = selector(candidates, balanced).select_for_role("description", top_n=1)
    assert (pick.model_id, pick.quantization) == ("qwen3-vl", "FP8")


def test_every_bias_keeps_priority_first(candidates: tuple[Candidate, ...]) -> None:
    for bias in ("vram_efficient", "balanced", "quality"):
        policy = SelectionPolicy(max_vram_mb=90000, model_selection_bias=bias)
        ranked = RoleSelector(candidates, policy).ranked("keywords")
        priorities = [c.role_priority["keywords"] for c in ranked]
        assert priorities == sorted(priorities, reverse=True)


# 8. no matches
def test_no_matches_returns_empty_list(candidates: tuple[Candidate, ...]) -> None:
    tiny = SelectionPolicy(max_vram_mb=1000)
    assert selector(candidates, tiny).select_for_role("chat") == []
    vision = [c for c in candidates if c.model_id == "florence-2-large"]
    assert RoleSelector(vision, CONSTRAINED_16GB).select_for_role("embedding") == []


def test_unknown_role_is_an_error(candidates: tuple[Candidate, ...]) -> None:
    with pytest.raises(ModelError, match="unknown role 'captions'") as info:
        selector(candidates, CONSTRAINED_16GB).select_for_role("captions")
    assert "caption" in str(info.value)


# 9. top-N
def test_top_n_limits_and_defaults_to_three(candidates: tuple[Candidate, ...]) -> None:
    sel = selector(candidates, GENEROUS_96GB)
    assert len(sel.select_for_role("caption")) == 3
    assert ids(sel.select_for_role("caption", top_n=1)) == ["florence-2-large"]
    assert len(sel.select_for_role("caption", top_n=50)) == 3
    with pytest.raises(ModelError, match="top_n"):
        sel.select_for_role("caption", top_n=0)


def test_a_model_is_listed_once_with_its_best_variant(candidates: tuple[Candidate, ...]) -> None:
    chosen = selector(candidates, GENEROUS_96GB).select_for_role("chat", top_n=5)
    assert ids(chosen) == ["llama-70b", "mistral-7b"]
    assert chosen[0].quantization == "FP8"  # quality bias, both fit 90 GB


# 10. model lookup by id
def test_model_lookup_by_id(tmp_path: Path, candidates: tuple[Candidate, ...]) -> None:
    registry = seed_registry(tmp_path)
    assert registry.get("florence-2-large").name == "Florence-2 Large"
    with pytest.raises(ModelNotFoundError, match="qwen3-vl-9b") as info:
        registry.get("qwen3-vl-9b")
    assert "qwen3-vl" in str(info.value)
    variants = selector(candidates, CONSTRAINED_16GB).candidates_for("qwen3-vl")
    assert [c.quantization for c in variants] == ["FP8", "BF16"]
    with pytest.raises(ModelNotFoundError):
        selector(candidates, CONSTRAINED_16GB).candidates_for("nope")


# 11. profile fitting models
def test_profile_fitting_models(candidates: tuple[Candidate, ...]) -> None:
    fitting = selector(candidates, CONSTRAINED_16GB).fitting_models()
    assert [c.key for c in fitting] == [
        "florence-2-large@Q4_K_M",
        "qwen3-vl@FP8",
        "qwen25vl@FP8",
        "narrator-small@FP8",
        "mistral-7b@Q4_K_M",  # preferred first within a model
        "mistral-7b@FP8",
        "siglip-large@FP32",
    ]
    assert all(c.vram_estimate_mb <= 14000 for c in fitting)
    dev = [c.key for c in selector(candidates, DEVELOPMENT).fitting_models()]
    assert "qwen3-vl@FP8" not in dev and "florence-2-large@Q4_K_M" in dev


# 12-15. explanations: eligible / rejected / no role support / not found
def test_explain_eligible(candidates: tuple[Candidate, ...]) -> None:
    why = selector(candidates, CONSTRAINED_16GB).explain_selection("keywords", "qwen3-vl")
    assert why.status == "eligible"
    assert (why.rank, why.eligible_models, why.quantization) == (2, 3, "FP8")
    assert why.role_priority == 80 and why.vram_estimate_mb == 10600
    assert "rank 2 of 3" in why.reason and "priority 95 > 80" in why.reason
    assert [v.fits for v in why.variants] == [True, False]


def test_explain_rejected_says_why(candidates: tuple[Candidate, ...]) -> None:
    why = selector(candidates, DEVELOPMENT).explain_selection("description", "qwen3-vl")
    assert why.status == "rejected"
    assert "10600 MiB > max_vram_mb 10000 MiB" in why.reason
    assert why.rank is None and why.role_priority == 95


def test_explain_no_role_support(candidates: tuple[Candidate, ...]) -> None:
    why = selector(candidates, CONSTRAINED_16GB).explain_selection("embedding", "qwen3-vl")
    assert why.status == "no_role_support"
    assert "no role_priority for 'embedding'" in why.reason


def test_explain_not_found(candidates: tuple[Candidate, ...]) -> None:
    why = selector(candidates, CONSTRAINED_16GB).explain_selection("keywords", "gpt-9")
    assert why.status == "not_found"
    assert "gpt-9" in why.reason


def test_explanation_agrees_with_selection(candidates: tuple[Candidate, ...]) -> None:
    for policy in (CONSTRAINED_16GB, BALANCED_24GB, GENEROUS_96GB, DEVELOPMENT):
        sel = selector(candidates, policy)
        for role in sel.available_roles():
            ranked = sel.ranked_models(role)
            for model_id in SEED_MODEL_IDS:
                why = sel.explain_selection(role, model_id)
                position = (
                    [c.model_id for c in ranked].index(model_id) + 1
                    if any(c.model_id == model_id for c in ranked)
                    else None
                )
                assert why.rank == position
                assert (why.status == "eligible") == (position is not None)


def test_policy_from_a_deployment_profile() -> None:
    from gpuplan.profiles.model import DeploymentProfile

    profile = DeploymentProfile(
        profile="balanced_24gb",
        max_vram_mb=22000,
        max_concurrent_models=2,
        strategy="concurrent_limited",
        preferred_quantizations=("fp8", "awq", "q4_k_m", "q5_k_m"),
        model_selection_bias="balanced",
    )
    policy = SelectionPolicy.from_profile(profile, name="balanced_24gb")
    assert policy == BALANCED_24GB
    unset = DeploymentProfile(profile="dyn")
    assert SelectionPolicy.from_profile(unset, max_vram_mb=46000).max_vram_mb == 46000
    with pytest.raises(ModelError, match="no max_vram_mb"):
        SelectionPolicy.from_profile(unset)


def test_bad_policies_are_errors() -> None:
    with pytest.raises(ModelError, match="model_selection_bias"):
        SelectionPolicy(max_vram_mb=1, model_selection_bias="fast")  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="max_concurrent_models"):
        SelectionPolicy(max_vram_mb=1, max_concurrent_models=0)


def test_rank_key_is_total(candidates: tuple[Candidate, ...]) -> None:
    keys = [rank_key(c, "keywords", BALANCED_24GB) for c in candidates]
    assert len(set(keys)) == len(keys)
