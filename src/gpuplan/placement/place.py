"""``place``: services + a host + a strategy → a ``Placement`` with reasons and warnings.

The steps, each its own module: the host's devices (``devices``: GPUs or MIG
slices, usable on total or free memory), each service's span (``problem``:
tensor parallel only when no single device holds it or the profile's
threshold says so), the strategy (``strategies``), a repair when the strategy
overfilled a device although a fitting placement exists (``_milp.fewest_moves``:
move as few services as possible; pins never move), and seed 004's
warn-but-allow validation with budget auto-adjustment (``validate``).
"""

from __future__ import annotations

from collections.abc import Sequence

from gpuplan.errors import PlacementError
from gpuplan.hardware.model import Host
from gpuplan.placement.devices import On, host_devices
from gpuplan.placement.model import STRATEGIES, Assignment, Placement, Service, Strategy
from gpuplan.placement.problem import Decision, Problem, make_problem
from gpuplan.placement.validate import validate

__all__ = ["place"]


def place(
    services: Sequence[Service],
    host: Host,
    *,
    strategy: Strategy | str = "vram_based",
    on: On = "total",
    tensor_parallel_threshold_mb: int | None = None,
    link_groups: Sequence[Sequence[int]] | None = None,
) -> Placement:
    """Where each service runs on ``host`` under ``strategy``, and why; never refuses to fit.

    Raises ``PlacementError`` for what no strategy can answer: an unknown
    strategy, ``manual`` with unpinned services, a pin to a GPU the host lacks,
    two services of one name.
    """
    if strategy not in STRATEGIES:
        raise PlacementError(
            f"unknown placement strategy {strategy!r}", hint="use one of " + ", ".join(STRATEGIES)
        )
    chosen: Strategy = strategy
    groups = link_groups if link_groups is not None else host.nvlink_groups
    devices, notes = host_devices(host, on=on, link_groups=groups)
    problem = make_problem(
        services, devices, tensor_parallel_threshold_mb=tensor_parallel_threshold_mb
    )
    if not devices:
        return _no_gpu(problem, chosen, notes)
    from gpuplan.placement.strategies import STRATEGY_FUNCTIONS

    decision = STRATEGY_FUNCTIONS[chosen](problem)
    if chosen != "manual":
        decision = _repair(problem, decision, chosen)
    return _placement(problem, _refuse_uneven(problem, decision), chosen, notes)


def _refuse_uneven(problem: Problem, decision: Decision) -> Decision:
    """Leave unplaced a tensor-parallel service no set of this host's GPUs can hold evenly.

    Engines give every rank the same share, so a set with a device smaller than
    that share OOMs there; a strategy must never pick one. Only a pin (the
    user's own choice) may, and ``validate`` warns about it.
    """
    slots = list(decision.slots)
    reasons = list(decision.reasons)
    changed = False
    for s, service in enumerate(problem.services):
        share = problem.share_mb[s]
        if service.gpu is not None or len(slots[s]) < 2 or problem.adjustable[s]:
            continue
        if all(problem.devices[d].usable_mb >= share for d in slots[s]):
            continue
        holding = sum(1 for d in problem.devices if d.mig_index is None and d.usable_mb >= share)
        reasons[s] = (
            f"not placed: tensor parallel over {problem.spans[s]} GPUs needs {share:,} MiB "
            f"on each (engines split evenly); {holding} GPU{'' if holding == 1 else 's'} "
            "of this host hold that"
        )
        slots[s] = ()
        changed = True
    if not changed:
        return decision
    return Decision(tuple(slots), tuple(reasons), decision.solver)


def _no_gpu(problem: Problem, strategy: Strategy, notes: tuple[str, ...]) -> Placement:
    assignments = tuple(
        Assignment(
            service=service.name,
            model=_model_label(service),
            gpu_indices=(),
            vram_budget_mb=service.budget_mb,
            reason="no GPU on this host: it runs on the CPU or not at all",
        )
        for service in problem.services
    )
    warnings = (
        (*notes, "No GPUs detected: nothing was placed on a GPU.") if problem.services else notes
    )
    return Placement(strategy=strategy, assignments=assignments, gpus=(), warnings=warnings)


