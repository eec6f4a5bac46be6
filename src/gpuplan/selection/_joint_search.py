"""The exact search behind ``joint.select_joint``: depth-first branch and bound over roles.

Roles are searched fewest options first; at each role its options are tried in
the role's own ranking, then "unserved". A subtree is cut when an optimistic
bound cannot beat the best assignment found — ties included, since the final
tie-break (each role's pick rank, roles in request order) is compared too. Two
bounds are used: the *tier* bound (each remaining role at its own best among
what fits now, the slots and budget as they stand) and the *suffix knapsack*
bound of ``_joint_bounds`` (the remaining roles sharing what budget and slots
are left). Before the search, ``dominated`` drops candidates that no optimal
set can contain.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from gpuplan.models.registry import Role
from gpuplan.selection._joint_bounds import Packing, SuffixBounds
from gpuplan.selection.candidates import Candidate
from gpuplan.selection.policy import Bias, SelectionPolicy, rank_key

__all__ = ["Objective", "Option", "Search", "dominated", "objective", "suffix_bounds"]

Objective = tuple[int, ...]
UNSERVED = 1 << 30
"""Pick rank of an unserved role in the tie-break: after every real pick."""
_FAR = 1 << 62
"""Beyond any objective component: fills bounds whose first components already decide."""


@dataclass(frozen=True, slots=True)
class Option:
    """One fitting candidate for one role, as the search sees it."""

    index: int  # position in the role's own ranking (tie-break: smaller first)
    load: int  # id of the loaded instance (one per candidate key)
    priority: int
    preference: int
    quality: int
    vram: int
    charge: int = 0  # amortised VRAM (see _joint_bounds), in charge units
    slot_charge: int = 0  # amortised slot, in charge units


def objective(
    bias: Bias, served: int, priority: int, preference: int, quality: int, vram: int
) -> Objective:
    """The tuple a joint selection maximises (``joint``'s docstring says why this order)."""
    if bias == "vram_efficient":
        return (served, priority, -preference, -vram, quality)
    if bias == "quality":
        return (served, priority, quality, -preference, -vram)
    return (served, priority, -preference, quality, -vram)


def dominated(
    loads: Sequence[Candidate],
    roles: Sequence[Role],
    policy: SelectionPolicy,
    slots: Sequence[int] | None = None,
) -> set[int]:
    """Loads no optimal set uses: another load beats them on every role they serve.

    ``d`` dominates ``c`` when ``d`` serves every requested role ``c`` serves at
    no lower priority, needs no more VRAM, and ranks above ``c`` in each of those
    roles (higher priority everywhere, or ``c``'s ties lose on the bias's order).
    ``d`` must also take no more of the profile's model slots than ``c`` (``slots``:
    1 per load, 0 for a sidecar). Swapping ``d`` in for ``c`` then never lowers any
    objective component, never adds a load, and moves every swapped role to an
    earlier-ranked pick, so the swapped set wins even the final tie-break: the
    optimum never contains ``c``.
    """
    if len(loads) < 2:
        return set()
    priority = np.array(
        [[c.role_priority.get(r, -1) for r in roles] for c in loads], dtype=np.int64
    )
    vram = np.array([c.vram_estimate_mb for c in loads], dtype=np.int64)
    # With placement, less VRAM is only "no harder to place" between single-GPU loads:
    # a 2 x 10 GB split needs two roomy GPUs where one 19 GB model needs one.
    single = np.array([c.gpus == 1 for c in loads], dtype=bool)
    slot = np.array(list(slots) if slots is not None else [1] * len(loads), dtype=np.int64)
    order = sorted(range(len(loads)), key=lambda i: rank_key(loads[i], roles[0], policy)[1:])
    tail = np.empty(len(loads), dtype=np.int64)
    tail[order] = np.arange(len(loads))
    dominated: set[int] = set()
    for c in range(len(loads)):
        if not single[c]:
            continue
        served = priority[c] >= 0
        mine = priority[c][served]
        theirs = priority[:, served]
        at_least = np.all(theirs >= mine, axis=1)
        beats = at_least & (vram <= vram[c]) & single & (slot <= slot[c])
        beats &= np.all(theirs > mine, axis=1) | (tail < tail[c])
        beats[c] = False
        if beats.any():
            dominated.add(c)
    return dominated


Acc = tuple[int, int, int, int]
"""(served, priority sum, preference sum, quality sum) of the roles decided so far."""


class Search:
    """Depth-first branch and bound over roles; state kept in mutable fields for speed."""

    def __init__(
        self,
        options: list[list[Option]],
        load_vram: list[int],
        policy: SelectionPolicy,
        node_limit: int,
        suffix: tuple[SuffixBounds, Packing] | None,
        order: list[int],
        placeable: Callable[[frozenset[int]], bool] | None = None,
        load_slots: Sequence[int] | None = None,
        preloaded: Sequence[int] = (),
        charged: tuple[int, int] = (0, 0),
        must_serve: int = 0,
    ) -> None:
        self.placeable = placeable  # can these loads share the GPUs? (None: no check)
        # Model slots each load takes: 1, or 0 for a sidecar (see joint's docstring).
        self.load_slots = list(load_slots) if load_slots is not None else [1] * len(load_vram)
        self.options = options
        self.order = order  # search depth -> position of the role in the request
        self.load_vram = load_vram
        self.budget = policy.max_vram_mb
        self.slots = policy.max_concurrent_models
        self.bias: Bias = policy.model_selection_bias
        self.node_limit = node_limit
        self.suffix = suffix
        self.refcount = [0] * len(load_vram)
        self.loaded = 0
        self.used = 0
        # Charges already spent (knapsack units) by the preloaded loads; see _joint_roles.
        self.charged, self.slot_charged = charged
        self.nodes = 0
        self.complete = True
        self.best: Objective | None = None
        self.found = False  # a complete assignment beat the floor (or anything, unseeded)
        if must_serve > 0:
            # Only completions serving at least must_serve roles are wanted: start from a
            # best that every completion serving fewer loses to.
            self.best = (must_serve - 1, _FAR, _FAR, _FAR, _FAR)
        self.best_indices: tuple[int, ...] = ()
        self.best_choice: list[Option | None] = []
        self.choice: list[Option | None] = [None] * len(options)
        # Each role's pick as its rank in the role's own list, in request order; the
        # final tie-break. Undecided roles hold 0, the smallest they could still get.
        self.indices = [0] * len(options)
        # Loads already in the set before the search (the primary role's pick): they
        # hold their VRAM and slot, and the roles searched here may share them.
        for load in preloaded:
            self.refcount[load] += 1
            self.loaded += self.load_slots[load]
            self.used += load_vram[load]

    def _feasible(self, option: Option) -> bool:
        if self.refcount[option.load]:
            return True
        slot = self.load_slots[option.load]
        if not (self.loaded + slot <= self.slots and self.used + option.vram <= self.budget):
            return False
        if self.placeable is None:
            return True
        loaded = frozenset(i for i, count in enumerate(self.refcount) if count)
        return self.placeable(loaded | {option.load})

    def _extra(self, option: Option) -> int:
        return 0 if self.refcount[option.load] else option.vram

    def _suffix_bound(self, depth: int, acc: Acc, used: int, charged: int, slots: int) -> Objective:
        """Optimistic objective from the knapsack bounds of roles depth.. (see _joint_bounds)."""
        assert self.suffix is not None
        bounds, packing = self.suffix
        s, p, preference, quality = packing.unpack(bounds.best(depth, charged, slots))
        served, priority, pref_sum, quality_sum = acc
        return objective(
            self.bias, served + s, priority + p, pref_sum + preference, quality_sum + quality, used
        )

    def _tier_bound(self, depth: int, acc: Acc) -> Objective:
        """Optimistic objective of any completion: each remaining role at its own best."""
        served, priority, preference, quality = acc
        tiers: list[list[Option]] = []
        refcount, room = self.refcount, self.budget - self.used
        spare_slots = self.slots - self.loaded
        load_slots = self.load_slots
        for role_options in self.options[depth:]:
            best_priority = -1
            tier: list[Option] = []
            for option in role_options:  # sorted by priority, highest first
                if option.priority < best_priority:
                    break
                if refcount[option.load] or (
                    load_slots[option.load] <= spare_slots and option.vram <= room
                ):
                    best_priority = option.priority
                    tier.append(option)
            if tier:
                served += 1
                priority += best_priority
                tiers.append(tier)
        if self.best is not None and (served, priority) != self.best[:2]:
            # The first two components decide; the rest need not be bounded.
            filler = _FAR if (served, priority) > self.best[:2] else -_FAR
            return (served, priority, filler, filler, filler)
        # Later components only matter when the earlier ones tie, i.e. when every
        # remaining role takes an option of its tier; narrow the tiers as we go.
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
                parts[part] = -(self.used + extra)
        return (served, priority, *(parts[p] for p in order))

    def run(self) -> None:
        self._visit(0, (0, 0, 0, 0))

    def _loses(self, bound: Objective) -> bool:
        """True when a subtree with this optimistic objective cannot beat the best found.

        On an equal objective the final tie-break decides: the subtree can still
        win only if its smallest possible pick ranks (undecided roles at 0) come
        before the best's, in request order.
        """
        if self.best is None or bound > self.best:
            return False
        return bound < self.best or tuple(self.indices) >= self.best_indices

    def _cut(self, depth: int, acc: Acc, used: int, charged: int, slots: int) -> bool:
        if self.best is None or self.suffix is None:
            return False
        return self._loses(self._suffix_bound(depth, acc, used, charged, slots))

    def _visit(self, depth: int, acc: Acc) -> None:
        self.nodes += 1
        if self.nodes > self.node_limit:
            self.complete = False
            return
        if depth == len(self.options):
            served, priority, preference, quality = acc
            value = objective(self.bias, served, priority, preference, quality, self.used)
            indices = tuple(self.indices)
            if self.best is None or (value, _neg(indices)) > (self.best, _neg(self.best_indices)):
                self.best, self.best_indices = value, indices
                self.best_choice = list(self.choice)
                self.found = True
            return
        if self._loses(self._tier_bound(depth, acc)):
            return
        served, priority, preference, quality = acc
        position = self.order[depth]
        for option in self.options[depth]:
            if not self._feasible(option):
                continue
            fresh = self.refcount[option.load] == 0
            child: Acc = (
                served + 1,
                priority + option.priority,
                preference + option.preference,
                quality + option.quality,
            )
            used = self.used + (option.vram if fresh else 0)
            charged = self.charged + option.charge
            slots = self.slot_charged + option.slot_charge
            self.indices[position] = option.index
            if self._cut(depth + 1, child, used, charged, slots):
                continue
            if fresh:
                self.loaded += self.load_slots[option.load]
            self.used, self.charged, self.slot_charged = used, charged, slots
            self.refcount[option.load] += 1
            self.choice[depth] = option
            self._visit(depth + 1, child)
            self.refcount[option.load] -= 1
            if fresh:
                self.loaded -= self.load_slots[option.load]
            self.used -= option.vram if fresh else 0
            self.charged -= option.charge
            self.slot_charged -= option.slot_charge
            if not self.complete:
                break
        else:
            self.choice[depth] = None
            self.indices[position] = UNSERVED
            if not self._cut(depth + 1, acc, self.used, self.charged, self.slot_charged):
                self._visit(depth + 1, acc)
        self.choice[depth] = None
        self.indices[position] = 0


def _neg(indices: tuple[int, ...]) -> tuple[int, ...]:
    """Smaller pick ranks win ties: negate so that 'greater is better' holds throughout."""
    return tuple(-i for i in indices)


def suffix_bounds(
    options: list[list[Option]], policy: SelectionPolicy, unit: int
) -> tuple[SuffixBounds, Packing] | None:
    """The knapsack bounds for these options, or None if their values do not fit 62 bits."""
    span = len(policy.preferred_quantizations)
    max_quality = [max((o.quality for o in role), default=0) for role in options]
    packing = Packing.plan(len(options), span, max_quality, policy.model_selection_bias)
    if packing is None:
        return None
    table = [
        [(o.charge, o.slot_charge, packing.pack(o.priority, o.preference, o.quality)) for o in role]
        for role in options
    ]
    bounds = SuffixBounds.build(
        table,
        budget_capacity=policy.max_vram_mb * unit,
        slot_capacity=policy.max_concurrent_models * unit,
    )
    return bounds, packing
