"""Auto-selection: which profile a host gets, and when a dynamic one is derived.

The rules live in ``data/rules.toml`` (seed 000's ``recommend_profile`` branch by
branch, seed 002's engine heuristics in order); this module only measures the
host and walks the lists, so the rules can be read, tested and changed without
reading code.

**The dynamic-profile rule.** Seed 000's thresholds stop at 96 GB and put an
80 GB H100 into the 22 000 MiB ``balanced_24gb``, stranding 57 GB. So after a
rule names a profile, its ``max_vram_mb`` is compared with the usable VRAM the
rule sizes on (all GPUs' total − headroom; for a mismatched pair, the largest
GPU's, since one model is not split over unequal cards). The named profile is
kept when its budget fits and leaves at most ``max_stranded_fraction`` (10 %)
of that VRAM unused: this keeps every card seed 000 names (RTX 4080 → 2 %,
RTX 4090 → 2 %, 2× RTX 4080 → 2 %, RTX 6000 Pro 96 GB → 6 %, RTX 3060 → 2 %).
Otherwise gpuplan derives ``dynamic_<N>gb`` (N = usable GiB, rounded down):

* ``max_vram_mb`` = all the usable VRAM, so nothing is stranded and nothing
  overcommitted;
* preferences (quantizations, selection bias, timeouts, grace period) are
  borrowed from the nearest named profile: among ``borrow_from``, those written
  for the same number of GPUs the budget spans (else those written for any
  count), the one whose budget is closest on a log scale (ties: the smaller);
* ``max_concurrent_models`` keeps that profile's MiB per model:
  round(its count × usable / its budget), at least 1;
* ``strategy`` is the borrowed one unless it contradicts the count or the GPU
  count (one model → ``load_unload``; several → ``concurrent_limited``; tensor
  parallelism only over 2+ GPUs).

CPU-only hosts keep ``development`` as seed 000 says: there is no VRAM to strand.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.hardware.model import GPU, Host
from gpuplan.profiles.model import DeploymentProfile, Strategy

Budget = Literal["total", "largest_gpu", "none"]


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class When(_Data):
    """Conditions of one rule; all that are set must hold (see data/rules.toml)."""

    gpu_count: int | None = None
    min_gpu_count: int | None = None
    max_gpu_count: int | None = None
    min_usable_vram_mb: int | None = None
    min_average_vram_mb: int | None = None
    min_primary_usable_mb: int | None = None
    similar_vram: bool | None = None
    cuda: bool | None = None
    bf16_capable: bool | None = None
    below_largest_vram_mb: int | None = None


class ProfileRule(_Data):
    id: str
    when: When
    profile: str
    budget: Budget = Field(description="Which usable VRAM the profile is sized on.")
    reason: str


class EngineRule(_Data):
    id: str
    when: When
    profiles: tuple[str, ...]
    reason: str


class FitPolicy(_Data):
    similar_ratio: float = 1.2
    max_stranded_fraction: float = 0.10
    borrow_from: tuple[str, ...] = ()


class Capabilities(_Data):
    bf16_min_compute_capability: str = "8.0"
    bf16_amd_architectures: tuple[str, ...] = ()


class RuleSet(_Data):
    fit: FitPolicy
    capabilities: Capabilities
    profile_rules: tuple[ProfileRule, ...]
    engine_rules: tuple[EngineRule, ...]


def load_rules() -> RuleSet:
    """The packaged rules (data/rules.toml)."""
    text = (resources.files("gpuplan.profiles") / "data" / "rules.toml").read_text("utf-8")
    return RuleSet.model_validate(tomllib.loads(text))


@dataclass(frozen=True)
class HostFacts:
    """The measurements the rules test, computed once from a ``Host`` (MiB).

    On a MIG host the devices are the slices: a process sees one slice as its GPU, so
    seed 000's arithmetic counts and sizes slices, and ``mig`` is set.
    """

    gpu_count: int
    usable_vram_mb: int
    average_vram_mb: float
    primary_usable_mb: int
    vram_ratio: float
    largest_vram_mb: int
    largest_usable_mb: int
    total_usable_mb: int
    cuda: bool
    bf16_capable: bool
    compute_capability: str
    mig: bool = False
    devices: str = ""

    def as_format_args(self) -> dict[str, Any]:
        return dict(self.__dict__)


def measure(host: Host, capabilities: Capabilities) -> HostFacts:
    """Seed 000's arithmetic on ``host``'s devices, with its headroom, not a fixed 2048."""
    mig = any(gpu.mig_mode for gpu in host.gpus)
    totals = list(host.device_totals_mb()) if mig else [g.vram_total_mb or 0 for g in host.gpus]
    budgets = list(host.device_budgets_mb())
    count = len(totals)
    headroom = host.headroom_mb_per_gpu
    smallest = min(totals, default=0)
    ratio = max(totals) / smallest if count and smallest > 0 else math.inf
    minimum = _cc(capabilities.bf16_min_compute_capability)
    amd = {a.lower() for a in capabilities.bf16_amd_architectures}

    def bf16(gpu: GPU) -> bool:
        cc = gpu.compute_capability_tuple
        if cc is not None:
            return cc >= minimum
        return (gpu.architecture or "").lower() in amd

    ccs = sorted(
        {
            f"compute capability {gpu.compute_capability}, Ampere or newer"
            if gpu.compute_capability
            else f"AMD {gpu.architecture}"
            for gpu in host.gpus
            if gpu.compute_capability or (gpu.vendor == "amd" and gpu.architecture)
        }
    )
    devices = _devices(host, count) if mig else f"{count} GPUs"
    return HostFacts(
        gpu_count=count,
        usable_vram_mb=sum(totals) - headroom * count,
        average_vram_mb=sum(totals) / count if count else 0.0,
        primary_usable_mb=totals[0] - headroom if count else 0,
        vram_ratio=ratio if count else 1.0,
        largest_vram_mb=max(totals, default=0),
        largest_usable_mb=max(budgets, default=0),
        total_usable_mb=host.total_usable_vram_mb,
        cuda=any(
            gpu.vendor in ("nvidia", "amd") or gpu.compute_capability is not None
            for gpu in host.gpus
        ),
        bf16_capable=bool(host.gpus) and all(bf16(gpu) for gpu in host.gpus),
        compute_capability=", ".join(ccs) or "compute capability unknown",
        mig=mig,
        devices=devices,
    )


def _devices(host: Host, count: int) -> str:
    """'7 MIG slices of 1 GPU', or beside whole GPUs '1 MIG slice and 4 GPUs'."""
    split = [gpu for gpu in host.gpus if gpu.mig_mode]
    whole = len(host.gpus) - len(split)
    slices = count - whole

    def plural(n: int, word: str) -> str:
        return f"{n} {word}" + ("" if n == 1 else "s")

    if whole:
        return f"{plural(slices, 'MIG slice')} and {plural(whole, 'GPU')}"
    return f"{plural(slices, 'MIG slice')} of {plural(len(split), 'GPU')}"


def engine_facts(facts: HostFacts) -> HostFacts:
    """The facts seed 002's engine rules see: on MIG one device per process.

    Tensor parallelism cannot span MIG slices (each process is given one), so a MIG
    host is one GPU to the engine however many slices it has — and none, with no GPU
    to run on, when MIG is on but no instance exists yet.
    """
    if not facts.mig:
        return facts
    if facts.gpu_count == 0:
        return dataclasses.replace(facts, cuda=False)
    return dataclasses.replace(facts, gpu_count=1)


def _cc(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


def holds(when: When, facts: HostFacts, fit: FitPolicy) -> bool:
    """True when every condition set in ``when`` holds for ``facts``."""
    checks = [
        when.gpu_count is None or facts.gpu_count == when.gpu_count,
        when.min_gpu_count is None or facts.gpu_count >= when.min_gpu_count,
        when.max_gpu_count is None or facts.gpu_count <= when.max_gpu_count,
        when.min_usable_vram_mb is None or facts.usable_vram_mb >= when.min_usable_vram_mb,
        when.min_average_vram_mb is None or facts.average_vram_mb >= when.min_average_vram_mb,
        when.min_primary_usable_mb is None or facts.primary_usable_mb >= when.min_primary_usable_mb,
        when.similar_vram is None or (facts.vram_ratio < fit.similar_ratio) == when.similar_vram,
        when.cuda is None or facts.cuda == when.cuda,
        when.bf16_capable is None or facts.bf16_capable == when.bf16_capable,
        when.below_largest_vram_mb is None or facts.largest_vram_mb < when.below_largest_vram_mb,
    ]
    return all(checks)


def match_profile_rule(facts: HostFacts, rules: RuleSet) -> ProfileRule | None:
    """The first profile rule that holds: seed 000's recommendation for this host."""
    return next((r for r in rules.profile_rules if holds(r.when, facts, rules.fit)), None)


