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
    candidates: list[Candidate], roles: list[Role], policy: SelectionPolicy, step: int = 5
) -> dict[str, str]:
    """Every assignment of (a fitting candidate or nothing) to each role, best kept.

    Written from the spec in joint's docstring, independently of its search: the
    primary role (chat, reasoning, else the first asked) within ``step`` points of
    the highest priority that fits alone; then the supporting roles served; then the
    primary's own ranking (priority first); then the supporting roles' priority and
    the bias; then pick ranks in request order. Sidecars (no KV cache, <= 2560 MiB)
    serving only supporting roles take no slot.
    """
    primary = next((r for r in roles if r in ("chat", "reasoning")), roles[0])
    per_role = []
    for role in roles:
        fitting = [
            c for c in candidates if c.serves(role) and c.vram_estimate_mb <= policy.max_vram_mb
        ]
        per_role.append(sorted(fitting, key=lambda c: rank_key(c, role, policy)))
    top = per_role[roles.index(primary)]
    floor = max((c.role_priority[primary] for c in top), default=0) - step
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
        if top and (main is None or main.role_priority[primary] < floor):
            continue  # the primary is served, within one size class of its best
        head = (served, -indices[position]) if main is not None else (served, 0)
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
        # Near priorities (60, 63, 66) fall within one primary step of each other.
        priorities = {role: draw(st.sampled_from((40, 60, 60, 63, 66, 80))) for role in served}
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


@st.composite
def ladders(draw: st.DrawFn) -> tuple[list[Candidate], list[Role], SelectionPolicy]:
    """Primary models a few points apart, big enough to crowd the supporting roles out:
    the instances where the primary's step decides (about one in eight differs from step 0)."""
    candidates: list[Candidate] = []
    for m in range(draw(st.integers(2, 4))):
        extra = draw(st.lists(st.sampled_from(("caption", "embedding")), max_size=1))
        priorities = {"chat": draw(st.sampled_from((90, 86, 85, 82, 78)))}
        priorities |= {role: draw(st.sampled_from((60, 80))) for role in extra}
        for quant in draw(st.lists(st.sampled_from(QUANTS), min_size=1, max_size=2, unique=True)):
            candidates.append(
                Candidate(
                    model_id=f"c{m}",
                    name=f"Chat {m}",
                    backend="vllm",
                    quantization=quant,
                    vram_estimate_mb=draw(st.sampled_from((14000, 9000, 12000, 6000))),
                    role_priority=priorities,
                    parameters_b=draw(st.sampled_from((8.0, 32.0, 70.0))),
                    context=4096,
                )
            )
    for m in range(draw(st.integers(2, 4))):
        role = draw(st.sampled_from(("caption", "embedding")))
        candidates.append(
            Candidate(
                model_id=f"s{m}",
                name=f"Support {m}",
                backend="vllm",
                quantization="FP16",
                vram_estimate_mb=draw(st.sampled_from((1000, 2000, 3000, 5000))),
                role_priority={role: draw(st.sampled_from((60, 70, 90)))},
                parameters_b=0.5,
                context=draw(st.sampled_from((None, 4096))),
            )
        )
    supporting: list[Role] = ["caption", "embedding"]
    roles: list[Role] = ["chat", *draw(st.permutations(supporting))]
    policy = SelectionPolicy(
        max_vram_mb=draw(st.sampled_from((15000, 13000, 17000, 10000))),
        max_concurrent_models=draw(st.integers(1, 3)),
        preferred_quantizations=("fp8",),
        model_selection_bias=draw(st.sampled_from(("vram_efficient", "balanced", "quality"))),
    )
    return candidates, roles, policy


STEPS = st.sampled_from((0, 3, 5, 25))
"""Primary steps: the literal primary-first rule, within 3, the default 5, and wide."""


