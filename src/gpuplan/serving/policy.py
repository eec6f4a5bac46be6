"""The eviction policy: requested, running, budget → what to evict (or wait, or refuse).

A pure function, as llama-swap's router design and Ollama's scheduler tests
separate it from the process machinery: it reads plain data and says what to
do, so every rule is tested without starting a process.

Rules, from the active profile (seed 000) and issue 14:

* ``strategy`` decides co-residence: ``load_unload`` swaps (one model at a
  time), the ``concurrent_*`` and ``tensor_parallel_or_distributed`` strategies
  keep up to ``max_concurrent_models``.
* Memory never exceeds the budget by the estimates: the total (``max_vram_mb``)
  and each GPU's own free capacity (usable memory minus what other processes
  hold, refreshed from NVML where there is NVML).
* Eviction order: idle before busy (a busy model is never stopped under a
  request: the request waits), then the shortest remaining keep-alive, then the
  lowest role priority, then the longest idle. Pinned models are never evicted.
* A model that cannot fit even with every unpinned model gone is refused with
  the reason, instead of waiting forever.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Budget",
    "Decision",
    "Requested",
    "Resident",
    "co_residence_limit",
    "effective_gpu_capacity",
    "evict_all_others",
    "eviction_order",
    "expired",
    "plan_load",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Resident(_Frozen):
    """A loaded (or loading) service as the policy sees it."""

    name: str
    gpus: tuple[int, ...] = Field(default=(), description="GPU indices; empty = CPU / host RAM.")
    vram_mb: int = Field(ge=0, description="MiB in all, split evenly over gpus.")
    busy: bool = Field(default=False, description="Answering a request or still loading.")
    idle_seconds: float = Field(default=0.0, ge=0, description="Since its last request ended.")
    keep_alive_seconds: int = Field(default=300, ge=-1, description="-1 = forever.")
    pinned: bool = False
    priority: int = Field(default=0, description="Role priority: lower is evicted first.")

    @property
    def keep_alive_left(self) -> float:
        """Seconds of keep-alive left; infinite for -1."""
        if self.keep_alive_seconds < 0:
            return math.inf
        return max(0.0, self.keep_alive_seconds - self.idle_seconds)

    def per_gpu_mb(self) -> int:
        return math.ceil(self.vram_mb / len(self.gpus)) if self.gpus else 0


class Requested(_Frozen):
    """The service a request needs, with the device sets it may be loaded on."""

    name: str
    vram_mb: int = Field(ge=0, description="MiB in all.")
    options: tuple[tuple[int, ...], ...] = Field(
        default=((),),
        description="Device sets it may go on, in preference order; ((),) = CPU only.",
    )


class Budget(_Frozen):
    """What may be loaded at once."""

    max_models: int = Field(ge=1, description="Co-resident models allowed (strategy and limit).")
    total_mb: int | None = Field(
        default=None, ge=0, description="Profile budget over all devices (max_vram_mb)."
    )
    gpu_capacity_mb: Mapping[int, int] = Field(
        default_factory=dict,
        description="Per GPU: MiB our models may use (usable minus what others hold).",
    )


class Decision(_Frozen):
    """What the scheduler should do for one request."""

    action: Literal["load", "wait", "refuse"]
    gpus: tuple[int, ...] = Field(default=(), description="Where to load it ('load').")
    evict: tuple[str, ...] = Field(default=(), description="Stop these first, in this order.")
    reason: str = Field(description="Why, in one sentence.")


def co_residence_limit(strategy: str, max_concurrent_models: int) -> int:
    """How many models may be loaded together: ``load_unload`` swaps, the rest share."""
    return 1 if strategy == "load_unload" else max(1, max_concurrent_models)


def effective_gpu_capacity(
    usable_mb: Mapping[int, int],
    used_now_mb: Mapping[int, int] | None,
    ours_mb: Mapping[int, int],
) -> dict[int, int]:
    """Each GPU's room for our models: usable, less what *other* processes hold now.

    ``used_now_mb`` is NVML's used memory per GPU (None without NVML); what our
    own backends hold (``ours_mb``, measured or estimated) is not held against us.
    """
    if used_now_mb is None:
        return dict(usable_mb)
    room = {}
    for index, usable in usable_mb.items():
        others = max(0, used_now_mb.get(index, 0) - ours_mb.get(index, 0))
        room[index] = max(0, usable - others)
    return room


def eviction_order(running: Sequence[Resident]) -> list[Resident]:
    """Unpinned residents, the first to evict first (idle, keep-alive left, priority)."""
    evictable = [r for r in running if not r.pinned]
    return sorted(
        evictable,
        key=lambda r: (r.busy, r.keep_alive_left, r.priority, -r.idle_seconds, r.name),
    )


def expired(running: Sequence[Resident]) -> list[str]:
    """Idle, unpinned residents whose keep-alive has run out, to unload now."""
    return [
        r.name
        for r in running
        if not r.pinned and not r.busy and r.keep_alive_seconds >= 0 and r.keep_alive_left <= 0
    ]


def evict_all_others(requested: str, running: Sequence[Resident]) -> tuple[str, ...]:
    """For the one retry after a start failed for memory: every idle unpinned other."""
    return tuple(r.name for r in eviction_order(running) if r.name != requested and not r.busy)


def plan_load(requested: Requested, running: Sequence[Resident], budget: Budget) -> Decision:
    """Where to load ``requested`` and what to evict first; or wait; or refuse and why."""
    others = [r for r in running if r.name != requested.name]
    decisions = [_plan_on(requested, gpus, others, budget) for gpus in requested.options]
    loads = [d for d in decisions if d.action == "load"]
    if loads:
        return min(loads, key=lambda d: (len(d.evict), _sum_evicted(d, others)))
    waits = [d for d in decisions if d.action == "wait"]
    if waits:
        return waits[0]
    return Decision(action="refuse", reason="; ".join(d.reason for d in decisions))


def _sum_evicted(decision: Decision, others: Sequence[Resident]) -> int:
    return sum(r.vram_mb for r in others if r.name in decision.evict)


def _violations(
    requested: Requested, gpus: tuple[int, ...], kept: Sequence[Resident], budget: Budget
) -> list[str]:
    """What ``requested`` on ``gpus`` next to ``kept`` would break, in words."""
    problems = []
    if len(kept) + 1 > budget.max_models:
        problems.append(f"count: at most {budget.max_models} model(s) may be loaded at once")
    total = sum(r.vram_mb for r in kept) + requested.vram_mb
    if budget.total_mb is not None and total > budget.total_mb:
        problems.append(f"total: {total} MiB > the budget of {budget.total_mb} MiB")
    per_gpu = math.ceil(requested.vram_mb / len(gpus)) if gpus else 0
    for index in gpus:
        capacity = budget.gpu_capacity_mb.get(index, 0)
        used = sum(r.per_gpu_mb() for r in kept if index in r.gpus)
        if used + per_gpu > capacity:
            problems.append(
                f"gpu{index}: {used} + {per_gpu} MiB > {capacity} MiB free for models on GPU "
                f"{index}"
            )
    return problems


def _helps(resident: Resident, problems: Sequence[str], gpus: tuple[int, ...]) -> bool:
    """Would evicting ``resident`` relieve any of ``problems``?"""
    for problem in problems:
        kind = problem.split(":", 1)[0]
        if kind in ("count", "total"):
            return True
        if kind.startswith("gpu") and int(kind[3:]) in resident.gpus and int(kind[3:]) in gpus:
            return True
    return False


def _plan_on(
    requested: Requested, gpus: tuple[int, ...], others: Sequence[Resident], budget: Budget
) -> Decision:
    where = "GPU " + ",".join(map(str, gpus)) if gpus else "CPU"
    pinned = [r for r in others if r.pinned]
    floor = _violations(requested, gpus, pinned, budget)
    if floor:
        held = f" next to pinned {', '.join(r.name for r in pinned)}" if pinned else ""
        return Decision(
            action="refuse",
            gpus=gpus,
            reason=f"{requested.name} ({requested.vram_mb} MiB) cannot fit on {where}{held}: "
            + "; ".join(p.split(": ", 1)[1] for p in floor),
        )
    kept = list(others)
    evict: list[str] = []
    for candidate in eviction_order(others):
        problems = _violations(requested, gpus, kept, budget)
        if not problems:
            break
        if not _helps(candidate, problems, gpus):
            continue
        if candidate.busy:
            return Decision(
                action="wait",
                gpus=gpus,
                evict=tuple(evict),
                reason=f"{requested.name} needs room that busy {candidate.name} holds: "
                "waiting for its requests to finish",
            )
        kept.remove(candidate)
        evict.append(candidate.name)
    problems = _violations(requested, gpus, kept, budget)
    if problems:  # only reachable when a needed resident was skipped as not helping
        return Decision(action="refuse", gpus=gpus, reason="; ".join(problems))
    reason = f"load {requested.name} on {where}" + (
        f" after evicting {', '.join(evict)}" if evict else ""
    )
    return Decision(action="load", gpus=gpus, evict=tuple(evict), reason=reason)