def match_engine_rule(
    facts: HostFacts, rules: RuleSet, available: set[str] | frozenset[str]
) -> tuple[EngineRule, str] | None:
    """The first engine rule that holds and one of whose profiles exists."""
    facts = engine_facts(facts)
    for rule in rules.engine_rules:
        if holds(rule.when, facts, rules.fit):
            for name in rule.profiles:
                if name in available:
                    return rule, name
    return None


def describe(template: str, facts: HostFacts) -> str:
    return template.format(**facts.as_format_args())


def basis_mb(budget: Budget, facts: HostFacts) -> int:
    """The usable VRAM a rule's profile is sized on."""
    if budget == "none":
        return 0
    return facts.largest_usable_mb if budget == "largest_gpu" else facts.total_usable_mb


class Fit(_Data):
    """How a named profile's budget compares with the VRAM it is sized on."""

    keep: bool
    budget_mb: int | None
    basis_mb: int
    unused_mb: int | None
    reason: str


def judge_fit(
    profile: DeploymentProfile, name: str, basis: int, rule: ProfileRule, fit: FitPolicy
) -> Fit:
    """Keep the named profile, or ask for a dynamic one (the rule in the module docstring)."""
    budget = profile.max_vram_mb
    if rule.budget == "none":
        return Fit(
            keep=True,
            budget_mb=budget,
            basis_mb=0,
            unused_mb=None,
            reason=f"there is no VRAM to size against, so {name} is used as written",
        )
    if budget is None:
        return Fit(
            keep=True,
            budget_mb=None,
            basis_mb=basis,
            unused_mb=0,
            reason=f"{name} sets no max_vram_mb, so its budget is all {basis} usable MiB",
        )
    unused = basis - budget
    limit = int(fit.max_stranded_fraction * basis)
    share = f"{fit.max_stranded_fraction:.0%}"
    if unused < 0:
        return Fit(
            keep=False,
            budget_mb=budget,
            basis_mb=basis,
            unused_mb=unused,
            reason=f"{name}'s {budget} MiB budget is more than the {basis} MiB usable "
            f"(it would overcommit by {-unused} MiB)",
        )
    if unused > limit:
        return Fit(
            keep=False,
            budget_mb=budget,
            basis_mb=basis,
            unused_mb=unused,
            reason=f"{name}'s {budget} MiB budget would leave {unused} MiB of the {basis} MiB "
            f"usable unused, more than {share}",
        )
    return Fit(
        keep=True,
        budget_mb=budget,
        basis_mb=basis,
        unused_mb=unused,
        reason=f"{name}'s {budget} MiB budget fits the {basis} MiB usable and leaves "
        f"{unused} MiB unused, within {share}",
    )


