"""Auto-selection as a decision record: seed 000's rule, the fit, the engine heuristic.

``auto_decide`` is computed for every resolution, used or not, so ``--explain``
can say what the hardware alone would have chosen next to a manual choice.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.hardware.model import Host
from gpuplan.profiles.catalog import Catalog
from gpuplan.profiles.layers import entry_layer, entry_layers, merged_profile, usable_entries
from gpuplan.profiles.lines import KeyPath
from gpuplan.profiles.model import DeploymentProfile
from gpuplan.profiles.provenance import Layer, Origin
from gpuplan.profiles.rules import (
    Budget,
    Fit,
    HostFacts,
    RuleSet,
    basis_mb,
    derive_dynamic,
    describe,
    engine_facts,
    judge_fit,
    match_engine_rule,
    match_profile_rule,
    measure,
    nearest,
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AutoDecision(_Frozen):
    """What auto-selection chooses for this host, and every step of why."""

    rule_id: str
    rule_reason: str
    rule_profile: str = Field(description="The profile seed 000's rule names.")
    budget: Budget
    fit: Fit | None
    profile: str = Field(description="The profile auto-selection settles on.")
    dynamic: bool
    borrowed_from: str | None = None
    engine_rule_id: str | None = None
    engine_reason: str | None = None
    engine_profile: str | None = None
    notes: tuple[str, ...] = ()


def auto_decide(
    host: Host, facts: HostFacts, catalog: Catalog, rules: RuleSet
) -> AutoDecision | None:
    """Seed 000's rule, the fit check, maybe a dynamic profile, and seed 002's engine rule."""
    rule = match_profile_rule(facts, rules)
    if rule is None:
        return None
    engine = match_engine_rule(facts, rules, frozenset(catalog.names()))
    engine_fields: dict[str, Any] = {}
    if engine is not None:
        engine_fields = {
            "engine_rule_id": engine[0].id,
            "engine_reason": describe(engine[0].reason, engine_facts(facts))
            + ("; each MIG slice is one GPU to its process" if facts.mig else ""),
            "engine_profile": engine[1],
        }
    notes = _notes(host, facts, rule.budget)
    named = merged_profile(rule.profile, catalog)
    reason = describe(rule.reason, facts)
    common = {"rule_id": rule.id, "rule_reason": reason, "rule_profile": rule.profile}
    if named is None:
        return AutoDecision(
            **common, budget=rule.budget, fit=None, profile=rule.profile, dynamic=False,
            notes=notes, **engine_fields,
        )  # fmt: skip
    basis = basis_mb(rule.budget, facts)
    fit = judge_fit(named, rule.profile, basis, rule, rules.fit)
    if fit.keep:
        return AutoDecision(
            **common, budget=rule.budget, fit=fit, profile=rule.profile, dynamic=False,
            notes=notes, **engine_fields,
        )  # fmt: skip
    gpus = 1 if rule.budget == "largest_gpu" else facts.gpu_count
    candidates = {n: p for n in rules.fit.borrow_from if (p := merged_profile(n, catalog))}
    borrowed = nearest(basis, gpus, candidates) or (rule.profile, named)
    return AutoDecision(
        **common, budget=rule.budget, fit=fit, profile=f"dynamic_{basis // 1024}gb",
        dynamic=True, borrowed_from=borrowed[0], notes=notes, **engine_fields,
    )  # fmt: skip


def _notes(host: Host, facts: HostFacts, budget: Budget) -> tuple[str, ...]:
    if budget != "largest_gpu" or len(host.gpus) < 2:
        return ()
    largest = max(host.gpus, key=lambda g: g.vram_total_mb or 0)
    rest = [g for g in host.gpus if g is not largest]
    left = ", ".join(f"GPU {g.index} ({g.name}, {host.usable_vram_mb(g)} MiB usable)" for g in rest)
    notes = [
        f"The budget is sized on GPU {largest.index} ({largest.name}, "
        f"{facts.largest_usable_mb} MiB usable) alone: one model is not split across "
        f"GPUs of unequal size. {left} is left out of the budget; placement can pin small "
        "models or services to it."
    ]
    if host.gpus[0] is not largest:
        notes.append(
            f"The classic rule looks only at GPU 0 ({host.gpus[0].name}), the smaller card "
            "here; gpuplan sizes the budget on the largest card instead."
        )
    return tuple(notes)


def explain_auto(auto: AutoDecision) -> str:
    """The auto-selection decision as a sentence or three."""
    text = f"Picked from the hardware: {auto.rule_reason}, which calls for "
    text += f"{auto.rule_profile}."
    if auto.fit is not None:
        text = text[:-1] + f"; {auto.fit.reason}"
        if auto.dynamic:
            text += (
                f", so gpuplan derives {auto.profile} from the real usable VRAM, with "
                f"preferences borrowed from {auto.borrowed_from}."
            )
        elif not auto.fit.reason.endswith("as written"):
            text += f", so {auto.profile} is kept."
        else:
            text += "."
    if auto.engine_profile is not None:
        text += f" Engine settings come from {auto.engine_profile} ({auto.engine_reason})."
    for note in auto.notes:
        text += f" {note}"
    return text


def auto_layers(
    auto: AutoDecision, host: Host, catalog: Catalog, rules: RuleSet, warnings: list[str]
) -> list[Layer]:
    layers: list[Layer] = []
    if auto.engine_profile is not None:
        label = f"seed 002 heuristic {auto.engine_rule_id} →"
        for entry in usable_entries(catalog.layers(auto.engine_profile), warnings):
            if "engine" in entry.data:
                layers.append(entry_layer(entry, only="engine", kind="rule", label=label))
        if host.gpus and all(gpu.vendor == "amd" for gpu in host.gpus):
            # TF32 and cuDNN autotuning are CUDA features; ROCm has neither knob.
            knobs = {"engine": {"allow_tf32": False, "cudnn_benchmark": False}}
            layers.append(
                Layer(
                    data=knobs,
                    origin=Origin(kind="rule", label="AMD GPU: CUDA-only knobs (TF32, cuDNN) off"),
                )
            )
    if not auto.dynamic:
        return layers + entry_layers(usable_entries(catalog.layers(auto.profile), warnings))
    facts = measure(host, rules.capabilities)
    basis = basis_mb(auto.budget, facts)
    gpus = 1 if auto.budget == "largest_gpu" else facts.gpu_count
    borrowed_name = auto.borrowed_from or auto.rule_profile
    borrowed = merged_profile(borrowed_name, catalog) or DeploymentProfile()
    dynamic = derive_dynamic(
        basis, gpus, host.headroom_mb_per_gpu, borrowed_name, borrowed, host.summary(),
        tensor_parallel=not facts.mig,
    )  # fmt: skip
    origins: dict[KeyPath, Origin] = {
        (key,): Origin(kind="rule", label=f"dynamic-profile rule: {dynamic.reasons[key]}")
        for key in dynamic.values
    }
    base = Origin(kind="rule", label="dynamic-profile rule")
    return [*layers, Layer(data=dynamic.values, origin=base, origins=origins)]
