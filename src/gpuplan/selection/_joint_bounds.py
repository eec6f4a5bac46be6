"""Suffix knapsack bounds for the joint search: how much the remaining roles can still add.

The search's per-node bound (each remaining role at its own best among what
fits now) ignores that the remaining roles compete for the same budget and
model slots; on many roles it is too loose to cut ties. These bounds fix that
with two knapsacks solved once, before the search, by dynamic programming over
the roles from the last one back.

**Why they hold whatever the earlier roles chose (amortisation).** A model
that can serve ``m`` of the requested roles is charged ``vram / m`` (and
``1 / m`` slot) by each role that picks it. However a complete solution shares
its models, the charges of one model add up to at most its VRAM (and one
slot), so the charges of *all* roles fit in the budget (and the slot limit).
The earlier roles' charges are therefore a valid lower bound of what they
consumed, and a knapsack over the remaining roles with the remaining charge
capacity — costs rounded *down* to buckets, capacity rounded down too — is an
upper bound of what they can add. Budget and slots are the knapsack's two
capacities, so the remaining roles cannot spend either twice.

Values are the objective's per-role components (served, priority, preference,
quality) packed into one int64, fields wide enough that sums never carry, so a
numpy ``maximum`` compares them lexicographically. VRAM, which is not per role,
is bounded by what is already loaded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gpuplan.selection.policy import Bias

__all__ = ["BUDGET_BUCKETS", "SLOT_BUCKETS", "Packing", "SuffixBounds", "amortisation_unit"]

BUDGET_BUCKETS = 512
"""Resolution of the knapsack's budget axis (coarser is faster and looser, never wrong)."""
SLOT_BUCKETS = 64
"""Resolution of its slot axis; exact for up to 10 slots when models serve up to 3 roles."""

Matrix = npt.NDArray[np.int64]


def amortisation_unit(shares: Sequence[int]) -> int:
    """Least common multiple of how many roles each model can serve: charges stay integers."""
    return math.lcm(*shares) if shares else 1


@dataclass(frozen=True)
class Packing:
    """Bit layout of (served, priority, first tie field, second tie field) in one int64."""

    shifts: tuple[int, int, int, int]
    masks: tuple[int, int, int, int]
    preference_span: int  # P: a role's preference field is P - preference
    quality_first: bool  # the quality bias ranks quality before preference

    @classmethod
    def plan(
        cls, roles: int, preference_span: int, max_quality: Sequence[int], bias: Bias
    ) -> Packing | None:
        """A layout for these sizes, or None when 62 bits are not enough."""
        widths_by_name = {
            "served": (roles + 1).bit_length(),
            "priority": (100 * roles + 1).bit_length(),
            "preference": (preference_span * roles + 1).bit_length(),
            "quality": (sum(max_quality) + 1).bit_length(),
        }
        order = (
            ("served", "priority", "quality", "preference")
            if bias == "quality"
            else ("served", "priority", "preference", "quality")
        )
        widths = [widths_by_name[name] for name in order]
        if sum(widths) > 62:
            return None
        shifts = []
        position = sum(widths)
        for width in widths:
            position -= width
            shifts.append(position)
        masks = tuple((1 << w) - 1 for w in widths)
        return cls(
            shifts=(shifts[0], shifts[1], shifts[2], shifts[3]),
            masks=(masks[0], masks[1], masks[2], masks[3]),
            preference_span=preference_span,
            quality_first=bias == "quality",
        )

    def pack(self, priority: int, preference: int, quality: int) -> int:
        """One served role's value."""
        tie = (
            (quality, self.preference_span - preference)
            if self.quality_first
            else (self.preference_span - preference, quality)
        )
        fields = (1, priority, *tie)
        return sum(value << shift for value, shift in zip(fields, self.shifts, strict=True))

    def unpack(self, value: int) -> tuple[int, int, int, int]:
        """(served, priority, preference sum, quality sum) of a packed suffix value."""
        s, p, a, b = ((value >> sh) & m for sh, m in zip(self.shifts, self.masks, strict=True))
        quality, flipped = (a, b) if self.quality_first else (b, a)
        return s, p, self.preference_span * s - flipped, quality


