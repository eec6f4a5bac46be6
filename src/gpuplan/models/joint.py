"""Joint selection: one model per role, chosen so the whole set fits together.

Picking the best model per role independently (``RoleSelector``) answers "what
is best for captions", not "what can I load *at once* for chat, embeddings and
captions on this GPU". Here the roles are solved together, exactly:

* **constraint** — the distinct loaded models fit ``max_vram_mb`` together and
  number at most ``max_concurrent_models``;
* **sharing** — one loaded model may serve several roles (a VLM doing both
  captions and descriptions); it is loaded once, so its VRAM and its slot count
  once. Two variants of one model are two loads;
* **objective**, compared lexicographically — (1) serve as many roles as
  possible, (2) maximise the summed role priority, (3) the profile's bias, with
  the same components as the single-role order in ``policy``:

  =================  =====================================================
  ``vram_efficient`` fewer preference ranks, less total VRAM, more quality
  ``balanced``       fewer preference ranks, more quality, less total VRAM
  ``quality``        more quality, fewer preference ranks, less total VRAM
  =================  =====================================================

  where preference ranks and quality are summed over roles and VRAM over
  distinct loads; (4) remaining ties go to the assignment whose picks come
  first in each role's own ranking, roles in the order asked. With one role
  the answer is exactly ``RoleSelector.select_for_role(role, 1)``.

**Exact**, by depth-first branch and bound over roles: options per role are
tried best first, so the first complete assignment is usually the greedy one,
and a subtree is cut when an optimistic bound — each remaining role at its own
best among what still fits, ignoring the others — cannot beat the best found.
Bounds are lexicographic in the same components, so ties are cut too. Before
the search, a candidate that serves only one of the requested roles is dropped
when another such candidate of that role ranks higher and needs no more VRAM:
swapping it in can never make a solution worse. Realistic sizes (10 roles x
200 candidates) take milliseconds; ``node_limit`` bounds pathological inputs,
and a result that hit it says ``optimal = False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.errors import ModelError
from gpuplan.models.candidates import Candidate
from gpuplan.models.policy import Bias, SelectionPolicy, quantization_rank, rank_key
from gpuplan.models.registry import Backend, Role, parse_role

__all__ = [
    "DEFAULT_NODE_LIMIT",
    "Dropped",
    "JointSelection",
    "LoadedModel",
    "RolePick",
    "UnservedRole",
    "objective",
    "select_joint",
]

DEFAULT_NODE_LIMIT = 2_000_000
"""Search nodes before giving up on proving optimality (never reached on real registries)."""

ALTERNATIVES_PER_ROLE = 3
"""How many better-ranked models per role the explanation says were dropped, and why."""

Objective = tuple[int, ...]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RolePick(_Frozen):
    """The model chosen for one role."""

    role: Role
    model_id: str
    name: str
    backend: Backend
    quantization: str
    vram_estimate_mb: int = Field(description="VRAM of the chosen variant, MiB.")
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
    roles: tuple[Role, ...]


class Dropped(_Frozen):
    """A model that ranks above the pick for a role on its own, and why the set left it out."""

    role: Role
    model_id: str
    quantization: str
    vram_estimate_mb: int = Field(description="MiB.")
    role_priority: int
    why: Literal["budget", "concurrency", "score"] = Field(
        description="budget: the set would not fit max_vram_mb; concurrency: too many models; "
        "score: it fits, but the chosen set ranks higher overall."
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
    total_priority: int = Field(description="Sum of the picks' role priorities.")
    unserved: tuple[UnservedRole, ...] = ()
    dropped: tuple[Dropped, ...] = ()
    optimal: bool = Field(
        default=True, description="False only when the node limit stopped the proof."
    )
    nodes: int = Field(default=0, description="Search nodes visited.")

    def pick(self, role: Role) -> RolePick | None:
        for pick in self.picks:
            if pick.role == role:
                return pick
        return None


@dataclass(frozen=True, slots=True)
class _Option:
    """One fitting candidate for one role, as the search sees it."""

    index: int  # position in the role's own ranking (tie-break: smaller first)
    load: int  # id of the loaded instance (one per candidate key)
    priority: int
    preference: int
    quality: int
    vram: int


def objective(
    bias: Bias, served: int, priority: int, preference: int, quality: int, vram: int
) -> Objective:
    """The tuple a joint selection maximises (see the module docstring)."""
    if bias == "vram_efficient":
        return (served, priority, -preference, -vram, quality)
    if bias == "quality":
        return (served, priority, quality, -preference, -vram)
    return (served, priority, -preference, quality, -vram)


def _ranked_fitting(
    candidates: Sequence[Candidate], role: Role, policy: SelectionPolicy
) -> list[Candidate]:
    fitting = [c for c in candidates if c.serves(role) and c.vram_estimate_mb <= policy.max_vram_mb]
    return sorted(fitting, key=lambda c: rank_key(c, role, policy))


def _prune_exclusive(
    options: list[_Option], exclusive: set[int], keep_all: bool = False
) -> list[_Option]:
    """Drop exclusive options dominated by a better-ranked exclusive one needing no more VRAM."""
    if keep_all:
        return options
    kept: list[_Option] = []
    cheapest: int | None = None
    for option in options:
        if option.load not in exclusive:
            kept.append(option)
        elif cheapest is None or option.vram < cheapest:
            kept.append(option)
            cheapest = option.vram
    return kept


class _Search:
    """Depth-first branch and bound over roles; state kept in mutable arrays for speed."""

    def __init__(
        self,
        options: list[list[_Option]],
        load_vram: list[int],
        policy: SelectionPolicy,
        node_limit: int,
    ) -> None:
        self.options = options
        self.load_vram = load_vram
        self.budget = policy.max_vram_mb
        self.slots = policy.max_concurrent_models
        self.bias: Bias = policy.model_selection_bias
        self.node_limit = node_limit
        self.refcount = [0] * len(load_vram)
        self.loaded = 0
        self.used = 0
        self.nodes = 0
        self.complete = True
        self.best: Objective | None = None
        self.best_choice: list[_Option | None] = []
        self.choice: list[_Option | None] = [None] * len(options)

    def _feasible(self, option: _Option) -> bool:
        if self.refcount[option.load]:
            return True
        return self.loaded < self.slots and self.used + option.vram <= self.budget

    def _extra(self, option: _Option) -> int:
        return 0 if self.refcount[option.load] else option.vram

    def _bound(self, depth: int, acc: tuple[int, int, int, int]) -> Objective:
        """Optimistic objective of any completion: each remaining role at its own best."""
        served, priority, preference, quality = acc
        tiers: list[list[_Option]] = []
        for role_options in self.options[depth:]:
            best_priority: int | None = None
            tier: list[_Option] = []
            for option in role_options:  # sorted by priority, highest first
                if best_priority is not None and option.priority < best_priority:
                    break
                if self._feasible(option):
                    best_priority = option.priority
                    tier.append(option)
            if tier:
                served += 1
                priority += tier[0].priority
                tiers.append(tier)
        # Later components only matter when the earlier ones tie, i.e. when every
        # remaining role takes an option of its tier; narrow the tiers as we go.
        used = self.used
        parts: dict[str, int] = {}
        order = {
            "vram_efficient": ("preference", "vram", "quality"),
            "balanced": ("preference", "quality", "vram"),
            "quality": ("quality", "preference", "vram"),
        }[self.bias]
        for part in order:
            if part == "preference":
                best = [min(o.preference for o in tier) for tier in tiers]
                parts[part] = -(preference + sum(best))
                tiers = [
                    [o for o in tier if o.preference == b]
                    for tier, b in zip(tiers, best, strict=True)
                ]
            elif part == "quality":
                best = [max(o.quality for o in tier) for tier in tiers]
                parts[part] = quality + sum(best)
                tiers = [
                    [o for o in tier if o.quality == b] for tier, b in zip(tiers, best, strict=True)
                ]
            else:
                extra = max((min(self._extra(o) for o in tier) for tier in tiers), default=0)
                parts[part] = -(used + extra)
        return (served, priority, *(parts[p] for p in order))

    def _value(self, acc: tuple[int, int, int, int]) -> Objective:
        served, priority, preference, quality = acc
        return objective(self.bias, served, priority, preference, quality, self.used)

    def run(self) -> None:
        self._visit(0, (0, 0, 0, 0))

    def _visit(self, depth: int, acc: tuple[int, int, int, int]) -> None:
        self.nodes += 1
        if self.nodes > self.node_limit:
            self.complete = False
            return
        if depth == len(self.options):
            value = self._value(acc)
            if self.best is None or value > self.best:
                self.best = value
                self.best_choice = list(self.choice)
            return
        if self.best is not None and self._bound(depth, acc) <= self.best:
            return
        served, priority, preference, quality = acc
        for option in self.options[depth]:
            if not self._feasible(option):
                continue
            fresh = self.refcount[option.load] == 0
            if fresh:
                self.loaded += 1
                self.used += option.vram
            self.refcount[option.load] += 1
            self.choice[depth] = option
            self._visit(
                depth + 1,
                (
                    served + 1,
                    priority + option.priority,
                    preference + option.preference,
                    quality + option.quality,
                ),
            )
            self.refcount[option.load] -= 1
            if fresh:
                self.loaded -= 1
                self.used -= option.vram
            if not self.complete:
                return
        self.choice[depth] = None
        self._visit(depth + 1, acc)


def select_joint(
    candidates: Sequence[Candidate],
    roles: Sequence[Role | str],
    policy: SelectionPolicy,
    *,
    node_limit: int = DEFAULT_NODE_LIMIT,
    prune: bool = True,
) -> JointSelection:
    """The best set of models serving ``roles`` together under ``policy`` (exact).

    ``prune=False`` switches the dominance pre-filter off (for testing that it
    never changes the answer).
    """
    checked = _check_roles(roles)
    unique = _unique(candidates)
    ranked = {role: _ranked_fitting(unique, role, policy) for role in checked}
    loads: dict[str, int] = {}
    load_vram: list[int] = []
    load_candidate: list[Candidate] = []
    for role in checked:
        for candidate in ranked[role]:
            if candidate.key not in loads:
                loads[candidate.key] = len(load_vram)
                load_vram.append(candidate.vram_estimate_mb)
                load_candidate.append(candidate)
    role_count = [sum(c.serves(r) for r in checked) for c in load_candidate]
    exclusive = {load for load, count in enumerate(role_count) if count == 1}
    options: list[list[_Option]] = []
    for role in checked:
        role_options = [
            _Option(
                index=index,
                load=loads[c.key],
                priority=c.role_priority[role],
                preference=quantization_rank(c.quantization, policy.preferred_quantizations),
                quality=c.quality,
                vram=c.vram_estimate_mb,
            )
            for index, c in enumerate(ranked[role])
        ]
        options.append(_prune_exclusive(role_options, exclusive, keep_all=not prune))

    search = _Search(options, load_vram, policy, node_limit)
    search.run()
    chosen: list[Candidate | None] = [
        None if option is None else load_candidate[option.load]
        for option in (search.best_choice or [None] * len(checked))
    ]
    return _explain(checked, chosen, ranked, unique, policy, search)


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
    search: _Search,
) -> JointSelection:
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
                        role, ranked[role], candidates, loads, total_vram, policy
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
                role_priority=candidate.role_priority[role],
                rank=rank,
                shared_with=tuple(r for r in loads[candidate.key][1] if r != role),
            )
        )
        for alternative in _ranked_above(ranked[role], candidate)[:ALTERNATIVES_PER_ROLE]:
            dropped.append(_dropped(role, position, alternative, roles, chosen, policy))
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
                roles=tuple(served),
            )
            for c, served in loads.values()
        ),
        total_vram_mb=total_vram,
        total_priority=sum(p.role_priority for p in picks),
        unserved=tuple(unserved),
        dropped=tuple(dropped),
        optimal=search.complete,
        nodes=search.nodes,
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
) -> Dropped:
    """Why the set does not use ``alternative`` for ``role``: what swapping it in would do."""
    after = _set_after_swap(position, alternative, chosen)
    vram = sum(c.vram_estimate_mb for c in after.values())
    priority = alternative.role_priority[role]
    pick = chosen[position]
    assert pick is not None
    head = f"{'higher' if priority > pick.role_priority[role] else 'better-ranked'} " + _describe(
        alternative
    )
    why: Literal["budget", "concurrency", "score"]
    if len(after) > policy.max_concurrent_models:
        why = "concurrency"
        reason = (
            f"{head} would make {len(after)} models loaded at once with the other roles; "
            f"max_concurrent_models is {policy.max_concurrent_models}"
        )
    elif vram > policy.max_vram_mb:
        why = "budget"
        reason = (
            f"{head} does not fit with the other roles: {vram} MiB > "
            f"{policy.max_vram_mb} MiB budget"
        )
    else:
        why = "score"
        shared = [r for r, c in zip(roles, chosen, strict=True) if c is pick and r != role]
        reason = f"{head} fits ({vram} MiB), but " + (
            f"the pick {pick.model_id} is shared with {', '.join(shared)}, and the set that "
            "shares it ranks higher overall"
            if shared
            else "the other roles then lose more than this role gains"
        )
    return Dropped(
        role=role,
        model_id=alternative.model_id,
        quantization=alternative.quantization,
        vram_estimate_mb=alternative.vram_estimate_mb,
        role_priority=priority,
        why=why,
        reason=reason,
    )


def _unserved_reason(
    role: Role,
    ranked: list[Candidate],
    candidates: list[Candidate],
    loads: dict[str, tuple[Candidate, list[Role]]],
    total_vram: int,
    policy: SelectionPolicy,
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
    if len(loads) >= policy.max_concurrent_models:
        return (
            f"the set already loads {len(loads)} model(s), the profile's max_concurrent_models, "
            f"and none of them serves {role!r}; the best alternative is {_describe(best)}"
        )
    cheapest = min(ranked, key=lambda c: c.vram_estimate_mb)
    return (
        f"no model serving {role!r} fits beside the others: the smallest, "
        f"{_describe(cheapest)}, would bring the total to "
        f"{total_vram + cheapest.vram_estimate_mb} MiB > {policy.max_vram_mb} MiB"
    )
