"""Why a joint selection is what it is: each pick's rank, each dropped alternative's
reason, each unserved role's reason, and the trade the primary role made (if any).

Reasons are worked out from the chosen set after the search, by asking what
swapping an alternative in would do; they never feed back into the choice.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from gpuplan.models.registry import Role
from gpuplan.selection._joint_result import (
    Dropped,
    JointSelection,
    LoadedModel,
    PrimaryTrade,
    RolePick,
    UnservedRole,
)
from gpuplan.selection._joint_roles import is_sidecar, primary_role, slots_taken
from gpuplan.selection.candidates import Candidate
from gpuplan.selection.policy import SelectionPolicy

__all__ = ["ALTERNATIVES_PER_ROLE", "Given", "explain"]

ALTERNATIVES_PER_ROLE = 3
"""How many better-ranked models per role the explanation says were dropped, and why."""


class Given(NamedTuple):
    """The primary's best-ranked pick, when the set stepped down from it."""

    pick: Candidate
    served: tuple[Role, ...]
    """Roles its own best set serves (the primary included)."""


def explain(
    roles: tuple[Role, ...],
    chosen: list[Candidate | None],
    ranked: dict[Role, list[Candidate]],
    candidates: list[Candidate],
    policy: SelectionPolicy,
    nodes: int,
    complete: bool,
    given_up: Given | None = None,
    step: int = 0,
) -> JointSelection:
    """The selection's result with every reason filled in, from the chosen assignment."""
    primary = primary_role(roles)
    trade = _trade(roles, chosen, primary, given_up, step)
    loads: dict[str, tuple[Candidate, list[Role]]] = {}
    for role, candidate in zip(roles, chosen, strict=True):
        if candidate is not None:
            loads.setdefault(candidate.key, (candidate, []))[1].append(role)
    picks: list[RolePick] = []
    dropped: list[Dropped] = []
    unserved: list[UnservedRole] = []
    total_vram = sum(c.vram_estimate_mb for c, _ in loads.values())
    for position, (role, candidate) in enumerate(zip(roles, chosen, strict=True)):
        if candidate is None:
            unserved.append(
                UnservedRole(
                    role=role,
                    reason=_unserved_reason(
                        role, ranked[role], candidates, loads, total_vram, policy, primary, step
                    ),
                )
            )
            continue
        models = _best_per_model(ranked[role])
        rank = next(i for i, c in enumerate(models, 1) if c.model_id == candidate.model_id)
        picks.append(
            RolePick(
                role=role,
                model_id=candidate.model_id,
                name=candidate.name,
                backend=candidate.backend,
                quantization=candidate.quantization,
                vram_estimate_mb=candidate.vram_estimate_mb,
                gpus=candidate.gpus,
                vram_per_gpu_mb=candidate.demand.per_gpu_mb,
                role_priority=candidate.role_priority[role],
                rank=rank,
                shared_with=tuple(r for r in loads[candidate.key][1] if r != role),
            )
        )
        for alternative in _ranked_above(ranked[role], candidate)[:ALTERNATIVES_PER_ROLE]:
            dropped.append(
                _dropped(role, position, alternative, roles, chosen, policy, primary, trade)
            )
    return JointSelection(
        roles=roles,
        profile=policy.name,
        max_vram_mb=policy.max_vram_mb,
        max_concurrent_models=policy.max_concurrent_models,
        model_selection_bias=policy.model_selection_bias,
        picks=tuple(picks),
        models=tuple(
            LoadedModel(
                model_id=c.model_id,
                quantization=c.quantization,
                vram_estimate_mb=c.vram_estimate_mb,
                gpus=c.gpus,
                vram_per_gpu_mb=c.demand.per_gpu_mb,
                roles=tuple(served),
                sidecar=primary not in served and is_sidecar(c),
            )
            for c, served in loads.values()
        ),
        total_vram_mb=total_vram,
        slots_used=slots_taken(chosen, roles),
        total_priority=sum(p.role_priority for p in picks),
        unserved=tuple(unserved),
        dropped=tuple(dropped),
        optimal=complete,
        nodes=nodes,
        primary_role=primary,
        primary_trade=trade,
    )


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _trade(
    roles: tuple[Role, ...],
    chosen: list[Candidate | None],
    primary: Role,
    given_up: Given | None,
    step: int,
) -> PrimaryTrade | None:
    """What the primary gave up, for which roles, in words a self-hoster would use."""
    main = chosen[roles.index(primary)]
    if given_up is None or main is None:
        return None
    better = given_up.pick
    served = tuple(
        r for r, c in zip(roles, chosen, strict=True) if c is not None and r not in given_up.served
    )
    if main.model_id == better.model_id:
        ours, theirs = f"{main.model_id} {main.quantization}", f"{better.quantization}"
    else:
        ours, theirs = main.model_id, better.model_id
    if not served:  # only a set serving more roles displaces the best pick
        return None
    mine, top = main.role_priority[primary], better.role_priority[primary]
    verb = "is" if len(served) == 1 else "are"
    reason = (
        f"chose {ours} over {theirs} so that {_and(list(served))} {verb} served: beside "
        f"{_describe(better)} {'it' if len(served) == 1 else 'they'} could not be; serving "
        f"every requested role is worth stepping the {primary} model down by up to one size "
        f"class ({step} priority points; {top} → {mine} here), a better supporting model "
        "never is"
    )
    return PrimaryTrade(
        role=primary,
        model_id=main.model_id,
        quantization=main.quantization,
        role_priority=mine,
        instead_of=better.model_id,
        instead_of_quantization=better.quantization,
        instead_of_priority=top,
        instead_of_vram_mb=better.vram_estimate_mb,
        served=served,
        step_points=step,
        reason=reason,
    )