def _loads(problem: Problem, slots: Sequence[tuple[int, ...]]) -> list[int]:
    used = [0] * len(problem.devices)
    for s, chosen in enumerate(slots):
        for d in chosen:
            used[d] += problem.demand(s, d)
    return used


def _repair(problem: Problem, decision: Decision, strategy: Strategy) -> Decision:
    """Move as few services as possible when the strategy overfilled a device that need not be."""
    used = _loads(problem, decision.slots)
    if all(used[d] <= device.usable_mb for d, device in enumerate(problem.devices)):
        return decision
    from gpuplan.placement._milp import MILP_MAX_PAIRS, fewest_moves, pair_count

    free = [s for s, service in enumerate(problem.services) if service.gpu is None]
    if not free or pair_count(problem, free) > MILP_MAX_PAIRS:
        return decision
    fixed = [0] * len(problem.devices)
    for s, service in enumerate(problem.services):
        if service.gpu is not None:
            for d in decision.slots[s]:
                fixed[d] += problem.demand(s, d)
    result = fewest_moves(problem, free, fixed, {s: decision.slots[s] for s in free})
    if result is None:
        return decision  # nothing fits every device: keep the strategy's answer, warn later
    slots = list(decision.slots)
    reasons = list(decision.reasons)
    moved = 0
    for s in free:
        new = result.slots[s]
        if set(new) != set(slots[s]):
            moved += 1
            was = ", ".join(problem.devices[d].label for d in slots[s]) or "no device"
            now = ", ".join(problem.devices[d].label for d in new)
            reasons[s] = (
                f"moved to fit: {strategy} would have put it on {was}, overfilling it; "
                f"{now} has room"
            )
            slots[s] = new
    solver = f"{decision.solver}; {moved} moved to fit (highs milp, fewest moves)"
    return Decision(tuple(slots), tuple(reasons), solver)


def _model_label(service: Service) -> str | None:
    if service.model is not None:
        return service.model
    if len(service.models) == 1:
        return service.models[0]
    if service.models:
        return f"model zoo ({len(service.models)} models)"
    return None


def _placement(
    problem: Problem, decision: Decision, strategy: Strategy, notes: tuple[str, ...]
) -> Placement:
    checked = validate(problem, decision.slots)
    # plain dicts, validated once by Placement: 20,000 models built one by one
    # cost more than placing them
    assignments: list[dict[str, object]] = []
    for s, service in enumerate(problem.services):
        chosen = decision.slots[s]
        devices = [problem.devices[d] for d in chosen]
        assignments.append(
            {
                "service": service.name,
                "model": _model_label(service),
                "gpu_indices": tuple(device.gpu_index for device in devices),
                "vram_budget_mb": checked.budgets_mb[s],
                "reason": decision.reasons[s],
                "mig_device": devices[0].mig_index if len(devices) == 1 else None,
                "budget_adjusted": checked.adjusted[s],
            }
        )
    used: dict[int, int] = {}
    usable: dict[int, int] = {}
    names: dict[int, list[str]] = {}
    gpu_name: dict[int, str] = {}
    for device in problem.devices:
        index = device.gpu_index
        used.setdefault(index, 0)
        usable[index] = usable.get(index, 0) + device.usable_mb
        names.setdefault(index, [])
        gpu_name[index] = device.name
    for s, chosen in enumerate(decision.slots):
        for d in chosen:
            index = problem.devices[d].gpu_index
            used[index] += checked.shares_mb[s]
            names[index].append(problem.services[s].name)
    fills = [
        {
            "index": index,
            "name": gpu_name[index],
            "used_mb": used[index],
            "usable_mb": usable[index],
            "services": tuple(names[index]),
        }
        for index in used
    ]
    return Placement.model_validate(
        {
            "strategy": strategy,
            "assignments": assignments,
            "gpus": fills,
            "warnings": (*notes, *checked.warnings),
            "solver": decision.solver,
        }
    )
