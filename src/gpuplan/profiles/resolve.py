"""Which profile is active, with which values, and why: a pure function.

Two orders are fixed here as tuples, not chains of ifs:

* **Which profile** (``CHOICE_ORDER``): ``--profile NAME|PATH`` > the
  ``GPUPLAN_DEPLOYMENT_PROFILE`` variable > ``deployment_profile`` in the
  project's pyproject.toml > ``deployment_profile`` in the user's config.toml >
  auto-selection from the hardware > ``development``. An unknown or broken
  name from the flag is an error; from any other source it is a warning and
  the next source is asked (a stale variable must not stop every command).
* **Which value** (layers, lowest first): the hardware (all usable VRAM as the
  budget) < the engine heuristics (auto-selection only) < the profile's
  definitions (built-in < user dir < configs/deployment < pyproject < a path)
  — or the dynamic profile — < explicit flags such as ``--tensor-parallel-size``.

The hardware, the catalog and the request come in; a ``Resolution`` with every
value's provenance goes out. Reading files and the environment is
``gpuplan.profiles.env``'s job.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gpuplan.errors import ProfileNotFoundError
from gpuplan.hardware.model import Host
from gpuplan.profiles.catalog import Catalog
from gpuplan.profiles.errors import ProfileIssuesError
from gpuplan.profiles.lines import KeyPath
from gpuplan.profiles.model import (
    PROFILE_FIELDS,
    DeploymentProfile,
    EngineSettings,
    Issue,
)
from gpuplan.profiles.provenance import FieldSource, Layer, Origin, leaves, merge_layers
from gpuplan.profiles.rules import (
    Budget,
    Fit,
    HostFacts,
    RuleSet,
    basis_mb,
    derive_dynamic,
    describe,
    judge_fit,
    load_rules,
    match_engine_rule,
    match_profile_rule,
    measure,
    nearest,
)
from gpuplan.profiles.sources import ProfileEntry, issues_from_validation

ChoiceSource = Literal["flag", "env", "project_config", "user_config"]
CHOICE_ORDER: tuple[ChoiceSource, ...] = ("flag", "env", "project_config", "user_config")
"""Who may name the profile, highest priority first; auto-selection comes after."""
STRICT_SOURCES: frozenset[ChoiceSource] = frozenset({"flag"})
"""Sources whose unknown or broken profile is an error rather than a warning."""
FALLBACK_PROFILE = "development"
ENV_VAR = "GPUPLAN_DEPLOYMENT_PROFILE"

SelectedBy = Literal["flag", "env", "project_config", "user_config", "auto", "fallback"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Choice(_Frozen):
    """A profile named by one source: a name, or a file path (``path`` set)."""

    source: ChoiceSource
    value: str = Field(description="As the user wrote it.")
    origin: Origin
    path: str | None = Field(default=None, description="Set when value names a file.")


class Override(_Frozen):
    """An explicit value for one field, e.g. ``--tensor-parallel-size 2``."""

    field: str = Field(description="Dotted field, e.g. 'engine.tensor_parallel_size'.")
    value: Any
    origin: Origin


@dataclass(frozen=True)
class ProfileRequest:
    choices: tuple[Choice, ...] = ()
    overrides: tuple[Override, ...] = ()
    warnings: tuple[str, ...] = ()
    """Problems met while reading the sources (e.g. a broken config.toml)."""


class Selection(_Frozen):
    """How the active profile was chosen."""

    by: SelectedBy
    requested: str | None = Field(default=None, description="Name or path as given.")
    origin: Origin
    reason: str


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


class Resolution(_Frozen):
    """The active profile, how it was chosen, and where every value came from."""

    name: str
    profile: DeploymentProfile
    selection: Selection
    auto: AutoDecision | None = Field(
        description="Auto-selection's choice for this host, used or not."
    )
    provenance: dict[str, FieldSource]
    warnings: tuple[str, ...] = ()
    available_profiles: tuple[str, ...]
    manual_override: str | None = Field(
        default=None, description="Seed 001: the name a user forced, else None."
    )


def resolve(
    host: Host,
    catalog: Catalog,
    request: ProfileRequest | None = None,
    rules: RuleSet | None = None,
) -> Resolution:
    """The active profile for ``host`` (see the module docstring for both orders)."""
    request = request or ProfileRequest()
    rules = rules or load_rules()
    facts = measure(host, rules.capabilities)
    warnings: list[str] = list(request.warnings)
    auto = auto_decide(host, facts, catalog, rules)
    picked = _pick(request.choices, catalog, warnings)
    overrides = [_override_layer(o) for o in request.overrides]
    if picked is not None:
        choice, name, entries = picked
        selection = Selection(
            by=choice.source,
            requested=choice.value,
            origin=choice.origin,
            reason=f"{choice.origin.label} names {name}",
        )
        layers = entry_layers(entries)
        manual: str | None = name
    elif auto is not None:
        name, layers = auto.profile, _auto_layers(auto, host, catalog, rules, warnings)
        selection = Selection(
            by="auto",
            origin=Origin(kind="rule", label=f"auto-selection rule {auto.rule_id}"),
            reason=explain_auto(auto),
        )
        manual = None
    else:
        name = FALLBACK_PROFILE
        layers = entry_layers(_usable(catalog.layers(name), warnings))
        selection = Selection(
            by="fallback",
            origin=Origin(kind="default", label="gpuplan default"),
            reason="no source named a profile and no rule matched",
        )
        manual = None
    headroom = _headroom(layers, host)
    layers = [*_hardware_layer(host, headroom), *layers, *overrides]
    profile, provenance = _validate(name, layers, selection.origin)
    warnings += _warnings(profile, host, facts, picked is not None, headroom)
    for entry in _entries_of(picked, auto, catalog):
        warnings += [str(i) for i in entry.issues if i.severity == "warning"]
    return Resolution(
        name=name,
        profile=profile,
        selection=selection,
        auto=auto,
        provenance=provenance,
        warnings=tuple(dict.fromkeys(warnings)),
        available_profiles=catalog.names(),
        manual_override=manual,
    )


def _pick(
    choices: Sequence[Choice], catalog: Catalog, warnings: list[str]
) -> tuple[Choice, str, tuple[ProfileEntry, ...]] | None:
    rank = {source: i for i, source in enumerate(CHOICE_ORDER)}
    for choice in sorted(choices, key=lambda c: rank[c.source]):
        entries = _lookup(choice, catalog)
        strict = choice.source in STRICT_SOURCES
        if entries is None:
            error = _not_found(choice, catalog)
            if strict:
                raise error
            warnings.append(f"{choice.origin}: {error}; ignored, auto-selection goes on")
            continue
        broken = [i for e in entries for i in e.issues if i.severity == "error"]
        if broken:
            error_ = ProfileIssuesError(f"profile {entries[-1].name} is broken", broken)
            if strict:
                raise error_
            warnings.append(f"{choice.origin}: {error_}; ignored")
            continue
        return choice, entries[-1].name, entries
    return None


def _lookup(choice: Choice, catalog: Catalog) -> tuple[ProfileEntry, ...] | None:
    if choice.path is not None:
        own = [e for e in catalog.entries if e.kind == "path" and e.file == choice.path]
        if not own:
            return None
        name = own[0].name
        return (*(e for e in catalog.layers(name) if e.kind != "path"), own[0])
    layers = tuple(e for e in catalog.layers(choice.value) if e.kind != "path")
    return layers or None


def _not_found(choice: Choice, catalog: Catalog) -> ProfileNotFoundError:
    if choice.path is not None:
        return ProfileNotFoundError(
            f"no profile file {choice.path}", hint="check the path, or give a profile name"
        )
    names = catalog.names()
    close = difflib.get_close_matches(choice.value, names, n=3)
    hint = (
        (f"did you mean {', '.join(close)}? " if close else "") + "available: " + ", ".join(names)
    )
    return ProfileNotFoundError(f"no deployment profile named {choice.value!r}", hint=hint)


def _usable(entries: Sequence[ProfileEntry], warnings: list[str]) -> tuple[ProfileEntry, ...]:
    """Broken definitions are skipped (with a warning) when no one asked for them by name."""
    kept = []
    for entry in entries:
        if entry.broken:
            first = next(i for i in entry.issues if i.severity == "error")
            warnings.append(f"{entry.label} is broken and was skipped: {first}")
        else:
            kept.append(entry)
    return tuple(kept)


def merged_profile(name: str, catalog: Catalog) -> DeploymentProfile | None:
    """A catalog profile's definitions merged, without the hardware; None if broken."""
    entries = [e for e in catalog.layers(name) if e.kind != "path" and not e.broken]
    if not entries:
        return None
    merged, _ = merge_layers(entry_layers(entries))
    try:
        return DeploymentProfile.model_validate(merged)
    except ValidationError:
        return None


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
            "engine_reason": describe(engine[0].reason, facts),
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
            f"Seed 000 looks only at GPU 0 ({host.gpus[0].name}), the smaller card here; "
            "gpuplan sizes the budget on the largest card instead."
        )
    return tuple(notes)


