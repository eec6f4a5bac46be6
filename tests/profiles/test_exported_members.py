"""The public surface of gpuplan.profiles changes only on purpose."""

from __future__ import annotations

import gpuplan.profiles as profiles


def test_all_names_exist():
    for name in profiles.__all__:
        assert hasattr(profiles, name), name


def test_public_surface():
    assert set(profiles.__all__) == {
        "CHOICE_ORDER", "AutoDecision", "Catalog", "Choice", "DeploymentProfile",
        "EngineSettings", "Explanation", "FieldSource", "FileReport", "Issue", "Layer",
        "Locations", "Origin", "Override", "ProfileDocument", "ProfileIssuesError",
        "ProfileRequest", "Resolution", "RuleSet", "Selection", "build_request", "discover",
        "explain", "flag_overrides", "load_catalog", "load_rules", "merge_layers",
        "profile_document", "profile_json_schema", "render_text", "resolve", "resolve_here",
        "semantic_issues", "validate_file",
    }  # fmt: skip
