"""Joint selection: one model per role, chosen so the whole set fits together.

Picking the best model per role independently (``RoleSelector``) answers "what
is best for captions", not "what can I load *at once* for chat, embeddings and
captions on this GPU". Here the roles are solved together, exactly:

* **constraint** — the distinct loaded models fit ``max_vram_mb`` together, can
  be placed on the GPUs, and number at most ``max_concurrent_models`` — small
  encoders serving only supporting roles (*sidecars*, ``_joint_roles``) take no
  slot;
* **sharing** — one loaded model may serve several roles (a VLM doing both
  captions and descriptions); it is loaded once, so its VRAM and its slot count
  once. Two variants of one model are two loads;
* **objective**, lexicographic, not summed: the *primary* role (chat or
  reasoning, whichever is asked first; else the first role asked) is what the
  set is for, so its model class comes first and supporting roles (embedding,
  caption, keywords, …) never buy memory from it — (1) the primary's highest
  role priority that fits (its model class), (2) as many supporting roles
  served as possible, (3) the primary's own ranking within that priority (its
  bias and quantization preference, as ``select_for_role``), (4) the supporting
  roles' summed priority, (5) the profile's bias over the supporting roles,
  with the same components as the single-role order in ``policy``:

  =================  =====================================================
  ``vram_efficient`` fewer preference ranks, less total VRAM, more quality
  ``balanced``       fewer preference ranks, more quality, less total VRAM
  ``quality``        more quality, fewer preference ranks, less total VRAM
  =================  =====================================================

  where preference ranks and quality are summed over supporting roles and VRAM
  over all distinct loads; (6) remaining ties go to the assignment whose picks
  come first in each role's own ranking, roles in the order asked. Serving a
  supporting role at all (2) may cost the primary a tie-break (3) — the same
  model class at another precision — but never its class (1). With one role
  the answer is exactly ``RoleSelector.select_for_role(role, 1)``. Tensor
  parallelism is in the candidates: a variant that needs several GPUs is one
  candidate of its own shape (``fit``), so a 70B split over two GPUs competes
  with a 32B on one.

**Exact**, by branch and bound (``_joint_search``), run once per top-priority
primary pick with that pick already loaded (the levels (1)-(3) are then compared
directly, so the bound argument below is unchanged): candidates no optimal set
can contain are dropped first (another candidate serves the same roles at least
as well for no more VRAM); roles are then searched depth first, each role's
options in its own ranking, and a subtree is cut as soon as an optimistic bound
— each remaining role at its best among what fits now, and a knapsack over the
budget and slots the remaining roles must share (``_joint_bounds``) — cannot
beat the best set found, tie-break included. The registry's 55 models for all
ten roles take ~10-35 ms; a 774-candidate registry-shaped stress set (fine-tune
clones) under 0.7 s (``bench/bench_select.py``). Random instances with many
roles, fewer slots than roles and near-identical priorities are the hard case
(a set cover under a knapsack): ``node_limit`` bounds them, and a result that
hit it is the best found, marked ``optimal = False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.errors import ModelError
from gpuplan.models.registry import Backend, Role, parse_role
from gpuplan.selection._joint_roles import (
    DEFAULT_NODE_LIMIT,
    PRIMARY_ROLES,
    SIDECAR_MAX_MB,
    Supporting,
    is_sidecar,
    primary_role,
    slots_taken,
)
from gpuplan.selection._joint_search import Search, objective
from gpuplan.selection.candidates import Candidate
from gpuplan.selection.policy import Bias, SelectionPolicy, rank_key

__all__ = [
    "DEFAULT_NODE_LIMIT",
    "PRIMARY_ROLES",
    "SIDECAR_MAX_MB",
    "Dropped",
    "JointSelection",
    "LoadedModel",
    "RolePick",
    "UnservedRole",
    "is_sidecar",
    "objective",
    "primary_role",
    "select_joint",
    "slots_taken",
]


ALTERNATIVES_PER_ROLE = 3
"""How many better-ranked models per role the explanation says were dropped, and why."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RolePick(_Frozen):
    """The model chosen for one role."""

    role: Role
    model_id: str
    name: str
    backend: Backend
    quantization: str
    vram_estimate_mb: int = Field(description="VRAM of the chosen variant, MiB (all its GPUs).")
    gpus: int = Field(default=1, description="GPUs it is split over (tensor parallel).")
    vram_per_gpu_mb: int = Field(default=0, description="MiB on each of those GPUs.")
    role_priority: int
    rank: int = Field(description="1-based rank of this model in the role's own ranking.")
    shared_with: tuple[Role, ...] = Field(
        default=(), description="Other requested roles the same loaded model serves."
    )


