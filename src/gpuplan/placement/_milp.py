"""The placement MILPs, solved with HiGHS (highspy): exact ``balanced`` and the repair step.

Both models have one binary x[s, d] per (unpinned service, device it may use);
a service takes exactly ``span`` devices (distinct by construction, so a
tensor-parallel service gets distinct GPUs). Pinned services are constants.

* ``min_max_utilisation``: minimise t subject to, on every device,
  pinned + Σ share·x ≤ t·usable. The optimum is the smallest possible largest
  utilisation (used ÷ usable), so a placement with every device within
  capacity exists exactly when t* ≤ 1.
* ``fewest_moves``: capacity is a hard constraint (pinned + Σ share·x ≤
  usable) and the objective counts services moved off a strategy's choice:
  the closest fitting placement to what the strategy wanted.

HiGHS prints a banner to the process's stdout when a ``Highs`` object is made;
``_quiet_highs`` sends file descriptor 1 to /dev/null meanwhile, so
``gpuplan plan --json`` stays clean. highspy is imported here, inside
functions, to keep it off the CLI's start-up path.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gpuplan.placement.problem import Problem

__all__ = [
    "MILP_MAX_PAIRS",
    "MILP_TIME_LIMIT_S",
    "MilpResult",
    "fewest_moves",
    "min_max_utilisation",
]

MILP_MAX_PAIRS = 4000
"""Largest model solved exactly: (unpinned service, device) pairs, e.g. 16 GPUs x 250 services."""

MILP_TIME_LIMIT_S = 5.0
"""Wall-clock limit per solve; a stopped solve reports its proven gap."""


@dataclass(frozen=True, slots=True)
class MilpResult:
    slots: dict[int, tuple[int, ...]]
    objective: float
    optimal: bool
    gap: float | None
    """Relative gap HiGHS proved (0 when optimal), None when unknown."""


def _quiet_highs() -> Any:
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        highs = highspy.Highs()  # type: ignore[no-untyped-call]
        highs.setOptionValue("output_flag", False)
        ctypes.CDLL(None).fflush(None)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)
    return highs


def _pairs(problem: Problem, free_services: Sequence[int]) -> list[tuple[int, int]]:
    pairs = []
    for s in free_services:
        for d in problem.eligible(s):
            if problem.devices[d].usable_mb > 0 or problem.share_mb[s] == 0:
                pairs.append((s, d))
    return pairs


def _solve(
    problem: Problem,
    free_services: Sequence[int],
    fixed_mb: Sequence[int],
    *,
    costs: dict[tuple[int, int], float],
    minmax: bool,
    time_limit_s: float,
) -> MilpResult | None:
    import numpy as np

    pairs = _pairs(problem, free_services)
    n_x = len(pairs)
    n_col = n_x + (1 if minmax else 0)
    devices = [d for d in range(len(problem.devices)) if problem.devices[d].usable_mb > 0]
    row_of_device = {d: i for i, d in enumerate(devices)}
    row_of_service = {s: len(devices) + i for i, s in enumerate(free_services)}
    # column-wise sparse matrix
    starts: list[int] = []
    index: list[int] = []
    value: list[float] = []
    for s, d in pairs:
        starts.append(len(index))
        if d in row_of_device:
            index.append(row_of_device[d])
            value.append(float(problem.demand(s, d)))
        index.append(row_of_service[s])
        value.append(1.0)
    if minmax:
        starts.append(len(index))
        for d in devices:
            index.append(row_of_device[d])
            value.append(-float(problem.devices[d].usable_mb))
    n_row = len(devices) + len(free_services)
    inf = 1e30
    row_lower = [-inf] * len(devices) + [float(problem.spans[s]) for s in free_services]
    row_upper = [
        -float(fixed_mb[d]) if minmax else float(problem.devices[d].usable_mb - fixed_mb[d])
        for d in devices
    ] + [float(problem.spans[s]) for s in free_services]
    col_cost = [costs.get(pair, 0.0) for pair in pairs] + ([1.0] if minmax else [])
    col_lower = [0.0] * n_col
    col_upper = [1.0] * n_x + ([inf] if minmax else [])
    highs = _quiet_highs()
    highs.setOptionValue("time_limit", float(time_limit_s))
    highs.setOptionValue("mip_rel_gap", 1e-6)
    highs.setOptionValue("threads", 1)
    highs.addRows(
        n_row,
        np.array(row_lower),
        np.array(row_upper),
        0,
        np.zeros(n_row, dtype=np.int32),
        np.array([], dtype=np.int32),
        np.array([]),
    )
    highs.addCols(
        n_col,
        np.array(col_cost),
        np.array(col_lower),
        np.array(col_upper),
        len(index),
        np.array(starts, dtype=np.int32),
        np.array(index, dtype=np.int32),
        np.array(value),
    )
    if n_x:
        import highspy

        highs.changeColsIntegrality(
            n_x,
            np.arange(n_x, dtype=np.int32),
            np.array([highspy.HighsVarType.kInteger] * n_x),
        )
    highs.run()
    status = highs.modelStatusToString(highs.getModelStatus())
    info = highs.getInfo()
    if info.primal_solution_status != 2:  # no feasible solution
        return None
    values = highs.getSolution().col_value
    slots: dict[int, list[int]] = {s: [] for s in free_services}
    for (s, d), x in zip(pairs, values, strict=False):
        if x > 0.5:
            slots[s].append(d)
    optimal = status == "Optimal"
    gap = 0.0 if optimal else (float(info.mip_gap) if info.mip_gap < inf else None)
    return MilpResult(
        {s: tuple(sorted(chosen)) for s, chosen in slots.items()},
        float(info.objective_function_value),
        optimal,
        gap,
    )


def min_max_utilisation(
    problem: Problem,
    free_services: Sequence[int],
    fixed_mb: Sequence[int],
    *,
    time_limit_s: float = MILP_TIME_LIMIT_S,
) -> MilpResult | None:
    """Exact balanced placement of ``free_services`` around ``fixed_mb`` already used."""
    return _solve(
        problem, free_services, fixed_mb, costs={}, minmax=True, time_limit_s=time_limit_s
    )


def fewest_moves(
    problem: Problem,
    free_services: Sequence[int],
    fixed_mb: Sequence[int],
    wanted: dict[int, tuple[int, ...]],
    *,
    time_limit_s: float = MILP_TIME_LIMIT_S,
) -> MilpResult | None:
    """A placement within every device's capacity that keeps as much of ``wanted`` as it can."""
    costs = {
        (s, d): 0.0 if d in wanted.get(s, ()) else 1.0
        for s in free_services
        for d in problem.eligible(s)
    }
    return _solve(
        problem, free_services, fixed_mb, costs=costs, minmax=False, time_limit_s=time_limit_s
    )


def pair_count(problem: Problem, free_services: Sequence[int]) -> int:
    """How many binaries a model of ``free_services`` has (to compare with MILP_MAX_PAIRS)."""
    return sum(len(problem.eligible(s)) for s in free_services)