def _best_per_model(ranked: list[Candidate]) -> list[Candidate]:
    seen: set[str] = set()
    best: list[Candidate] = []
    for candidate in ranked:
        if candidate.model_id not in seen:
            seen.add(candidate.model_id)
            best.append(candidate)
    return best


def _ranked_above(ranked: list[Candidate], pick: Candidate) -> list[Candidate]:
    """Better-ranked choices for the role: each other model's best variant, and the
    pick's own better variants (a preferred quantization that did not fit)."""
    above: list[Candidate] = []
    seen: set[str] = set()
    for candidate in ranked:
        if candidate.key == pick.key:
            break
        if candidate.model_id == pick.model_id or candidate.model_id not in seen:
            above.append(candidate)
            seen.add(candidate.model_id)
    return above


def _set_after_swap(
    position: int, alternative: Candidate, chosen: list[Candidate | None]
) -> dict[str, Candidate]:
    swapped = list(chosen)
    swapped[position] = alternative
    return {c.key: c for c in swapped if c is not None}


def _describe(candidate: Candidate) -> str:
    return f"{candidate.model_id} {candidate.quantization} ({candidate.vram_estimate_mb} MiB)"


def _dropped(
    role: Role,
    position: int,
    alternative: Candidate,
    roles: tuple[Role, ...],
    chosen: list[Candidate | None],
    policy: SelectionPolicy,
    primary: Role,
    trade: PrimaryTrade | None,
) -> Dropped:
    """Why the set does not use ``alternative`` for ``role``: what swapping it in would do.

    A better model for the primary role itself was left out only because beside it
    fewer roles could be served (every pick above the chosen one is within the step,
    and the search compared each): that is said as such, not as the budget a swap
    alone would break.
    """
    after = _set_after_swap(position, alternative, chosen)
    swapped = list(chosen)
    swapped[position] = alternative
    vram = sum(c.vram_estimate_mb for c in after.values())
    slots = slots_taken(swapped, roles)
    priority = alternative.role_priority[role]
    pick = chosen[position]
    assert pick is not None
    head = f"{'higher' if priority > pick.role_priority[role] else 'better-ranked'} " + _describe(
        alternative
    )
    main = chosen[roles.index(primary)] if role != primary else None
    why: Literal["budget", "concurrency", "placement", "score", "primary", "serving"]
    if role == primary and trade is not None:
        why = "serving"
        if (alternative.model_id, alternative.quantization) == (
            trade.instead_of,
            trade.instead_of_quantization,
        ):
            lost = f"{_and(list(trade.served))} could not be served"
        else:
            lost = "fewer of the requested roles could be served"
        reason = (
            f"{head} fits on its own, but beside it {lost}; serving every requested role is "
            f"worth up to one size class ({trade.step_points} priority points) of the "
            f"{primary} model"
        )
    elif slots > policy.max_concurrent_models:
        why = "concurrency"
        reason = (
            f"{head} would make {slots} models loaded at once with the other roles; "
            f"max_concurrent_models is {policy.max_concurrent_models}"
        )
    elif main is not None and not _fits_beside(alternative, main, policy):
        why = "primary"
        reason = (
            f"{head} does not fit beside the {primary} model {_describe(main)}: supporting "
            f"roles use what the {primary} role leaves, and never take memory from it"
        )
    elif vram > policy.max_vram_mb:
        why = "budget"
        reason = (
            f"{head} does not fit with the other roles: {vram} MiB > "
            f"{policy.max_vram_mb} MiB budget"
        )
    elif not policy.places(after.values()):
        why = "placement"
        reason = (
            f"{head} fits the {policy.max_vram_mb} MiB budget with the other roles ({vram} MiB) "
            "but the set cannot be placed on the GPUs: some model would not fit on any GPU "
            "left"
        )
    else:
        why = "score"
        shared = [r for r, c in zip(roles, chosen, strict=True) if c is pick and r != role]
        if shared:
            tail = (
                f"the pick {pick.model_id} is shared with {', '.join(shared)}, and the set "
                "that shares it ranks higher overall"
            )
        elif role == primary:
            tail = "with it fewer supporting roles could be served"
        else:
            tail = "the other roles then lose more than this role gains"
        reason = f"{head} fits ({vram} MiB), but {tail}"
    return Dropped(
        role=role,
        model_id=alternative.model_id,
        quantization=alternative.quantization,
        vram_estimate_mb=alternative.vram_estimate_mb,
        role_priority=priority,
        why=why,
        reason=reason,
    )