@dataclass(frozen=True)
class _Item:
    """One role option in knapsack terms."""

    budget_cost: int  # amortised VRAM, in budget buckets (rounded down)
    slot_cost: int  # amortised slot, in slot buckets (rounded down)
    value: int  # packed


class SuffixBounds:
    """``best(depth, charged_vram, charged_slots)``: the most roles depth.. can still add.

    One knapsack with two capacities (budget buckets x slot buckets), so the
    remaining roles cannot spend the budget and the slots twice.
    """

    def __init__(
        self,
        items: Sequence[Sequence[_Item]],
        *,
        budget_unit: int,
        slot_unit: int,
        budget_capacity: int,
        slot_capacity: int,
    ) -> None:
        self.budget_unit = budget_unit
        self.slot_unit = slot_unit
        self.budget_capacity = budget_capacity
        self.slot_capacity = slot_capacity
        self._table = _suffix_table(
            items, budget_capacity // budget_unit, slot_capacity // slot_unit
        )

    @classmethod
    def build(
        cls,
        options: Sequence[Sequence[tuple[int, int, int]]],
        *,
        budget_capacity: int,
        slot_capacity: int,
    ) -> SuffixBounds:
        """``options[role]`` = (charged VRAM, charged slots, packed value), in charge units."""
        budget_unit = max(1, budget_capacity // BUDGET_BUCKETS)
        slot_unit = max(1, slot_capacity // SLOT_BUCKETS)
        items = [
            [_Item(vram // budget_unit, slots // slot_unit, value) for vram, slots, value in role]
            for role in options
        ]
        return cls(
            items,
            budget_unit=budget_unit,
            slot_unit=slot_unit,
            budget_capacity=budget_capacity,
            slot_capacity=slot_capacity,
        )

    def best(self, depth: int, charged_vram: int, charged_slots: int) -> int:
        """Packed upper bound of what roles ``depth..`` add, given the charges so far."""
        table = self._table[depth]
        b = (self.budget_capacity - charged_vram) // self.budget_unit
        s = (self.slot_capacity - charged_slots) // self.slot_unit
        b = min(max(b, 0), table.shape[1] - 1)
        s = min(max(s, 0), table.shape[0] - 1)
        return int(table[s, b])


def _suffix_table(items: Sequence[Sequence[_Item]], budget: int, slots: int) -> list[Matrix]:
    """table[d][s, b]: best packed value of roles d.. within s slot and b budget buckets."""
    table: list[Matrix] = [np.zeros((slots + 1, budget + 1), dtype=np.int64)]
    for role_items in reversed(items):
        after = table[-1]
        row = after.copy()
        for cost_b, cost_s, value in _pareto(role_items):
            if cost_b > budget or cost_s > slots:
                continue
            candidate = after[: slots + 1 - cost_s, : budget + 1 - cost_b] + value
            np.maximum(row[cost_s:, cost_b:], candidate, out=row[cost_s:, cost_b:])
        table.append(row)
    table.reverse()
    return table


def _pareto(items: Sequence[_Item]) -> list[tuple[int, int, int]]:
    """Options not beaten by one as cheap on both capacities and worth as much."""
    best_at: dict[tuple[int, int], int] = {}
    for item in items:
        key = (item.budget_cost, item.slot_cost)
        if item.value > best_at.get(key, -1):
            best_at[key] = item.value
    ranked = sorted(best_at.items(), key=lambda kv: -kv[1])
    kept: list[tuple[int, int, int]] = []
    for (cost_b, cost_s), value in ranked:
        if not any(b <= cost_b and s <= cost_s for b, s, _ in kept):
            kept.append((cost_b, cost_s, value))
    return kept