@settings(max_examples=500, deadline=None)
@given(instances(), STEPS)
def test_search_equals_brute_force(
    instance: tuple[list[Candidate], list[Role], SelectionPolicy], step: int
) -> None:
    candidates, roles, policy = instance
    expected = brute_force(candidates, roles, policy, step)
    result = select_joint(candidates, roles, policy, primary_step=step)
    assert result.optimal
    assert picks(result) == expected
    assert picks(select_joint(candidates, roles, policy, prune=False, primary_step=step)) == (
        expected
    )
    assert result.total_vram_mb <= policy.max_vram_mb
    chosen = [next((c for c in candidates if c.key == picks(result).get(r)), None) for r in roles]
    assert slots_taken(chosen, roles) <= policy.max_concurrent_models
    assert {u.role for u in result.unserved} == set(roles) - set(expected)


@settings(max_examples=300, deadline=None)
@given(ladders(), STEPS)
def test_search_equals_brute_force_where_the_step_decides(
    instance: tuple[list[Candidate], list[Role], SelectionPolicy], step: int
) -> None:
    candidates, roles, policy = instance
    expected = brute_force(candidates, roles, policy, step)
    result = select_joint(candidates, roles, policy, primary_step=step)
    assert result.optimal and picks(result) == expected
    chat = result.pick("chat")
    fitting = [c.role_priority["chat"] for c in candidates if c.serves("chat") and policy.admits(c)]
    assert (chat is None) == (not fitting)
    assert chat is None or chat.role_priority >= max(fitting) - step
    trade = result.primary_trade
    if trade is not None:
        assert trade.instead_of_priority - trade.role_priority <= step
        assert trade.served and set(trade.served) <= {p.role for p in result.picks}


@settings(max_examples=80, deadline=None)
@given(instances(max_models=6, max_roles=4), STEPS)
def test_search_equals_brute_force_on_four_roles(
    instance: tuple[list[Candidate], list[Role], SelectionPolicy], step: int
) -> None:
    candidates, roles, policy = instance
    result = select_joint(candidates, roles, policy, primary_step=step)
    assert picks(result) == brute_force(candidates, roles, policy, step)


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


def test_the_primary_steps_down_one_class_to_serve_every_role(
    candidates: tuple[Candidate, ...],
) -> None:
    # Asked first, caption is the primary. florence (90) leaves no slot for the
    # embedder beside qwen3-vl (description); qwen3-vl (85, within one class) shares
    # caption with description and so the embedder is served too.
    result = select_joint(candidates, ["caption", "description", "embedding"], BALANCED_24GB)
    assert result.primary_role == "caption"
    assert picks(result) == {
        "caption": "qwen3-vl@FP8",
        "description": "qwen3-vl@FP8",
        "embedding": "siglip-large@FP32",
    }
    trade = result.primary_trade
    assert trade is not None
    assert (trade.instead_of, trade.model_id, trade.served) == (
        "florence-2-large",
        "qwen3-vl",
        ("embedding",),
    )
    assert trade.reason.startswith(
        "chose qwen3-vl over florence-2-large so that embedding is served"
    )
    (dropped,) = [d for d in result.dropped if d.role == "caption"]
    assert (dropped.model_id, dropped.why) == ("florence-2-large", "serving")


def test_with_no_step_the_primary_is_never_traded(candidates: tuple[Candidate, ...]) -> None:
    # The literal primary-first rule (primary_step=0): florence keeps caption and the
    # embedder is left out for the slot it would need.
    result = select_joint(
        candidates, ["caption", "description", "embedding"], BALANCED_24GB, primary_step=0
    )
    assert picks(result) == {"caption": "florence-2-large@Q4_K_M", "description": "qwen3-vl@FP8"}
    assert result.primary_trade is None
    (unserved,) = result.unserved
    assert unserved.role == "embedding"
    assert "max_concurrent_models" in unserved.reason


def _model(model_id: str, mib: int, **priority: int) -> Candidate:
    return Candidate(
        model_id=model_id,
        name=model_id,
        backend="vllm",
        quantization="FP8",
        vram_estimate_mb=mib,
        role_priority=priority,
        parameters_b=mib / 1000,
        context=None if "embedding" in priority or "caption" in priority else 4096,
    )