class LoadedModel(_Frozen):
    """One model loaded for the set, with the roles it serves."""

    model_id: str
    quantization: str
    vram_estimate_mb: int = Field(description="MiB, counted once however many roles it serves.")
    gpus: int = Field(default=1, description="GPUs it is split over (tensor parallel).")
    vram_per_gpu_mb: int = Field(default=0, description="MiB on each of those GPUs.")
    roles: tuple[Role, ...]
    sidecar: bool = Field(
        default=False,
        description="A small encoder serving only supporting roles: it takes none of "
        "max_concurrent_models' slots.",
    )


class Dropped(_Frozen):
    """A model that ranks above the pick for a role on its own, and why the set left it out."""

    role: Role
    model_id: str
    quantization: str
    vram_estimate_mb: int = Field(description="MiB.")
    role_priority: int
    why: Literal["budget", "concurrency", "placement", "score", "primary"] = Field(
        description="budget: the set would not fit max_vram_mb; concurrency: too many models; "
        "placement: the set fits the budget but not on the GPUs; "
        "score: it fits, but the chosen set ranks higher overall; "
        "primary: it does not fit beside the primary role's model, and supporting roles "
        "never take memory from it."
    )
    reason: str


class UnservedRole(_Frozen):
    """A requested role that no model in the set serves, and why."""

    role: Role
    reason: str


class JointSelection(_Frozen):
    """The chosen set for several roles, and the alternatives it dropped with reasons."""

    roles: tuple[Role, ...]
    profile: str
    max_vram_mb: int = Field(description="Budget the set had to fit, MiB.")
    max_concurrent_models: int
    model_selection_bias: Bias
    picks: tuple[RolePick, ...] = Field(description="One per served role, in the order asked.")
    models: tuple[LoadedModel, ...] = Field(description="Distinct models to load.")
    total_vram_mb: int = Field(description="Sum over distinct loaded models, MiB.")
    slots_used: int = Field(
        default=0, description="Models counted against max_concurrent_models (not sidecars)."
    )
    total_priority: int = Field(description="Sum of the picks' role priorities.")
    unserved: tuple[UnservedRole, ...] = ()
    dropped: tuple[Dropped, ...] = ()
    optimal: bool = Field(
        default=True, description="False only when the node limit stopped the proof."
    )
    nodes: int = Field(default=0, description="Search nodes visited.")
    primary_role: Role | None = Field(
        default=None,
        description="The role the set is for (chat, reasoning, or the first asked): it gets "
        "its best model first; the other roles share what it leaves.",
    )

    def pick(self, role: Role) -> RolePick | None:
        for pick in self.picks:
            if pick.role == role:
                return pick
        return None


def _ranked_fitting(
    candidates: Sequence[Candidate], role: Role, policy: SelectionPolicy
) -> list[Candidate]:
    fitting = [c for c in candidates if c.serves(role) and policy.admits(c)]
    return sorted(fitting, key=lambda c: rank_key(c, role, policy))