def explain_auto(auto: AutoDecision) -> str:
    """The auto-selection decision as a sentence or three."""
    text = f"Seed 000's rule {auto.rule_id} applies ({auto.rule_reason}) and names "
    text += f"{auto.rule_profile}."
    if auto.fit is not None:
        text = text[:-1] + f"; {auto.fit.reason}"
        if auto.dynamic:
            text += (
                f", so gpuplan derives {auto.profile} from the real usable VRAM, with "
                f"preferences borrowed from {auto.borrowed_from}."
            )
        else:
            text += f", so {auto.profile} is kept."
    if auto.engine_profile is not None:
        text += (
            f" Engine settings come from {auto.engine_profile} (seed 002 heuristic "
            f"{auto.engine_rule_id}: {auto.engine_reason})."
        )
    for note in auto.notes:
        text += f" {note}"
    return text


def _auto_layers(
    auto: AutoDecision, host: Host, catalog: Catalog, rules: RuleSet, warnings: list[str]
) -> list[Layer]:
    layers: list[Layer] = []
    if auto.engine_profile is not None:
        label = f"seed 002 heuristic {auto.engine_rule_id} →"
        for entry in _usable(catalog.layers(auto.engine_profile), warnings):
            if "engine" in entry.data:
                layers.append(_entry_layer(entry, only="engine", kind="rule", label=label))
    if not auto.dynamic:
        return layers + entry_layers(_usable(catalog.layers(auto.profile), warnings))
    facts = measure(host, rules.capabilities)
    basis = basis_mb(auto.budget, facts)
    gpus = 1 if auto.budget == "largest_gpu" else facts.gpu_count
    borrowed_name = auto.borrowed_from or auto.rule_profile
    borrowed = merged_profile(borrowed_name, catalog) or DeploymentProfile()
    dynamic = derive_dynamic(
        basis, gpus, host.headroom_mb_per_gpu, borrowed_name, borrowed, host.summary()
    )
    origins: dict[KeyPath, Origin] = {
        (key,): Origin(kind="rule", label=f"dynamic-profile rule: {dynamic.reasons[key]}")
        for key in dynamic.values
    }
    base = Origin(kind="rule", label="dynamic-profile rule")
    return [*layers, Layer(data=dynamic.values, origin=base, origins=origins)]


