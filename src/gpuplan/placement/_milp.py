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

MIP_REL_GAP = 1e-4
"""HiGHS stops when its solution is proven within 0.01 % of the optimum ("optimal")."""

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


def _linked(problem: Problem, s: int) -> dict[int, list[int]]:
    """NVLink groups with room for all of tensor-parallel service ``s``'s devices."""
    groups: dict[int, list[int]] = {}
    if problem.spans[s] < 2:
        return groups
    for d in problem.eligible(s):
        group = problem.devices[d].link_group
        if group is not None:
            groups.setdefault(group, []).append(d)
    return {g: members for g, members in groups.items() if len(members) >= problem.spans[s]}


def _pairs(problem: Problem, free_services: Sequence[int]) -> list[tuple[int, int]]:
    """(service, device) pairs a service may use: a TP service stays in one NVLink group."""
    pairs = []
    for s in free_services:
        linked = _linked(problem, s)
        allowed = sorted(d for members in linked.values() for d in members) if linked else None
        for d in allowed if allowed is not None else problem.eligible(s):
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
    # One NVLink group per tensor-parallel service, where groups are known:
    # y[s, g] binary, sum_g y = 1, and x[s, d] <= y[s, group(d)] (rows: x - y <= 0).
    n_base = len(devices) + len(free_services)
    link_rows: list[tuple[int, int]] = []  # (pair column, group column)
    choose_rows: list[list[int]] = []  # group columns of one service
    group_cols: list[int] = []
    column = n_x
    pair_col = {pair: i for i, pair in enumerate(pairs)}
    group_col_of: dict[tuple[int, int], int] = {}
    for s in free_services:
        linked = _linked(problem, s)
        if not linked:
            continue
        mine = []
        for g in sorted(linked):
            group_col_of[(s, g)] = column
            mine.append(column)
            group_cols.append(column)
            column += 1
        choose_rows.append(mine)
        for g, members in linked.items():
            for d in members:
                if (s, d) in pair_col:
                    link_rows.append((pair_col[(s, d)], group_col_of[(s, g)]))
    n_y = len(group_cols)
    if minmax:
        starts.append(len(index))
        for d in devices:
            index.append(row_of_device[d])
            value.append(-float(problem.devices[d].usable_mb))
    n_row = n_base
    inf = 1e30
    row_lower = [-inf] * len(devices) + [float(problem.spans[s]) for s in free_services]
    row_upper = [
        -float(fixed_mb[d]) if minmax else float(problem.devices[d].usable_mb - fixed_mb[d])
        for d in devices
    ] + [float(problem.spans[s]) for s in free_services]
    col_cost = [costs.get(pair, 0.0) for pair in pairs] + ([1.0] if minmax else [])
    col_lower = [0.0] * (n_x + (1 if minmax else 0))
    col_upper = [1.0] * n_x + ([inf] if minmax else [])
    highs = _quiet_highs()
    highs.setOptionValue("time_limit", float(time_limit_s))
    highs.setOptionValue("mip_rel_gap", MIP_REL_GAP)
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
    if n_y:  # group columns come after t (or after x without t)
        first = n_x + (1 if minmax else 0)
        highs.addCols(
            n_y,
            np.zeros(n_y),
            np.zeros(n_y),
            np.ones(n_y),
            0,
            np.zeros(n_y, dtype=np.int32),
            np.array([], dtype=np.int32),
            np.array([]),
        )
        shift = first - n_x  # y columns were numbered from n_x above

        def col(c: int) -> int:
            return c + shift if c >= n_x else c

        rows_lower: list[float] = []
        rows_upper: list[float] = []
        row_starts: list[int] = []
        row_index: list[int] = []
        row_value: list[float] = []
        for x_col, y_col in link_rows:
            row_starts.append(len(row_index))
            row_index += [x_col, col(y_col)]
            row_value += [1.0, -1.0]
            rows_lower.append(-inf)
            rows_upper.append(0.0)
        for mine in choose_rows:
            row_starts.append(len(row_index))
            row_index += [col(c) for c in mine]
            row_value += [1.0] * len(mine)
            rows_lower.append(1.0)
            rows_upper.append(1.0)
        highs.addRows(
            len(rows_lower),
            np.array(rows_lower),
            np.array(rows_upper),
            len(row_index),
            np.array(row_starts, dtype=np.int32),
            np.array(row_index, dtype=np.int32),
            np.array(row_value),
        )
    integral = list(range(n_x)) + [n_x + (1 if minmax else 0) + i for i in range(n_y)]
    if integral:
        import highspy

        highs.changeColsIntegrality(
            len(integral),
            np.array(integral, dtype=np.int32),
            np.array([highspy.HighsVarType.kInteger] * len(integral)),
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
    everything = len(problem.devices)
    whole = sum(1 for d in problem.devices if d.mig_index is None)
    return sum(everything if problem.spans[s] == 1 else whole for s in free_services)