def select_joint(
    candidates: Sequence[Candidate],
    roles: Sequence[Role | str],
    policy: SelectionPolicy,
    *,
    node_limit: int = DEFAULT_NODE_LIMIT,
    prune: bool = True,
) -> JointSelection:
    """The best set of models serving ``roles`` together under ``policy`` (exact).

    ``prune=False`` switches the dominance pre-filter and the knapsack bounds
    off (for testing that they never change the answer).
    """
    checked = _check_roles(roles)
    unique = _unique(candidates)
    ranked = {role: _ranked_fitting(unique, role, policy) for role in checked}
    primary = primary_role(checked)
    supporting = [role for role in checked if role != primary]
    top = ranked[primary]
    tier = [c for c in top if c.role_priority[primary] == top[0].role_priority[primary]]
    problem = Supporting(unique, supporting, ranked, policy, tier, prune=prune)
    best: tuple[tuple[int, ...], Candidate | None, Search] | None = None
    nodes, complete = 0, True
    for position, pick in enumerate(tier or [None]):
        # A later primary pick ranks below the earlier ones in its tier, so it can only
        # win by serving more supporting roles than the best so far: ask for that.
        served = best[0][0] if best is not None else -1
        if best is not None and served >= len(supporting):
            break
        search = problem.search(pick, max(1, node_limit - nodes), must_serve=served + 1)
        nodes += search.nodes
        complete &= search.complete
        if not search.found and best is not None:
            if not complete:
                break
            continue
        value = search.best or (0,)
        # Lexicographic: the primary's priority tier is fixed; then how many supporting
        # roles are served, then the primary's own ranking within its tier, then the
        # supporting roles' priority and the bias over the whole set, then pick ranks.
        key = (value[0], -position, *value[1:], *(-i for i in search.best_indices))
        if best is None or key > best[0]:
            best = (key, pick, search)
        if not complete:
            break
    assert best is not None
    _, pick, search = best
    chosen: list[Candidate | None] = [None] * len(checked)
    if pick is not None:
        chosen[checked.index(primary)] = pick
    for depth, option in enumerate(search.best_choice):
        if option is not None:
            chosen[checked.index(supporting[problem.order[depth]])] = problem.loads[option.load]
    return _explain(checked, chosen, ranked, unique, policy, nodes, complete)


def _check_roles(roles: Sequence[Role | str]) -> tuple[Role, ...]:
    checked = tuple(parse_role(role) for role in roles)
    if not checked:
        raise ModelError("no roles to select for", hint="name at least one role, e.g. chat")
    duplicates = sorted({r for r in checked if checked.count(r) > 1})
    if duplicates:
        raise ModelError(
            f"role(s) {', '.join(duplicates)} asked for more than once",
            hint="name each role once; one model per role is chosen",
        )
    return checked


def _unique(candidates: Sequence[Candidate]) -> list[Candidate]:
    seen: dict[str, Candidate] = {}
    for candidate in candidates:
        if candidate.key in seen and seen[candidate.key] != candidate:
            raise ModelError(
                f"two different candidates share the key {candidate.key!r}",
                hint="each (model, quantization) pair may appear once",
            )
        seen[candidate.key] = candidate
    return list(seen.values())


# --- explanation ------------------------------------------------------------------


def _explain(
    roles: tuple[Role, ...],
    chosen: list[Candidate | None],
    ranked: dict[Role, list[Candidate]],
    candidates: list[Candidate],
    policy: SelectionPolicy,
    nodes: int,
    complete: bool,
) -> JointSelection:
    primary = primary_role(roles)
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
                        role, ranked[role], candidates, loads, total_vram, policy, primary
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
            dropped.append(_dropped(role, position, alternative, roles, chosen, policy, primary))
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
) -> Dropped:
    """Why the set does not use ``alternative`` for ``role``: what swapping it in would do."""
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
    why: Literal["budget", "concurrency", "placement", "score", "primary"]
    if slots > policy.max_concurrent_models:
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
        return (
            f"no model serving {role!r} fits beside the {primary} model {_describe(main)}; "
            f"the smallest is {_describe(cheapest)}, and supporting roles never take memory "
            f"from the {primary} role"
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