LADDER = [
    _model("chat-70b", 44000, chat=90),
    _model("chat-32b", 36000, chat=86),
    _model("chat-14b", 20000, chat=78),
    _model("embed-small", 1200, embedding=60),
    _model("embed-large", 6000, embedding=92),
    _model("caption-small", 1500, caption=78),
]
TWO_CARDS = SelectionPolicy(max_vram_mb=45000, max_concurrent_models=5)


def test_serving_every_role_is_worth_one_class() -> None:
    result = select_joint(LADDER, ["chat", "embedding", "caption"], TWO_CARDS)
    assert picks(result) == {
        "chat": "chat-32b@FP8",
        "embedding": "embed-large@FP8",  # what the 32B leaves goes to the best embedder
        "caption": "caption-small@FP8",
    }
    trade = result.primary_trade
    assert trade is not None and trade.served == ("embedding", "caption")
    assert trade.reason.startswith(
        "chose chat-32b over chat-70b so that embedding and caption are served"
    )
    assert "90 → 86" in trade.reason


def test_serving_a_role_is_never_worth_two_classes() -> None:
    # Without the 32B the next chat model is two classes down (90 → 78): the 70B stays
    # and the supporting roles are left unserved, saying so.
    ladder = [c for c in LADDER if c.model_id != "chat-32b"]
    result = select_joint(ladder, ["chat", "embedding", "caption"], TWO_CARDS)
    assert picks(result) == {"chat": "chat-70b@FP8"}
    assert result.primary_trade is None
    assert all("within one size class" in u.reason for u in result.unserved)


def test_a_better_supporting_model_never_buys_the_primary_a_step() -> None:
    # Both chat models serve every role; the 32B would leave room for the large
    # embedder, but the supporting roles' quality buys no VRAM: the 70B stays.
    roomy = SelectionPolicy(max_vram_mb=47000, max_concurrent_models=5)
    result = select_joint(LADDER, ["chat", "embedding", "caption"], roomy)
    assert picks(result) == {
        "chat": "chat-70b@FP8",
        "embedding": "embed-small@FP8",
        "caption": "caption-small@FP8",
    }
    assert result.primary_trade is None
    (dropped,) = [d for d in result.dropped if d.role == "embedding"]
    assert dropped.why == "primary"


def test_the_highest_class_that_serves_the_most_roles_wins() -> None:
    # A 88 model within the step serves as many roles as the 86: it wins.
    ladder = [*LADDER, _model("chat-40b", 37000, chat=88)]
    result = select_joint(ladder, ["chat", "embedding", "caption"], TWO_CARDS)
    assert result.pick("chat") is not None
    assert picks(result)["chat"] == "chat-40b@FP8"
    assert len(result.picks) == 3


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


def _chat(model_id: str, params_b: float, priority: int) -> Candidate:
    return Candidate(
        model_id=model_id,
        name=model_id,
        backend="llamacpp",
        quantization="Q4_K_M",
        vram_estimate_mb=1000,
        role_priority={"chat": priority},
        parameters_b=params_b,
        context=4096,
    )


def test_one_size_class_is_measured_in_classes_not_points() -> None:
    from gpuplan.selection._joint_roles import (
        MAX_PRIMARY_STEP,
        PRIMARY_STEP,
        one_class_step,
        size_class,
    )

    assert [size_class(b) for b in (1.2, 4, 8, 14, 32, 70, 235)] == [0, 1, 2, 3, 4, 5, 6]
    ranked = [_chat("70b", 70.6, 90), _chat("32b", 32.8, 86), _chat("14b", 14.8, 78)]
    assert one_class_step(ranked, "chat") == 4  # 70B → the best 32B-class model, not further
    ranked = [_chat("14b", 14.8, 78), _chat("phi", 14.7, 74), _chat("8b", 8.2, 72)]
    assert one_class_step(ranked, "chat") == 6  # 14B → 8B, although more than 5 points
    assert one_class_step(ranked[:2], "chat") == PRIMARY_STEP  # no smaller class fits
    ranked = [_chat("14b", 14.8, 78), _chat("bad8b", 8.0, 40)]
    assert one_class_step(ranked, "chat") == MAX_PRIMARY_STEP
    assert one_class_step([], "chat") == PRIMARY_STEP