class Dynamic(_Data):
    """A derived profile: its values and, for each, the words that justify it."""

    name: str
    borrowed_from: str
    values: dict[str, Any]
    reasons: dict[str, str]


def nearest(
    basis: int, gpus: int, candidates: Mapping[str, DeploymentProfile]
) -> tuple[str, DeploymentProfile] | None:
    """The named profile whose budget is closest to ``basis`` on a log scale."""
    sized = {n: p for n, p in candidates.items() if p.max_vram_mb}
    same = {n: p for n, p in sized.items() if p.gpu_count == gpus}
    pool = same or {n: p for n, p in sized.items() if p.gpu_count is None} or sized
    if not pool:
        return None

    def distance(item: tuple[str, DeploymentProfile]) -> tuple[float, int]:
        budget = item[1].max_vram_mb or 1
        return abs(math.log(max(basis, 1) / budget)), budget

    return min(pool.items(), key=distance)


def derive_dynamic(
    basis: int,
    gpus: int,
    headroom_mb: int,
    borrowed_name: str,
    borrowed: DeploymentProfile,
    host_summary: str,
    *,
    tensor_parallel: bool = True,
) -> Dynamic:
    """``dynamic_<N>gb`` sized on ``basis`` MiB over ``gpus`` GPUs (module docstring).

    ``tensor_parallel`` False (MIG slices) keeps a tensor-parallel strategy out.
    """
    budget = borrowed.max_vram_mb or max(basis, 1)
    count = max(1, math.floor(borrowed.max_concurrent_models * basis / budget + 0.5))
    strategy: Strategy = borrowed.strategy
    split = gpus >= 2 and tensor_parallel
    if not split and strategy == "tensor_parallel_or_distributed":
        strategy = "load_unload" if count == 1 else "concurrent_limited"
    if count == 1 and strategy in ("concurrent_limited", "concurrent_full"):
        strategy = "load_unload"
    if count >= 2 and strategy == "load_unload":
        strategy = "concurrent_limited"
    name = f"dynamic_{basis // 1024}gb"
    per_model = budget // borrowed.max_concurrent_models
    values: dict[str, Any] = {
        "description": f"Derived from {host_summary}: all {basis} usable MiB; "
        f"preferences from {borrowed_name}",
        "max_vram_mb": basis,
        "max_concurrent_models": count,
        "strategy": strategy,
        "preferred_quantizations": list(borrowed.preferred_quantizations),
        "model_selection_bias": borrowed.model_selection_bias,
        "autostart_timeout_seconds": borrowed.autostart_timeout_seconds,
        "grace_period_seconds": borrowed.grace_period_seconds,
        "gpu_count": gpus,
        "headroom_mb": headroom_mb,
    }
    borrow = f"borrowed from {borrowed_name}, the nearest named profile"
    reasons = {
        "description": "written by the dynamic-profile rule",
        "max_vram_mb": f"all usable VRAM ({basis} MiB = total − {headroom_mb} MiB per GPU)",
        "max_concurrent_models": f"{borrowed_name} allows {borrowed.max_concurrent_models} "
        f"model(s) in {budget} MiB (~{per_model} MiB each); {basis} MiB holds {count}",
        "strategy": f"{borrowed_name}'s {borrowed.strategy!r}"
        + ("" if strategy == borrowed.strategy else f", changed to suit {count} model(s)"),
        "preferred_quantizations": borrow,
        "model_selection_bias": borrow,
        "autostart_timeout_seconds": borrow,
        "grace_period_seconds": borrow,
        "gpu_count": f"the budget spans {gpus} GPU(s)",
        "headroom_mb": "the host's headroom per GPU",
    }
    if split and borrowed.tensor_parallel_threshold_mb is not None:
        values["tensor_parallel_threshold_mb"] = borrowed.tensor_parallel_threshold_mb
        reasons["tensor_parallel_threshold_mb"] = borrow
    return Dynamic(name=name, borrowed_from=borrowed_name, values=values, reasons=reasons)
