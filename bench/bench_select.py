"""Time registry loading, role selection and joint selection on 1,000 generated models.

    .venv/bin/python bench/bench_select.py [--models 1000] [--seed 7] [--repeat 5]

The registry is generated (seeded, so runs compare), written as TOML and loaded
through the same path as a user file; each model has 1-3 variants with fixed
VRAM figures, 1-4 of the nine roles, and priorities drawn from a few values so
ties (the hard case for the exact joint search) are common. Prints the median
of ``--repeat`` runs of each step. Then all nine roles are selected jointly on
the packaged registry, on a registry-shaped set of ~770 candidates, and on a
random adversarial set (reported, not hidden: it is where exactness costs).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

from gpuplan.models.registry import ROLES, load_registry
from gpuplan.selection.candidates import Candidate, build_candidates
from gpuplan.selection.joint import select_joint
from gpuplan.selection.policy import SelectionPolicy
from gpuplan.selection.select import RoleSelector

T = TypeVar("T")

QUANTS = (("BF16", 2.0), ("FP8", 1.0), ("AWQ", 0.55), ("Q4_K_M", 0.6), ("Q8_0", 1.06))
POLICIES = (
    SelectionPolicy(
        name="constrained_16gb",
        max_vram_mb=14000,
        max_concurrent_models=1,
        preferred_quantizations=("q4_k_m", "fp8", "awq", "q5_k_m", "q8_0"),
        model_selection_bias="vram_efficient",
    ),
    SelectionPolicy(
        name="balanced_24gb",
        max_vram_mb=22000,
        max_concurrent_models=2,
        preferred_quantizations=("fp8", "awq", "q4_k_m", "q5_k_m"),
        model_selection_bias="balanced",
    ),
    SelectionPolicy(
        name="generous_96gb",
        max_vram_mb=90000,
        max_concurrent_models=5,
        preferred_quantizations=("fp8", "awq", "bf16", "fp16"),
        model_selection_bias="quality",
    ),
)


def top_three_each(selector: RoleSelector) -> list[list[Candidate]]:
    return [selector.select_for_role(role, 3) for role in ROLES]


def generate_registry(models: int, seed: int) -> str:
    """TOML text of ``models`` random entries."""
    rng = random.Random(seed)
    lines: list[str] = []
    for index in range(models):
        params = rng.choice((0.5, 1, 3, 4, 7, 8, 12, 14, 24, 32, 70))
        roles = rng.sample(ROLES, rng.randint(1, 4))
        priorities = ", ".join(f"{r} = {rng.choice((40, 55, 70, 80, 85, 90, 95))}" for r in roles)
        lines += [
            "[[models]]",
            f'id = "gen-{index:04d}"',
            f'name = "Generated {index}"',
            'backend = "vllm"',
            'family = "generated"',
            f"parameters_b = {params}",
            f"role_priority = {{ {priorities} }}",
            'source = "bench"',
        ]
        for quant, bytes_per_param in rng.sample(QUANTS, rng.randint(1, 3)):
            vram = int(params * 1024 * bytes_per_param + rng.randint(800, 3000))
            lines += [
                "[[models.variants]]",
                f'quantization = "{quant}"',
                f"vram_estimate_mb = {vram}",
                'vram_estimate_source = "bench"',
            ]
    return "\n".join(lines) + "\n"


def timed(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    """Median wall time of ``repeat`` calls (seconds) and the last result."""
    times: list[float] = []
    result: T
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def ms(seconds: float) -> str:
    return f"{seconds * 1000:9.2f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--node-limit", type=int, default=1_000_000)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.toml"
        path.write_text(generate_registry(args.models, args.seed), encoding="utf-8")
        load_time, registry = timed(
            lambda: load_registry([path], packaged=False, user=False, env={}), args.repeat
        )
    build_time, candidates = timed(lambda: build_candidates(registry), args.repeat)
    print(f"{len(registry)} models, {len(candidates)} candidates (seed {args.seed})")
    print(f"load registry (TOML parse + validation) {ms(load_time)}")
    print(f"build candidates                        {ms(build_time)}")

    for policy in POLICIES:
        print(f"\n{policy.name}: {policy.max_vram_mb} MiB, {policy.max_concurrent_models} "
              f"at once, bias {policy.model_selection_bias}")  # fmt: skip
        selector = RoleSelector(candidates, policy)
        per_role, _ = timed(
            partial(top_three_each, selector),
            args.repeat,
        )
        print(f"  select_for_role, top 3, each of 9 roles {ms(per_role / len(ROLES))} per role")
        chat_model = next(
            c.model_id for c in candidates[len(candidates) // 2 :] if c.serves("chat")
        )
        explain, why = timed(
            partial(selector.explain_selection, "chat", chat_model),
            args.repeat,
        )
        print(f"  explain_selection                       {ms(explain)} ({why.status})")
        for roles in (("chat", "embedding", "caption"), ("chat", "reasoning", "description")):
            joint, result = timed(
                partial(select_joint, candidates, roles, policy),
                args.repeat,
            )
            print(
                f"  joint {','.join(roles):32s}{ms(joint)}  "
                f"{result.nodes:6d} nodes, priority {result.total_priority}, "
                f"{result.total_vram_mb} MiB, optimal={result.optimal}"
            )

    packaged = load_registry(user=False, env={})
    costed = build_candidates(packaged)
    shaped = registry_shaped(costed, copies=6, seed=args.seed)
    print(
        f"\nall nine roles at once (one model per role), {len(costed)} packaged candidates "
        f"and {len(shaped)} registry-shaped ones (the packaged set plus 5 jittered fine-tune "
        "copies):"
    )
    for name, instance in (("packaged", costed), ("registry-shaped", shaped)):
        for policy in POLICIES:
            joint, result = timed(partial(select_joint, instance, ROLES, policy), args.repeat)
            print(
                f"  {name:16s} {policy.name:17s}{ms(joint)}  {result.nodes:7d} nodes, "
                f"priority {result.total_priority}, optimal={result.optimal}"
            )
    stress = random_instance(args.seed)
    policy = POLICIES[2]
    joint, result = timed(
        lambda: select_joint(stress, ROLES, policy, node_limit=args.node_limit), 1
    )
    print(
        f"\nstress: 9 roles x ~130 random candidates each ({len(stress)} total, random role "
        f"sets, 5 priority levels), {policy.name}: {ms(joint)}, {result.nodes} nodes, "
        f"optimal={result.optimal}"
    )

    cost, _ = timed(lambda: build_candidates(packaged), args.repeat)
    print(
        f"\npackaged registry: {len(packaged)} models, {len(costed)} variants costed by the "
        f"estimator in {ms(cost)}"
    )
    return 0


def registry_shaped(base: Sequence[Candidate], copies: int, seed: int) -> list[Candidate]:
    """The packaged candidates plus jittered copies: many fine-tunes of the same families.

    Role sets stay those of real models (VLMs serve the vision roles, LLMs chat
    and reasoning, embedders embedding); VRAM moves by -10..+15 %, priorities by
    up to 6 points either way.
    """
    rng = random.Random(seed)
    out = list(base)
    for copy in range(1, copies):
        for c in base:
            out.append(
                c.model_copy(
                    update={
                        "model_id": f"{c.model_id}-ft{copy}",
                        "vram_estimate_mb": int(c.vram_estimate_mb * rng.uniform(0.9, 1.15)),
                        "role_priority": {
                            r: max(0, min(100, p + rng.randint(-6, 6)))
                            for r, p in c.role_priority.items()
                        },
                    }
                )
            )
    return out


def random_instance(seed: int) -> list[Candidate]:
    """600 candidates with random role sets (1-3 of 9) and 5 priority levels: adversarial."""
    rng = random.Random(seed + 1)
    candidates: list[Candidate] = []
    for index in range(600):
        roles = rng.sample(ROLES, rng.randint(1, 3))
        candidates.append(
            Candidate(
                model_id=f"r{index}",
                name=f"R{index}",
                backend="vllm",
                quantization=rng.choice(QUANTS)[0],
                vram_estimate_mb=rng.randint(500, 40000),
                role_priority={r: rng.choice((50, 60, 70, 80, 90)) for r in roles},
                parameters_b=rng.choice((1.0, 7.0, 14.0, 32.0)),
            )
        )
    return candidates


if __name__ == "__main__":
    sys.exit(main())
