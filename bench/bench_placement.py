"""Each placement strategy against the optimum, and every strategy's time at cluster scale.

    .venv/bin/python bench/bench_placement.py [--seed 7] [--instances 40] [--repeat 3]

Part 1: random instances (1-16 GPUs of catalog sizes, 4-60 services of 200 MiB
to 40 GB, some latency-sensitive, one LLM), sized so a fitting placement
usually exists. The optimum is HiGHS's exact min-max utilisation (the
``balanced`` MILP, given a long time limit); each strategy reports its largest
utilisation ÷ the optimum (median and worst), how often it overfilled a GPU
while a fitting placement existed, and its median time.

Part 2: 8,000 GPUs (a mixed fleet) and 20,000 services through ``place`` for
every strategy: ``balanced`` beyond ``MILP_MAX_PAIRS`` runs its greedy, whose
gap to the lower bound ``Placement.solver`` reports. Median of ``--repeat``,
wall-clock and CPU time (the CPU figure is what a shared machine cannot inflate).
``--instances 0`` skips part 1.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Sequence

from gpuplan.hardware import GPU, Host
from gpuplan.placement import Placement, Service, place
from gpuplan.placement._milp import min_max_utilisation
from gpuplan.placement.devices import host_devices
from gpuplan.placement.problem import make_problem

STRATEGIES = ("vram_based", "latency_optimized", "isolation_first", "balanced")
CARDS = (
    ("NVIDIA GeForce RTX 4090", 24564),
    ("NVIDIA RTX A5500", 24564),
    ("NVIDIA RTX A400", 4094),
    ("NVIDIA GeForce RTX 4080", 16376),
    ("NVIDIA H100 80GB HBM3", 81559),
    ("NVIDIA L4", 23034),
)


def random_host(rng: random.Random, gpus: int) -> Host:
    picks = [rng.choice(CARDS) for _ in range(gpus)]
    return Host(
        source="declared",
        gpus=tuple(
            GPU(index=i, name=name, vendor="nvidia", vram_total_mb=mib)
            for i, (name, mib) in enumerate(picks)
        ),
    )


def random_services(rng: random.Random, count: int, room_mb: int) -> list[Service]:
    """``count`` services whose sizes add up to about 85 % of ``room_mb``."""
    weights = [rng.lognormvariate(0, 1.0) for _ in range(count)]
    scale = 0.85 * room_mb / sum(weights)
    services = []
    for i, w in enumerate(weights):
        services.append(
            Service(
                name=f"s{i}",
                vram_mb=max(200, min(40000, int(w * scale))),
                role="llm" if i == 0 else None,
                latency_sensitive=rng.random() < 0.2,
            )
        )
    return services


def peak(placement: Placement) -> float:
    return max((g.used_mb / g.usable_mb for g in placement.gpus if g.usable_mb), default=0.0)


def optimum(host: Host, services: Sequence[Service]) -> tuple[float, bool] | None:
    devices, _ = host_devices(host)
    problem = make_problem(services, devices)
    result = min_max_utilisation(
        problem, list(range(len(services))), [0] * len(devices), time_limit_s=60.0
    )
    return None if result is None else (result.objective, result.optimal)


def part_one(seed: int, instances: int) -> None:
    rng = random.Random(seed)
    ratios: dict[str, list[float]] = {s: [] for s in STRATEGIES}
    times: dict[str, list[float]] = {s: [] for s in STRATEGIES}
    overfilled = dict.fromkeys(STRATEGIES, 0)
    feasible = 0
    proofs = 0
    solvers: dict[str, int] = {}
    for _ in range(instances):
        host = random_host(rng, rng.randint(1, 16))
        services = random_services(rng, rng.randint(4, 60), host.total_usable_vram_mb)
        found = optimum(host, services)
        if found is None or found[0] <= 0:
            continue
        best, proven = found
        proofs += proven
        feasible += best <= 1.0 + 1e-9
        for strategy in STRATEGIES:
            start = time.perf_counter()
            placement = place(services, host, strategy=strategy)
            times[strategy].append(time.perf_counter() - start)
            ratios[strategy].append(peak(placement) / best)
            if best <= 1.0 + 1e-9 and any(g.used_mb > g.usable_mb for g in placement.gpus):
                overfilled[strategy] += 1
            if strategy == "balanced":
                kind = (placement.solver or "").split(",")[0]
                solvers[kind] = solvers.get(kind, 0) + 1
    print(f"Part 1: {instances} random instances, 1-16 GPUs x 4-60 services (seed {seed});")
    print(f"        a fitting placement exists in {feasible}; optimum = HiGHS min-max utilisation")
    print(f"        with 60 s each, proven optimal in {proofs} (else the best found)")
    header = ("strategy", "peak/opt median", "worst", "overfilled", "time median")
    print(f"{header[0]:<18} {header[1]:>15} {header[2]:>7} {header[3]:>10} {header[4]:>12}")
    for strategy in STRATEGIES:
        r = ratios[strategy]
        print(
            f"{strategy:<18} {statistics.median(r):>15.3f} {max(r):>7.3f} "
            f"{overfilled[strategy]:>10} {statistics.median(times[strategy]) * 1000:>10.1f} ms"
        )
    print("balanced solver:", ", ".join(f"{k} x{v}" for k, v in sorted(solvers.items())))


def part_two(seed: int, repeat: int, gpus: int, count: int) -> None:
    rng = random.Random(seed)
    host = random_host(rng, gpus)
    services = random_services(rng, count, host.total_usable_vram_mb)
    print(f"\nPart 2: {gpus:,} GPUs, {count:,} services (median of {repeat})")
    for strategy in STRATEGIES:
        runs = []
        cpu = []
        placement = None
        for _ in range(repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            placement = place(services, host, strategy=strategy)
            runs.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        assert placement is not None
        over = sum(g.used_mb > g.usable_mb for g in placement.gpus)
        print(
            f"{strategy:<18} {statistics.median(runs):>5.2f} s wall "
            f"{statistics.median(cpu):>5.2f} s CPU  peak {peak(placement):6.1%}  "
            f"overfilled GPUs {over:<3} {placement.solver}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--instances", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gpus", type=int, default=8000)
    parser.add_argument("--services", type=int, default=20000)
    args = parser.parse_args(argv)
    if args.instances > 0:
        part_one(args.seed, args.instances)
    part_two(args.seed, args.repeat, args.gpus, args.services)
    return 0


if __name__ == "__main__":
    sys.exit(main())
