"""Precedence, one small test per pair, plus overrides, warnings and the seed-001 document.

Order: --profile > $GPUPLAN_DEPLOYMENT_PROFILE > pyproject [tool.gpuplan] setting >
~/.config/gpuplan/config.toml setting > auto-selection > development.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gpuplan.errors import ProfileNotFoundError
from gpuplan.hardware.model import Host
from gpuplan.profiles import (
    CHOICE_ORDER,
    Catalog,
    ProfileIssuesError,
    ProfileRequest,
    Resolution,
    flag_overrides,
    profile_document,
    resolve,
    resolve_here,
)
from gpuplan.profiles.env import build_request, discover
from gpuplan.profiles.rules import RuleSet, load_rules


def write_settings(root: Path, *, project: str | None = None, user: str | None = None) -> None:
    if project is not None:
        (root / "pyproject.toml").write_text(
            f'[project]\nname = "x"\n\n[tool.gpuplan]\ndeployment_profile = "{project}"\n'
        )
    if user is not None:
        config = root / "home" / ".config" / "gpuplan"
        config.mkdir(parents=True, exist_ok=True)
        (config / "config.toml").write_text(f'deployment_profile = "{user}"\n')


def here(
    host: Callable[..., Host],
    spec: str = "RTX 4090",
    flag: str | None = None,
    env: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> Resolution:
    environ = {"HOME": str(Path.cwd() / "home")}
    if env is not None:
        environ["GPUPLAN_DEPLOYMENT_PROFILE"] = env
    resolution, _ = resolve_here(host(spec), flag, flag_overrides(overrides or {}), environ=environ)
    return resolution


def test_choice_order_is_the_documented_tuple():
    assert CHOICE_ORDER == ("flag", "env", "project_config", "user_config")


def test_flag_beats_env(host):
    resolution = here(host, flag="cpu", env="gpu_8bit")
    assert (resolution.name, resolution.selection.by) == ("cpu", "flag")
    assert resolution.manual_override == "cpu"


def test_env_beats_project_setting(tmp_path, host):
    write_settings(tmp_path, project="gpu_4bit")
    resolution = here(host, env="gpu_8bit")
    assert (resolution.name, resolution.selection.by) == ("gpu_8bit", "env")


def test_project_setting_beats_user_setting(tmp_path, host):
    write_settings(tmp_path, project="gpu_4bit", user="cpu")
    resolution = here(host)
    assert (resolution.name, resolution.selection.by) == ("gpu_4bit", "project_config")
    origin = resolution.provenance["profile"].origin
    assert origin.file == str(tmp_path / "pyproject.toml") and origin.line == 5


def test_user_setting_beats_auto(tmp_path, host):
    write_settings(tmp_path, user="cpu")
    resolution = here(host)
    assert (resolution.name, resolution.selection.by) == ("cpu", "user_config")


def test_xdg_config_home_is_honoured(tmp_path, host):
    config = tmp_path / "xdg" / "gpuplan"
    config.mkdir(parents=True)
    (config / "config.toml").write_text('deployment_profile = "gpu_4bit"\n')
    environ = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    resolution, _ = resolve_here(host("RTX 4090"), environ=environ)
    assert resolution.name == "gpu_4bit"


def test_auto_beats_fallback(host):
    resolution = here(host)
    assert (resolution.name, resolution.selection.by) == ("balanced_24gb", "auto")


def test_fallback_is_development_when_no_rule_matches(host, builtins):
    rules = load_rules()
    empty = RuleSet(
        fit=rules.fit, capabilities=rules.capabilities, profile_rules=(), engine_rules=()
    )
    resolution = resolve(host("RTX 4090"), builtins, rules=empty)
    assert (resolution.name, resolution.selection.by) == ("development", "fallback")


def test_unknown_flag_name_is_an_error_listing_the_profiles(host):
    with pytest.raises(ProfileNotFoundError) as caught:
        here(host, flag="balanced_42gb")
    text = str(caught.value)
    assert "balanced_42gb" in text and "balanced_24gb" in text and "development" in text


def test_unknown_env_name_is_a_warning_and_auto_goes_on(host):
    resolution = here(host, env="nope")
    assert resolution.selection.by == "auto"
    assert any("$GPUPLAN_DEPLOYMENT_PROFILE" in w and "nope" in w for w in resolution.warnings)


def test_unknown_config_name_is_a_warning(tmp_path, host):
    write_settings(tmp_path, project="nope")
    resolution = here(host)
    assert resolution.selection.by == "auto"
    assert any("nope" in w for w in resolution.warnings)


def test_profile_by_path(tmp_path, host):
    path = tmp_path / "custom.json"
    path.write_text(json.dumps({"profile": "custom", "engine": {"device": "cpu"}}, indent=2))
    resolution = here(host, flag=str(path))
    assert resolution.name == "custom"
    origin = resolution.provenance["engine.device"].origin
    assert (origin.kind, origin.file, origin.line) == ("path", str(path), 4)


def test_relative_path_from_env(tmp_path, host):
    (tmp_path / "mine.yaml").write_text("max_vram_mb: 5000\n")
    resolution = here(host, env="./mine.yaml")
    assert (resolution.name, resolution.profile.max_vram_mb) == ("mine", 5000)


def test_missing_path_from_flag_is_not_found(host):
    with pytest.raises(ProfileNotFoundError, match="no profile file"):
        here(host, flag="./missing.json")


def test_broken_profile_from_flag_names_file_field_and_fix(tmp_path, host):
    path = tmp_path / "bad.toml"
    path.write_text('[engine]\nquantization_bits = "eight"\n')
    with pytest.raises(ProfileIssuesError) as caught:
        here(host, flag=str(path))
    text = str(caught.value)
    assert str(path) in text and "engine.quantization_bits" in text and "whole number" in text


def test_engine_flags_override_profile_values(host):
    resolution = here(host, flag="cloud_gpu_tp4_fp16", spec="8x H100-80GB",
                      overrides={"engine.tensor_parallel_size": 8})  # fmt: skip
    source = resolution.provenance["engine.tensor_parallel_size"]
    assert source.value == 8 and source.origin.label == "--tensor-parallel-size"
    assert source.shadowed[0].value == 4 and source.shadowed[0].origin.kind == "builtin"


def test_contradicting_flag_is_named(host):
    with pytest.raises(ProfileIssuesError) as caught:
        here(host, flag="gpu_8bit", overrides={"engine.quantization_bits": 4})
    text = str(caught.value)
    assert "--quantization-bits" in text and "bnb-8bit" in text


def test_manual_profile_larger_than_hardware_warns(host):
    resolution = here(host, spec="RTX 4080", env="balanced_24gb")
    assert resolution.name == "balanced_24gb"
    assert any("may exceed available VRAM" in w for w in resolution.warnings)


def test_manual_profile_that_strands_memory_says_so(host):
    resolution = here(host, spec="H100-80GB", flag="balanced_24gb")
    assert resolution.profile.max_vram_mb == 22000
    assert any("unused" in w for w in resolution.warnings)


def test_tensor_parallel_larger_than_gpus_warns(host):
    resolution = here(host, spec="2x RTX 4090", flag="cloud_gpu_tp4_fp16")
    assert any("tensor_parallel_size 4 exceeds the 2 GPU(s)" in w for w in resolution.warnings)


def test_seed_002_profile_budget_is_all_usable_vram(host):
    resolution = here(host, spec="H100-80GB", flag="gpu_8bit")
    assert resolution.profile.max_vram_mb == 81559 - 2048
    assert resolution.provenance["max_vram_mb"].origin.kind == "hardware"


def test_profile_headroom_changes_the_derived_budget(tmp_path, host):
    path = tmp_path / "roomy.toml"
    path.write_text("headroom_mb = 4096\n")
    resolution = here(host, spec="H100-80GB", flag=str(path))
    assert resolution.profile.max_vram_mb == 81559 - 4096


def test_document_has_seed_001_shape(host, builtins):
    machine = host("RTX 4080 @ 16GB")
    document = profile_document(resolve(machine, builtins), machine).model_dump(mode="json")
    assert list(document)[:5] == [
        "active_profile",
        "detected_gpus",
        "total_usable_vram_mb",
        "available_profiles",
        "manual_override",
    ]
    active = document["active_profile"]
    assert active["name"] == "constrained_16gb" and active["max_vram_mb"] == 14000
    assert active["preferred_quantizations"][:3] == ["q4_k_m", "fp8", "awq"]
    assert active["strategy"] == "load_unload"
    assert active["model_selection_bias"] == "vram_efficient"
    assert document["total_usable_vram_mb"] == 14336
    assert document["manual_override"] is None
    gpu = document["detected_gpus"][0]
    assert gpu["total_vram_mb"] == 16384 and gpu["compute_capability"] == [8, 9]
    assert {"constrained_16gb", "development"} <= set(document["available_profiles"])
    assert document["provenance"]["max_vram_mb"]["origin"]["kind"] == "builtin"


def test_resolution_is_pure_for_a_given_request(host, builtins):
    machine = host("H200")
    assert resolve(machine, builtins) == resolve(machine, builtins, ProfileRequest())


def test_broken_user_override_is_skipped_by_auto_with_a_warning(tmp_path, host):
    directory = tmp_path / "home" / ".config" / "gpuplan" / "profiles"
    directory.mkdir(parents=True)
    (directory / "balanced_24gb.json").write_text('{"max_vram_mb": "lots"}')
    resolution = here(host)
    assert resolution.name == "balanced_24gb" and resolution.profile.max_vram_mb == 22000
    assert any("broken" in w and "balanced_24gb" in w for w in resolution.warnings)


def test_discover_finds_project_root_above_cwd(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    locations = discover(sub, {"HOME": str(tmp_path / "home")})
    assert locations.pyproject == tmp_path / "pyproject.toml"
    assert locations.project_dir == tmp_path / "configs" / "deployment"
    request = build_request(locations=locations, cwd=sub, environ={})
    assert request.choices == ()


def test_catalog_of_nothing_still_resolves(host):
    resolution = resolve(host("RTX 4090"), Catalog())
    assert resolution.name == "balanced_24gb"
    assert resolution.profile.max_vram_mb == 24564 - 2048


def test_broken_user_config_is_a_warning(tmp_path, host):
    config = tmp_path / "home" / ".config" / "gpuplan"
    config.mkdir(parents=True)
    (config / "config.toml").write_text("deployment_profile = \n")
    resolution = here(host)
    assert resolution.selection.by == "auto"
    assert any("config.toml" in w and "cannot read" in w for w in resolution.warnings)


def test_config_path_is_relative_to_the_config_file(tmp_path, host):
    config = tmp_path / "home" / ".config" / "gpuplan"
    config.mkdir(parents=True)
    (config / "lab.toml").write_text("max_vram_mb = 7000\n")
    (config / "config.toml").write_text('deployment_profile = "./lab.toml"\n')
    resolution = here(host)
    assert (resolution.name, resolution.profile.max_vram_mb) == ("lab", 7000)
    assert resolution.provenance["max_vram_mb"].origin.file == str(config / "lab.toml")
