"""Seed 004's validation: warn but allow, and auto-adjust a budget on a smaller GPU.

Nothing here refuses a placement (seed 004: "Validation: warn but allow"); it
says what will not fit, in the seed's own words:

* a budget over its GPU: ``ai-enrichment budget (6.8 GB) exceeds GPU 1 (4 GB)``;
  when the budget is a budget (a model zoo, or a user's override) it is
  auto-adjusted to what the GPU can give, and the warning is the seed's API
  text: ``ai-enrichment VRAM budget (6.8 GB) exceeds GPU 1 (4 GB). Auto-adjusted
  to 3.5 GB.``; below what its smallest model needs (or ``MIN_SERVING_MB``)
  the warning adds that it cannot serve there;
* an LLM on a GPU too small for it: ``Nemotron-30B requires ~21.7 GB, GPU 1 only
  has 4 GB``;
* services together over a GPU: ``Combined VRAM (~23 GB) exceeds GPU 1 capacity
  (4 GB)``;
* services together over the host: ``services ask 31.9 GB; this host has 26.1 GB usable``.

Sizes are shown as the seed shows them: GiB with one decimal ("6.8 GB", "4 GB"),
MiB below one ("650 MB"). A GPU is named by its total memory, as the seed does;
the check is against its usable memory (total − headroom), and when a figure
lies between the two the usable amount is added in parentheses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gpuplan.placement.problem import Problem

__all__ = ["MIN_SERVING_MB", "Checked", "gb", "validate"]

MIN_SERVING_MB = 512
"""Below this an auto-adjusted budget serves nothing: a CUDA context alone takes
300–500 MiB before any weights. Used when a zoo's members are not in the
registry (a known member's estimate is the floor otherwise). The budget is still
adjusted — placement stays warn-but-allow — but the warning says it cannot serve."""


def gb(mib: int) -> str:
    """'6.8 GB', '4 GB', '650 MB': seed 004's way of writing sizes (GiB, one decimal)."""
    if mib < 1024:
        return f"{mib} MB"
    text = f"{mib / 1024:.1f}"
    return f"{text.removesuffix('.0')} GB"


@dataclass(frozen=True, slots=True)
class Checked:
    """Budgets after auto-adjustment (whole service, MiB), which were adjusted, and warnings."""

    budgets_mb: tuple[int, ...]
    shares_mb: tuple[int, ...]
    adjusted: tuple[bool, ...]
    warnings: tuple[str, ...]


def _gpu_size(problem: Problem, d: int, amount: int) -> str:
    device = problem.devices[d]
    if device.total_mb >= amount > device.usable_mb:
        return f"{gb(device.total_mb)}, {gb(device.usable_mb)} usable"
    return gb(device.total_mb)


def validate(problem: Problem, slots: Sequence[tuple[int, ...]]) -> Checked:
    """Warnings for a placement, and the budgets once adjusted to the GPUs they landed on."""
    n = len(problem.services)
    shares = list(problem.share_mb)
    adjusted = [False] * n
    warnings: list[str] = []
    fixed = [0] * len(problem.devices)  # what services that cannot shrink hold on each device
    for s in range(n):
        if not problem.services[s].adjustable:
            for d in slots[s]:
                fixed[d] += shares[s]
    for s, service in enumerate(problem.services):
        if not slots[s]:
            if problem.spans[s] > 1 and problem.devices:
                warnings.append(
                    f"{service.name} is not placed: tensor parallel over {problem.spans[s]} "
                    f"GPUs needs {gb(shares[s])} on each GPU (engines split evenly), and this "
                    f"host has not {problem.spans[s]} such GPUs; lower gpus, choose a smaller "
                    "quantization, or pin it with gpu: to accept the risk"
                )
            continue
        tight = min(slots[s], key=lambda d: (problem.devices[d].usable_mb, d))
        device = problem.devices[tight]
        if shares[s] <= device.usable_mb:
            continue
        budget = service.budget_mb
        where = f"{device.label} ({_gpu_size(problem, tight, shares[s])})"
        if len(slots[s]) > 1:
            why = (
                "it is pinned there"
                if service.gpu is not None
                and (problem.tp_floor_mb[s] if problem.tp_floor_mb else 0) > 0
                else f"no {len(slots[s])} GPUs of this host each hold that share"
            )
            warnings.append(
                f"{service.name}: tensor parallel splits it evenly ({gb(shares[s])} per GPU), "
                f"but {device.label} has only {gb(device.usable_mb)} usable; {why}"
            )
        if service.adjustable:
            room = min(problem.devices[d].usable_mb - fixed[d] for d in slots[s])
            shares[s] = max(0, room)
            adjusted[s] = True
            new_budget = shares[s] * len(slots[s])
            floor = service.min_vram_mb or MIN_SERVING_MB
            cannot = ""
            if new_budget < floor:
                what = "any of its models" if service.models else "its model"
                cannot = (
                    f": too small for {what} (the smallest needs ~{gb(floor)}), "
                    "so it cannot serve there"
                    if service.min_vram_mb
                    else f": too small for {what} (a model needs at least {gb(floor)} "
                    "with its CUDA context), so it cannot serve there"
                )
            warnings.append(
                f"{service.name} VRAM budget ({gb(budget)}) exceeds {where}. "
                f"Auto-adjusted to {gb(new_budget)}{cannot}."
            )
        elif service.is_llm:
            label = service.model or service.name
            warnings.append(
                f"{label} requires ~{gb(budget)}, {device.label} only has "
                f"{_gpu_size(problem, tight, shares[s])}"
            )
        else:
            warnings.append(f"{service.name} budget ({gb(budget)}) exceeds {where}")
    used = [0] * len(problem.devices)
    count = [0] * len(problem.devices)
    for s in range(n):
        for d in slots[s]:
            used[d] += shares[s]
            count[d] += 1
    for d, device in enumerate(problem.devices):
        if count[d] > 1 and used[d] > device.usable_mb:
            warnings.append(
                f"Combined VRAM (~{gb(used[d])}) exceeds {device.label} capacity "
                f"({_gpu_size(problem, d, used[d])})"
            )
    asked = sum(service.budget_mb for service in problem.services)
    usable = sum(max(0, device.usable_mb) for device in problem.devices)
    if problem.devices and asked > usable:
        warnings.append(f"services ask {gb(asked)}; this host has {gb(usable)} usable")
    budgets = tuple(
        shares[s] * max(1, len(slots[s])) if adjusted[s] else problem.services[s].budget_mb
        for s in range(n)
    )
    return Checked(budgets, tuple(shares), tuple(adjusted), tuple(warnings))