def _entry_layer(
    entry: ProfileEntry,
    *,
    only: str | None = None,
    kind: Literal["rule"] | None = None,
    label: str | None = None,
) -> Layer:
    data = {only: entry.data[only]} if only is not None else dict(entry.data)
    base = Origin(
        kind=kind or entry.kind,
        label=f"{label} {entry.label}" if label else entry.label,
        file=entry.file,
    )
    origins: dict[KeyPath, Origin] = {
        path: base.model_copy(update={"line": entry.line_of(path)}) for path in leaves(data)
    }
    return Layer(data=data, origin=base, origins=origins)


def entry_layers(entries: Sequence[ProfileEntry]) -> list[Layer]:
    return [_entry_layer(e) for e in entries]


def _override_layer(override: Override) -> Layer:
    data: dict[str, Any] = {}
    node = data
    *parents, last = override.field.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = override.value
    return Layer(data=data, origin=override.origin)


def _headroom(layers: Sequence[Layer], host: Host) -> int:
    merged, _ = merge_layers(layers)
    value = merged.get("headroom_mb")
    return value if isinstance(value, int) and value >= 0 else host.headroom_mb_per_gpu


def usable_with(host: Host, headroom_mb: int) -> int:
    return sum(max(0, (g.vram_total_mb or 0) - headroom_mb) for g in host.gpus)


