"""Joint selection: exact (equal to brute force), sharing, constraints, explanations."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuplan.errors import ModelError
from gpuplan.models.registry import Role
from gpuplan.selection.candidates import Candidate
from gpuplan.selection.joint import select_joint, slots_taken
from gpuplan.selection.policy import Bias, SelectionPolicy, quantization_rank, rank_key
from gpuplan.selection.select import RoleSelector
from tests.models.seed_registry import BALANCED_24GB, GENEROUS_96GB, seed_candidates


@pytest.fixture
def candidates(tmp_path: Path) -> tuple[Candidate, ...]:
    return seed_candidates(tmp_path)


def picks(result) -> dict[str, str]:
    return {p.role: f"{p.model_id}@{p.quantization}" for p in result.picks}


# --- the brute force the search must equal -------------------------------------------


def brute_force(
    candidates: list[Candidate], roles: list[Role], policy: SelectionPolicy
) -> dict[str, str]:
    """Every assignment of (a fitting candidate or nothing) to each role, best kept.

    Written from the spec in joint's docstring, independently of its search: the
    primary role (chat, reasoning, else the first asked) at its highest priority;
    then the supporting roles served; then the primary's own ranking; then the
    supporting roles' priority and the bias; then pick ranks in request order.
    Sidecars (no KV cache, <= 2560 MiB) serving only supporting roles take no slot.
    """
    primary = next((r for r in roles if r in ("chat", "reasoning")), roles[0])
    per_role = []
    for role in roles:
        fitting = [
            c for c in candidates if c.serves(role) and c.vram_estimate_mb <= policy.max_vram_mb
        ]
        per_role.append(sorted(fitting, key=lambda c: rank_key(c, role, policy)))
    best_value: tuple[int, ...] | None = None
    best: dict[str, str] = {}
    options = [range(len(ranked) + 1) for ranked in per_role]  # last index: unserved
    for indices in itertools.product(*options):
        chosen = {
            role: ranked[i]
            for role, ranked, i in zip(roles, per_role, indices, strict=True)
            if i < len(ranked)
        }
        loads = {c.key: c for c in chosen.values()}
        main = chosen.get(primary)
        slots = {
            c.key
            for c in chosen.values()
            if (main is not None and c.key == main.key)
            or c.context is not None
            or c.vram_estimate_mb > 2560
        }
        vram = sum(c.vram_estimate_mb for c in loads.values())
        if len(slots) > policy.max_concurrent_models or vram > policy.max_vram_mb:
            continue
        support = {r: c for r, c in chosen.items() if r != primary}
        served = len(support)
        priority = sum(c.role_priority[r] for r, c in support.items())
        preference = sum(
            quantization_rank(c.quantization, policy.preferred_quantizations)
            for c in support.values()
        )
        quality = sum(c.quality for c in support.values())
        tail = {
            "vram_efficient": (-preference, -vram, quality),
            "balanced": (-preference, quality, -vram),
            "quality": (quality, -preference, -vram),
        }[policy.model_selection_bias]
        position = roles.index(primary)
        head = (
            (main.role_priority[primary], served, -indices[position])
            if main is not None
            else (-1, served, 0)
        )
        rest = tuple(-i for n, i in enumerate(indices) if n != position)
        value = (*head, priority, *tail, *rest)
        if best_value is None or value > best_value:
            best_value = value
            best = {r: c.key for r, c in chosen.items()}
    return best


QUANTS = ("FP8", "Q4_K_M", "BF16", "AWQ")
ROLES: tuple[Role, ...] = ("chat", "caption", "embedding", "reasoning")


@st.composite
def instances(
    draw: st.DrawFn, max_models: int = 5, max_roles: int = 3
) -> tuple[list[Candidate], list[Role], SelectionPolicy]:
    models = draw(st.integers(1, max_models))
    candidates: list[Candidate] = []
    for m in range(models):
        served = draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=3, unique=True))
        priorities = {role: draw(st.sampled_from((40, 60, 60, 80))) for role in served}
        params = draw(st.sampled_from((1.0, 4.0, 8.0)))
        for quant in draw(st.lists(st.sampled_from(QUANTS), min_size=1, max_size=2, unique=True)):
            candidates.append(
                Candidate(
                    model_id=f"m{m}",
                    name=f"Model {m}",
                    backend="vllm",
                    quantization=quant,
                    vram_estimate_mb=draw(st.sampled_from((1000, 2000, 3000, 5000, 8000))),
                    role_priority=priorities,
                    parameters_b=params,
                    context=draw(st.sampled_from((None, 4096))),  # None: no KV cache
                )
            )
    roles = draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=max_roles, unique=True))
    policy = SelectionPolicy(
        max_vram_mb=draw(st.sampled_from((0, 2000, 5000, 9000, 14000, 30000))),
        max_concurrent_models=draw(st.integers(1, 3)),
        preferred_quantizations=tuple(
            draw(st.lists(st.sampled_from([q.lower() for q in QUANTS]), max_size=3, unique=True))
        ),
        model_selection_bias=draw(st.sampled_from(("vram_efficient", "balanced", "quality"))),
    )
    return candidates, roles, policy


@settings(max_examples=400, deadline=None)
@given(instances())
def test_search_equals_brute_force(
    instance: tuple[list[Candidate], list[Role], SelectionPolicy],
) -> None:
    candidates, roles, policy = instance
    expected = brute_force(candidates, roles, policy)
    result = select_joint(candidates, roles, policy)
    assert result.optimal
    assert picks(result) == expected
    assert picks(select_joint(candidates, roles, policy, prune=False)) == expected
    assert result.total_vram_mb <= policy.max_vram_mb
    chosen = [next((c for c in candidates if c.key == picks(result).get(r)), None) for r in roles]
    assert slots_taken(chosen, roles) <= policy.max_concurrent_models
    assert {u.role for u in result.unserved} == set(roles) - set(expected)


@settings(max_examples=60, deadline=None)
@given(instances(max_models=6, max_roles=4))
def test_search_equals_brute_force_on_four_roles(
    instance: tuple[list[Candidate], list[Role], SelectionPolicy],
) -> None:
    candidates, roles, policy = instance
    assert picks(select_joint(candidates, roles, policy)) == brute_force(candidates, roles, policy)


@settings(max_examples=200, deadline=None)
@given(instances())
def test_one_role_is_the_role_selectors_top_pick(
    instance: tuple[list[Candidate], list[Role], SelectionPolicy],
) -> None:
    candidates, roles, policy = instance
    role = roles[0]
    top = RoleSelector(candidates, policy).select_for_role(role, top_n=1)
    result = select_joint(candidates, [role], policy)
    assert [f"{p.model_id}@{p.quantization}" for p in result.picks] == [c.key for c in top]


# --- behaviour on the seed registry ---------------------------------------------------


def test_shared_model_serves_two_roles_within_concurrency(
    candidates: tuple[Candidate, ...],
) -> None:
    # balanced_24gb loads 2 models: florence (best caption) would make 3 with
    # qwen3-vl (description, the primary: asked first) and siglip (embedding), so
    # qwen3-vl shares caption.
    result = select_joint(candidates, ["description", "caption", "embedding"], BALANCED_24GB)
    assert picks(result) == {
        "caption": "qwen3-vl@FP8",
        "description": "qwen3-vl@FP8",
        "embedding": "siglip-large@FP32",
    }
    assert result.total_vram_mb == 10600 + 2600  # the shared model counts once
    assert result.total_priority == 85 + 95 + 90
    caption = result.pick("caption")
    assert caption is not None and caption.shared_with == ("description",)
    (dropped,) = [d for d in result.dropped if d.role == "caption"]
    assert (dropped.model_id, dropped.why) == ("florence-2-large", "concurrency")
    assert "max_concurrent_models is 2" in dropped.reason


def test_the_primary_role_is_never_traded_for_supporting_roles(
    candidates: tuple[Candidate, ...],
) -> None:
    # Asked first, caption is the primary: it keeps florence (90) although qwen3-vl
    # (85) could share caption with description and leave room for the embedder.
    result = select_joint(candidates, ["caption", "description", "embedding"], BALANCED_24GB)
    assert result.primary_role == "caption"
    assert picks(result) == {"caption": "florence-2-large@Q4_K_M", "description": "qwen3-vl@FP8"}
    (unserved,) = result.unserved
    assert unserved.role == "embedding"
    assert "max_concurrent_models" in unserved.reason


def test_generous_profile_loads_the_best_of_each(candidates: tuple[Candidate, ...]) -> None:
    result = select_joint(candidates, ["caption", "description", "embedding"], GENEROUS_96GB)
    assert picks(result) == {
        "caption": "florence-2-large@Q4_K_M",
        "description": "qwen3-vl@BF16",
        "embedding": "siglip-large@FP32",
    }
    assert result.dropped == ()


def test_a_supporting_role_takes_what_the_primary_leaves_and_says_so(
    candidates: tuple[Candidate, ...],
) -> None:
    # chat is the primary whatever the order: it keeps its best (mistral FP8, the
    # preferred quantization); description takes a smaller model in what is left.
    policy = SelectionPolicy(
        max_vram_mb=16000, max_concurrent_models=2, preferred_quantizations=("fp8", "q4_k_m")
    )
    result = select_joint(candidates, ["description", "chat"], policy)
    assert result.primary_role == "chat"
    assert picks(result) == {"description": "qwen25vl@FP8", "chat": "mistral-7b@FP8"}
    (dropped,) = result.dropped
    assert (dropped.role, dropped.model_id, dropped.quantization) == (
        "description",
        "qwen3-vl",
        "FP8",
    )
    assert dropped.why == "primary"
    assert "beside the chat model mistral-7b FP8 (8000 MiB)" in dropped.reason


def test_budget_forces_a_smaller_variant_and_says_so(candidates: tuple[Candidate, ...]) -> None:
    policy = SelectionPolicy(
        max_vram_mb=16000, max_concurrent_models=3, preferred_quantizations=("fp8", "q4_k_m")
    )
    # description (primary) 10600 + siglip 2600 leave 2800: no mistral variant fits.
    result = select_joint(candidates, ["description", "embedding", "narration"], policy)
    assert picks(result) == {
        "description": "qwen3-vl@FP8",
        "embedding": "siglip-large@FP32",
        "narration": "qwen3-vl@FP8",
    }
    assert result.dropped == ()


def test_unserved_roles_say_why(candidates: tuple[Candidate, ...]) -> None:
    policy = SelectionPolicy(max_vram_mb=3000, max_concurrent_models=1)
    result = select_joint(candidates, ["chat", "embedding"], policy)
    assert picks(result) == {"embedding": "siglip-large@FP32"}
    (unserved,) = result.unserved
    assert unserved.role == "chat"
    assert "exceeds the 3000 MiB budget" in unserved.reason
    assert "mistral-7b Q4_K_M (5000 MiB)" in unserved.reason


def test_unserved_for_concurrency(candidates: tuple[Candidate, ...]) -> None:
    policy = SelectionPolicy(max_vram_mb=14000, max_concurrent_models=1)
    result = select_joint(candidates, ["embedding", "chat"], policy)
    assert len(result.picks) == 1
    (unserved,) = result.unserved
    assert "max_concurrent_models" in unserved.reason


def test_unserved_when_nothing_serves_the_role(candidates: tuple[Candidate, ...]) -> None:
    vision = [c for c in candidates if c.model_id == "florence-2-large"]
    result = select_joint(vision, ["caption", "embedding"], BALANCED_24GB)
    assert [u.reason for u in result.unserved] == ["no model in the registry serves 'embedding'"]


def test_roles_are_checked(candidates: tuple[Candidate, ...]) -> None:
    with pytest.raises(ModelError, match="unknown role"):
        select_joint(candidates, ["chat", "poetry"], BALANCED_24GB)
    with pytest.raises(ModelError, match="more than once"):
        select_joint(candidates, ["chat", "chat"], BALANCED_24GB)
    with pytest.raises(ModelError, match="no roles"):
        select_joint(candidates, [], BALANCED_24GB)


def test_serving_more_roles_beats_higher_priority(candidates: tuple[Candidate, ...]) -> None:
    # llama-70b alone (chat 95 + reasoning 85 = 180) vs mistral (chat) + nothing
    # for reasoning: with 1 slot and 45 GB, llama serves both roles.
    policy = SelectionPolicy(
        max_vram_mb=45000, max_concurrent_models=1, preferred_quantizations=("q4_k_m",)
    )
    result = select_joint(candidates, ["chat", "reasoning"], policy)
    assert picks(result) == {"chat": "llama-70b@Q4_K_M", "reasoning": "llama-70b@Q4_K_M"}


def test_node_limit_reports_unproven_result(candidates: tuple[Candidate, ...]) -> None:
    result = select_joint(
        candidates, ["caption", "description", "embedding"], GENEROUS_96GB, node_limit=2
    )
    assert result.optimal is False


@pytest.mark.parametrize("bias", ["vram_efficient", "balanced", "quality"])
def test_bias_breaks_ties(candidates: tuple[Candidate, ...], bias: Bias) -> None:
    # narration: narrator-small and qwen3-vl both 95; the bias decides.
    policy = SelectionPolicy(
        max_vram_mb=22000, preferred_quantizations=("fp8",), model_selection_bias=bias
    )
    result = select_joint(candidates, ["narration"], policy)
    expected = {
        "vram_efficient": "narrator-small@FP8",  # 5000 MiB < 10600 MiB
        "balanced": "qwen3-vl@FP8",  # preferred fp8, then more parameters
        "quality": "qwen3-vl@BF16",  # precision before preference; 17800 MiB fits
    }[bias]
    assert picks(result) == {"narration": expected}
