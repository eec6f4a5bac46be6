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
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gpuplan.documents import display_path
from gpuplan.errors import ProfileNotFoundError
from gpuplan.hardware.model import Host
from gpuplan.profiles.auto import AutoDecision, auto_decide, auto_layers, explain_auto
from gpuplan.profiles.catalog import Catalog
from gpuplan.profiles.checks import fit_warnings
from gpuplan.profiles.errors import ProfileIssuesError
from gpuplan.profiles.layers import (
    entry_layers,
    hardware_layer,
    headroom_of,
    override_layer,
    usable_entries,
)
from gpuplan.profiles.model import PROFILE_FIELDS, DeploymentProfile, Issue
from gpuplan.profiles.provenance import FieldSource, Layer, Origin, merge_layers
from gpuplan.profiles.rules import RuleSet, load_rules, measure
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
    overrides = [override_layer(o.field, o.value, o.origin) for o in request.overrides]
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
        name, layers = auto.profile, auto_layers(auto, host, catalog, rules, warnings)
        selection = Selection(
            by="auto",
            origin=Origin(kind="rule", label=f"auto-selection rule {auto.rule_id}"),
            reason=explain_auto(auto),
        )
        manual = None
    else:
        name = FALLBACK_PROFILE
        layers = entry_layers(usable_entries(catalog.layers(name), warnings))
        selection = Selection(
            by="fallback",
            origin=Origin(kind="default", label="gpuplan default"),
            reason="no source named a profile and no rule matched",
        )
        manual = None
    headroom = headroom_of(layers, host)
    layers = [*hardware_layer(host, headroom), *layers, *overrides]
    profile, provenance = _validate(name, layers, selection.origin)
    warnings += fit_warnings(profile, host, facts, picked is not None, headroom)
    for entry in _entries_of(picked, auto, catalog):
        warnings += [str(i) for i in entry.issues if i.severity == "warning"]
    warnings += _skipped_files(catalog)
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


def _skipped_files(catalog: Catalog) -> list[str]:
    """A broken file in a profile directory is skipped, and said so (never silently)."""
    found = []
    for entry in catalog.entries:
        errors = [i for i in entry.issues if i.severity == "error"]
        if errors and entry.kind in ("user", "project"):
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            found.append(f"skipped a broken profile file: {errors[0]}{more}")
    return found


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
        path = Path(choice.path)
        if path.exists() and not path.is_file():
            what = "a directory" if path.is_dir() else "not a regular file (a device or pipe)"
            return ProfileNotFoundError(
                f"profile file {display_path(path)} is {what}",
                hint="give the path of a .toml, .json or .yaml profile, or a profile name",
            )
        return ProfileNotFoundError(
            f"no profile file {display_path(path)}", hint="check the path, or give a profile name"
        )
    names = catalog.names()
    close = difflib.get_close_matches(choice.value, names, n=3)
    hint = (
        (f"did you mean {', '.join(close)}? " if close else "") + "available: " + ", ".join(names)
    )
    return ProfileNotFoundError(f"no deployment profile named {choice.value!r}", hint=hint)


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