def _fits_beside(alternative: Candidate, main: Candidate, policy: SelectionPolicy) -> bool:
    """Whether ``alternative`` fits in the memory the primary pick leaves (others dropped)."""
    pair = {main.key: main, alternative.key: alternative}
    vram = sum(c.vram_estimate_mb for c in pair.values())
    return vram <= policy.max_vram_mb and policy.places(pair.values())


def _unserved_reason(
    role: Role,
    ranked: list[Candidate],
    candidates: list[Candidate],
    loads: dict[str, tuple[Candidate, list[Role]]],
    total_vram: int,
    policy: SelectionPolicy,
    primary: Role,
    step: int,
) -> str:
    serving = [c for c in candidates if c.serves(role)]
    if not serving:
        return f"no model in the registry serves {role!r}"
    if not ranked:
        smallest = min(serving, key=lambda c: c.vram_estimate_mb)
        return (
            f"every model serving {role!r} exceeds the {policy.max_vram_mb} MiB budget on its "
            f"own; the smallest is {_describe(smallest)}"
        )
    best = ranked[0]
    main = next((c for c, served in loads.values() if primary in served), None)
    taken = sum(1 for c, served in loads.values() if primary in served or not is_sidecar(c))
    cheapest = min(ranked, key=lambda c: c.vram_estimate_mb)
    if taken >= policy.max_concurrent_models and not any(is_sidecar(c) for c in ranked):
        return (
            f"the set already loads {taken} model(s), the profile's max_concurrent_models, "
            f"and none of them serves {role!r}; the best alternative is {_describe(best)}"
        )
    if (
        main is not None
        and role != primary
        and not any(_fits_beside(c, main, policy) for c in ranked)
    ):
        within = (
            f", and no {primary} model within one size class ({step} priority points) of the "
            "best serves more of the requested roles"
            if step
            else ""
        )
        return (
            f"no model serving {role!r} fits beside the {primary} model {_describe(main)}; "
            f"the smallest is {_describe(cheapest)}: supporting roles never take memory "
            f"from the {primary} role{within}"
        )
    if total_vram + cheapest.vram_estimate_mb <= policy.max_vram_mb:
        return (
            f"no model serving {role!r} can be placed beside the others: even the smallest, "
            f"{_describe(cheapest)}, fits the budget but no GPU has that much left"
        )
    return (
        f"no model serving {role!r} fits beside the others: the smallest, "
        f"{_describe(cheapest)}, would bring the total to "
        f"{total_vram + cheapest.vram_estimate_mb} MiB > {policy.max_vram_mb} MiB"
    )