def _hardware_layer(host: Host, headroom: int) -> list[Layer]:
    """All usable VRAM as the budget, for profiles that set none (seed 002's)."""
    if not host.gpus:
        return []
    usable = usable_with(host, headroom)
    origin = Origin(
        kind="hardware",
        label=f"all usable VRAM of {host.summary()}: total − {headroom} MiB per GPU",
    )
    return [Layer(data={"max_vram_mb": usable}, origin=origin)]


def _validate(
    name: str, layers: Sequence[Layer], selected: Origin
) -> tuple[DeploymentProfile, dict[str, FieldSource]]:
    merged, provenance = merge_layers(layers)
    merged["profile"] = name
    provenance["profile"] = FieldSource(value=name, origin=selected)
    try:
        profile = DeploymentProfile.model_validate(merged)
    except ValidationError as error:
        issues = [
            _place(issue, provenance) for issue in issues_from_validation(error, file="", lines={})
        ]
        raise ProfileIssuesError(f"profile {name} is inconsistent", issues) from None
    return profile, _complete(profile, provenance)


def _place(issue: Issue, provenance: Mapping[str, FieldSource]) -> Issue:
    source = provenance.get(issue.field)
    if source is None:
        return issue.model_copy(update={"file": None})
    origin = source.origin
    return issue.model_copy(update={"file": origin.file or origin.label, "line": origin.line})


def _complete(
    profile: DeploymentProfile, provenance: dict[str, FieldSource]
) -> dict[str, FieldSource]:
    """Give every field a source: unset ones come from gpuplan's defaults."""
    default = Origin(kind="default", label="gpuplan default")
    result = dict(provenance)
    for field in PROFILE_FIELDS:
        if field == "engine":
            continue
        if field not in result:
            result[field] = FieldSource(value=getattr(profile, field), origin=default)
    ordered = {f: result.pop(f) for f in PROFILE_FIELDS if f in result}
    engine = {k: v for k, v in result.items() if k.startswith("engine.")}
    return {**ordered, **dict(sorted(engine.items())), **result}


def _warnings(
    profile: DeploymentProfile, host: Host, facts: HostFacts, manual: bool, headroom: int
) -> list[str]:
    out: list[str] = []
    usable = usable_with(host, headroom)
    budget = profile.max_vram_mb
    if host.gpus and budget is not None and budget > usable:
        what = "manual override" if manual else "profile"
        out.append(
            f"{what} {profile.profile}: max_vram_mb {budget} MiB may exceed available VRAM "
            f"({usable} MiB usable on {host.summary()})"
        )
    elif manual and host.gpus and budget is not None and usable - budget > usable // 10:
        out.append(
            f"{profile.profile} leaves {usable - budget} of {usable} usable MiB unused; "
            "without --profile gpuplan would size the budget on the real VRAM"
        )
    out += engine_warnings(profile.engine, host, facts)
    if profile.gpu_count is not None and host.gpus and profile.gpu_count != len(host.gpus):
        out.append(
            f"{profile.profile} is written for {profile.gpu_count} GPU(s); this host has "
            f"{len(host.gpus)}"
        )
    return out


def engine_warnings(engine: EngineSettings, host: Host, facts: HostFacts) -> list[str]:
    out: list[str] = []
    tp = engine.tensor_parallel_size
    if tp is not None and tp > 1 and tp > len(host.gpus):
        out.append(
            f"engine.tensor_parallel_size {tp} exceeds the {len(host.gpus)} GPU(s) of this "
            "host; the engine will fail to start"
        )
    if engine.device == "cuda" and not facts.cuda:
        out.append("engine.device is 'cuda' but this host has no CUDA-capable GPU")
    if engine.mixed_precision_dtype == "bf16" and host.gpus and not facts.bf16_capable:
        out.append("engine.mixed_precision_dtype 'bf16' needs Ampere (SM 8.0) or newer")
    return out


def _entries_of(
    picked: tuple[Choice, str, tuple[ProfileEntry, ...]] | None,
    auto: AutoDecision | None,
    catalog: Catalog,
) -> tuple[ProfileEntry, ...]:
    if picked is not None:
        return picked[2]
    if auto is None:
        return ()
    names = [auto.profile, auto.engine_profile]
    return tuple(e for n in names if n for e in catalog.layers(n) if e.kind != "path")
