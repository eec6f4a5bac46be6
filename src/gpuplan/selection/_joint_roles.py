"""The primary role and the supporting roles' search, for ``joint.select_joint``.

A set is *for* one role — chat or reasoning when asked, else the first role
asked — and that role gets the best model that fits, whatever the others would
gain: their marginal quality never buys memory from it. Only *serving* a
requested role at all may: the primary may step down by at most one size class
(``one_class_step``: to the priority of the best fitting model one class smaller)
when that serves more of the roles asked. ``Supporting`` builds the other
roles' branch and bound once and runs it with each of the primary's picks
within that step already loaded (``Search(preloaded=...)``); ``select_joint``
compares the results lexicographically.

Sidecars: a supporting model without a KV cache of at most ``SIDECAR_MAX_MB``
(a sub-1B embedder, captioner or detector in fp16, with its runtime) takes no
model slot. ``max_concurrent_models`` limits the generative models that compete
for memory and bandwidth; serving stacks keep a small encoder resident beside
them (Ollama keeps up to three models loaded at once by default, per its FAQ on
``OLLAMA_MAX_LOADED_MODELS``). The knapsack charges stay valid lower bounds: a
sidecar is charged no slot, and a primary pick, which takes one, is charged at
most one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from gpuplan.models.registry import Role
from gpuplan.selection._joint_bounds import amortisation_unit
from gpuplan.selection._joint_search import Option, Search, dominated, suffix_bounds
from gpuplan.selection.candidates import Candidate
from gpuplan.selection.policy import SelectionPolicy, quantization_rank

__all__ = [
    "DEFAULT_NODE_LIMIT",
    "PRIMARY_ROLES",
    "PRIMARY_STEP",
    "SIDECAR_MAX_MB",
    "SIZE_CLASS_BOUNDS_B",
    "Supporting",
    "is_sidecar",
    "one_class_step",
    "placement_check",
    "primary_role",
    "size_class",
    "slots_taken",
]

DEFAULT_NODE_LIMIT = 1_000_000
"""Search nodes before giving up on proving optimality (never reached on real registries)."""

PRIMARY_ROLES: tuple[Role, ...] = ("chat", "reasoning")
"""Roles that make a set's purpose when asked: the first of them asked is the primary."""

PRIMARY_STEP = 5
"""Role-priority points the primary may give up so that more requested roles are served
when no smaller size class fits (``one_class_step`` measures the class otherwise): about
one class on the registry's scale (chat: 235B 95, 70B 90, 32B 86, 27B 84, 24B 82, 20B 80,
14B 78, 8B 72). Serving a role counts; how well it is served never buys the primary's
memory."""

SIZE_CLASS_BOUNDS_B = (2.0, 5.0, 10.0, 17.0, 40.0, 150.0)
"""Where size classes part, in billions of parameters: 1B, 3-4B, 7-9B, 12-15B, 20-35B,
70-120B, 235B and up: the steps self-hosters choose between (a 14B or an 8B on 12 GB)."""

MAX_PRIMARY_STEP = 2 * PRIMARY_STEP
"""However far apart two classes are ranked, the primary never gives up more points."""


def size_class(parameters_b: float) -> int:
    """The model's size class, 0 for the smallest (see ``SIZE_CLASS_BOUNDS_B``)."""
    return sum(parameters_b >= bound for bound in SIZE_CLASS_BOUNDS_B)


def one_class_step(ranked: Sequence[Candidate], primary: Role) -> int:
    """Priority points from the primary's best pick down to the best of the next smaller size
    class that fits, so "one size class" means a class, not a fixed number of points: 70B
    (90) to 32B (86) is 4, 14B (78) to 8B (72) is 6. ``PRIMARY_STEP`` when no smaller class
    fits; at most ``MAX_PRIMARY_STEP``."""
    if not ranked:
        return PRIMARY_STEP
    best = ranked[0]
    below = size_class(best.parameters_b) - 1
    smaller = [c.role_priority[primary] for c in ranked if size_class(c.parameters_b) == below]
    if not smaller:
        return PRIMARY_STEP
    return min(MAX_PRIMARY_STEP, max(0, best.role_priority[primary] - max(smaller)))


SIDECAR_MAX_MB = 2560
"""A supporting model without a KV cache up to this size (a sub-1B embedder, captioner or
detector in fp16, with its runtime) does not take one of max_concurrent_models' slots."""


def primary_role(roles: Sequence[Role]) -> Role:
    """The role the set is for: chat or reasoning (whichever is asked first), else the first."""
    for role in roles:
        if role in PRIMARY_ROLES:
            return role
    return roles[0]


def is_sidecar(candidate: Candidate) -> bool:
    """A small encoder (no KV cache, at most ``SIDECAR_MAX_MB``): no model slot when supporting."""
    return candidate.context is None and candidate.vram_estimate_mb <= SIDECAR_MAX_MB


