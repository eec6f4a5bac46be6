"""Profile stage: which deployment profile is active, with which values, and why.

A profile holds a serving policy (seeds 000/001) and engine settings (seed 002).
Profiles come from the package, the user's config directory, the project's
``configs/deployment/`` and pyproject.toml, or a path; one is chosen by flag,
environment, config setting or the hardware rules, and every value keeps its
provenance. ``resolve`` is pure; ``resolve_here`` reads this machine's files.
"""

from __future__ import annotations

from gpuplan.profiles.auto import AutoDecision
from gpuplan.profiles.catalog import Catalog, Locations, load_catalog
from gpuplan.profiles.document import ProfileDocument, profile_document
from gpuplan.profiles.env import build_request, discover, flag_overrides, resolve_here
from gpuplan.profiles.errors import ProfileIssuesError
from gpuplan.profiles.explain import Explanation, explain, render_text
from gpuplan.profiles.model import DeploymentProfile, EngineSettings, Issue, semantic_issues
from gpuplan.profiles.provenance import FieldSource, Layer, Origin, merge_layers
from gpuplan.profiles.resolve import (
    CHOICE_ORDER,
    Choice,
    Override,
    ProfileRequest,
    Resolution,
    Selection,
    resolve,
)
from gpuplan.profiles.rules import RuleSet, load_rules
from gpuplan.profiles.schema import profile_json_schema
from gpuplan.profiles.validate import FileReport, validate_file

__all__ = [
    "CHOICE_ORDER",
    "AutoDecision",
    "Catalog",
    "Choice",
    "DeploymentProfile",
    "EngineSettings",
    "Explanation",
    "FieldSource",
    "FileReport",
    "Issue",
    "Layer",
    "Locations",
    "Origin",
    "Override",
    "ProfileDocument",
    "ProfileIssuesError",
    "ProfileRequest",
    "Resolution",
    "RuleSet",
    "Selection",
    "build_request",
    "discover",
    "explain",
    "flag_overrides",
    "load_catalog",
    "load_rules",
    "merge_layers",
    "profile_document",
    "profile_json_schema",
    "render_text",
    "resolve",
    "resolve_here",
    "semantic_issues",
    "validate_file",
]