def slots_taken(chosen: Sequence[Candidate | None], roles: Sequence[Role]) -> int:
    """Model slots a set takes: sidecars serving only supporting roles take none."""
    primary = primary_role(roles)
    main = {c.key for r, c in zip(roles, chosen, strict=True) if c is not None and r == primary}
    return len({c.key for c in chosen if c is not None and (c.key in main or not is_sidecar(c))})


class Supporting:
    """The supporting roles' search, built once and run once per primary pick."""

    def __init__(
        self,
        unique: Sequence[Candidate],
        roles: Sequence[Role],
        ranked: dict[Role, list[Candidate]],
        policy: SelectionPolicy,
        tier: Sequence[Candidate],
        *,
        prune: bool,
    ) -> None:
        self.policy = policy
        self.node_limit = DEFAULT_NODE_LIMIT
        ids: dict[str, int] = {}
        self.loads: list[Candidate] = []
        for candidate in [*tier, *(c for role in roles for c in ranked[role])]:
            if candidate.key not in ids:
                ids[candidate.key] = len(self.loads)
                self.loads.append(candidate)
        self.ids = ids
        tier_ids = {ids[c.key] for c in tier}
        # Slots as supporting loads: 0 for a sidecar. The primary's pick takes one
        # whatever its size (``search``); charges below stay lower bounds either way.
        self.slots = [0 if is_sidecar(c) else 1 for c in self.loads]
        shares = [max(1, sum(c.serves(r) for r in roles)) for c in self.loads]
        unit = amortisation_unit(sorted(set(shares)))
        self.unit = unit
        dropped = dominated(self.loads, roles, policy, self.slots) if prune and roles else set()
        dropped -= tier_ids  # a primary pick is already loaded: nothing replaces it for free
        options: list[list[Option]] = []
        for role in roles:
            options.append(
                [
                    Option(
                        index=index,
                        load=ids[c.key],
                        priority=c.role_priority[role],
                        preference=quantization_rank(
                            c.quantization, policy.preferred_quantizations
                        ),
                        quality=c.quality,
                        vram=c.vram_estimate_mb,
                        charge=c.vram_estimate_mb * (unit // shares[ids[c.key]]),
                        slot_charge=self.slots[ids[c.key]] * (unit // shares[ids[c.key]]),
                    )
                    for index, c in enumerate(ranked[role])
                    if ids[c.key] not in dropped
                ]
            )
        # Roles with the fewest options first: a narrow top of the tree. The tie-break
        # does not depend on this order (it compares pick ranks in request order).
        self.order = sorted(range(len(roles)), key=lambda i: len(options[i]))
        self.searched = [options[i] for i in self.order]
        self.suffix = suffix_bounds(self.searched, policy, unit) if prune else None
        self.placeable = placement_check(self.loads, policy)
        self.load_vram = [c.vram_estimate_mb for c in self.loads]

    def search(self, pick: Candidate | None, node_limit: int, must_serve: int = 0) -> Search:
        """The supporting roles' best completion with ``pick`` (the primary's) loaded.

        Tighter bounds with the pick in: its options cost the supporting roles no
        charge (it is loaded already), and its whole VRAM and slot are charged up
        front. The knapsack bound stays valid: the other loads' charges add up to at
        most what the budget and slots leave beside the pick.
        """
        slots = list(self.slots)
        preloaded: tuple[int, ...] = ()
        searched, suffix, charged = self.searched, self.suffix, (0, 0)
        if pick is not None:
            load = self.ids[pick.key]
            preloaded = (load,)
            slots[load] = 1
            searched = [
                [replace(o, charge=0, slot_charge=0) if o.load == load else o for o in role]
                for role in self.searched
            ]
            if self.suffix is not None:
                suffix = suffix_bounds(searched, self.policy, self.unit)
                charged = (pick.vram_estimate_mb * self.unit, self.unit)
        search = Search(
            searched,
            self.load_vram,
            self.policy,
            node_limit,
            suffix,
            self.order,
            self.placeable,
            load_slots=slots,
            preloaded=preloaded,
            charged=charged,
            must_serve=must_serve,
        )
        search.run()
        return search


def placement_check(
    loads: Sequence[Candidate], policy: SelectionPolicy
) -> Callable[[frozenset[int]], bool] | None:
    """Whether a set of loads (by id) can be placed on the devices; memoised per set.

    Placeability only shrinks as loads are added, so the search may prune on it
    at every step without losing the optimum.
    """
    if policy.device_budgets_mb is None:
        return None
    known: dict[frozenset[int], bool] = {}

    def check(ids: frozenset[int]) -> bool:
        if ids not in known:
            known[ids] = policy.places(loads[i] for i in ids)
        return known[ids]

    return check
