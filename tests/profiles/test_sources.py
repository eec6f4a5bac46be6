"""Profile sources: built-ins with the seeds' values, pyproject, directories, lines, issues."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuplan.profiles import Locations, load_catalog, resolve
from gpuplan.profiles.layers import merged_profile
from gpuplan.profiles.lines import json_key_lines, toml_key_lines, yaml_key_lines
from gpuplan.profiles.sources import read_profile_file, read_table_file

SEED_000 = {
    "constrained_16gb": {
        "description": "RTX 4080 16GB - single model, load/unload strategy",
        "max_vram_mb": 14000,
        "max_concurrent_models": 1,
        "preferred_quantizations": ("q4_k_m", "fp8", "awq", "q5_k_m", "q8_0"),
        "strategy": "load_unload",
        "autostart_timeout_seconds": 120,
        "grace_period_seconds": 300,
        "model_selection_bias": "vram_efficient",
    },
    "balanced_24gb": {
        "description": "RTX 4090 24GB - dual model concurrent serving",
        "max_vram_mb": 22000,
        "max_concurrent_models": 2,
        "preferred_quantizations": ("fp8", "awq", "q4_k_m", "q5_k_m"),
        "strategy": "concurrent_limited",
        "autostart_timeout_seconds": 90,
        "grace_period_seconds": 600,
        "model_selection_bias": "balanced",
    },
    "multi_gpu_2x16gb": {
        "description": "2x RTX 4080 16GB - tensor parallel or distributed models",
        "max_vram_mb": 28000,
        "max_concurrent_models": 3,
        "gpu_count": 2,
        "preferred_quantizations": ("fp8", "awq", "bf16", "q5_k_m"),
        "strategy": "tensor_parallel_or_distributed",
        "autostart_timeout_seconds": 150,
        "grace_period_seconds": 600,
        "tensor_parallel_threshold_mb": 12000,
        "model_selection_bias": "quality",
    },
    "generous_96gb": {
        "description": "RTX 6000 Pro 96GB - multi-model concurrent serving",
        "max_vram_mb": 90000,
        "max_concurrent_models": 5,
        "preferred_quantizations": ("fp8", "awq", "bf16", "fp16"),
        "strategy": "concurrent_full",
        "autostart_timeout_seconds": 60,
        "grace_period_seconds": 3600,
        "model_selection_bias": "quality",
    },
    "development": {
        "description": "Development/testing - minimal footprint",
        "max_vram_mb": 10000,
        "max_concurrent_models": 1,
        "preferred_quantizations": ("q4_k_m", "q5_k_m", "q8_0"),
        "strategy": "load_unload",
        "autostart_timeout_seconds": 180,
        "grace_period_seconds": 120,
        "model_selection_bias": "vram_efficient",
    },
}

SEED_002 = {
    "cpu": {"device": "cpu", "tensor_parallel_size": 1, "quantization_bits": 8,
            "quantization_method": "dynamic"},
    "gpu_8bit": {"device": "cuda", "tensor_parallel_size": 1, "quantization_bits": 8,
                 "quantization_method": "bnb-8bit"},
    "gpu_4bit": {"device": "cuda", "tensor_parallel_size": 1, "quantization_bits": 4,
                 "quantization_method": "bnb-4bit"},
    "edge_cpu_int8": {"tensor_parallel_size": 1, "quantization_bits": 8,
                      "quantization_method": "dynamic", "memory_efficient": True,
                      "enable_memory_pooling": True, "pool_device": "auto"},
    "onprem_gpu_bf16_flash": {"tensor_parallel_size": 1, "enable_mixed_precision": True,
                              "mixed_precision_dtype": "bf16", "enable_flash_attention": True,
                              "attention_impl": "flash", "allow_tf32": True,
                              "cudnn_benchmark": True},
    "cloud_gpu_tp4_fp16": {"tensor_parallel_size": 4, "enable_mixed_precision": True,
                           "mixed_precision_dtype": "fp16", "enable_memory_pooling": True,
                           "pool_device": "cuda"},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SEED_000))
def test_seed_000_builtins_have_the_seeds_values(builtins, name):
    profile = merged_profile(name, builtins)
    assert profile is not None
    values = profile.model_dump(exclude_defaults=False)
    assert {k: values[k] for k in SEED_000[name]} == SEED_000[name]
    assert profile.engine.model_dump(exclude_none=True) == {}


@pytest.mark.parametrize("name", sorted(SEED_002))
def test_seed_002_builtins_have_the_seeds_values(builtins, name):
    profile = merged_profile(name, builtins)
    assert profile is not None
    assert profile.engine.model_dump(exclude_none=True) == SEED_002[name]


def test_gpu_4bit_says_it_is_derived(builtins):
    profile = merged_profile("gpu_4bit", builtins)
    assert profile is not None and "does not spell it out" in profile.description


def test_builtins_are_clean_and_named_by_package_path(builtins):
    assert builtins.issues == ()
    assert all(e.file.startswith("gpuplan/profiles/data/") for e in builtins.entries)
    assert set(builtins.names()) == set(SEED_000) | set(SEED_002)


PYPROJECT = """\
[project]
name = "demo"

[tool.gpuplan]
deployment_profile = "lab"

[tool.gpuplan.deployment_profiles.lab]
description = "lab box"
max_vram_mb = 30000
max_concurrent_models = 2
strategy = "concurrent_limited"

[tool.gpuplan.deployment_profiles.lab.engine]
tensor_parallel_size = 2
device = "cuda"

[tool.gpuplan.deployment_profiles.balanced_24gb]
grace_period_seconds = 60
"""


def test_pyproject_tables_with_lines(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text(PYPROJECT)
    entries = {
        e.name: e
        for e in read_table_file(path, ("tool", "gpuplan", "deployment_profiles"), "pyproject")
    }
    assert set(entries) == {"lab", "balanced_24gb"}
    lab = entries["lab"]
    assert lab.issues == ()
    assert lab.line_of(("max_vram_mb",)) == 9
    assert lab.line_of(("engine", "tensor_parallel_size")) == 14
    assert entries["balanced_24gb"].line_of(("grace_period_seconds",)) == 18


def test_pyproject_refines_a_builtin_field_by_field(tmp_path, host):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    catalog = load_catalog(Locations(pyproject=tmp_path / "pyproject.toml"))
    profile = merged_profile("balanced_24gb", catalog)
    assert profile is not None
    assert profile.grace_period_seconds == 60
    assert profile.max_vram_mb == 22000
    resolution = resolve(host("RTX 4090"), catalog)
    source = resolution.provenance["grace_period_seconds"]
    assert source.origin.kind == "pyproject" and source.origin.line == 18
    assert source.shadowed[0].value == 600 and source.shadowed[0].origin.kind == "builtin"


@pytest.mark.parametrize("suffix", [".json", ".toml", ".yaml", ".yml"])
def test_directory_profiles_in_every_format(tmp_path, suffix):
    directory = tmp_path / "configs" / "deployment"
    directory.mkdir(parents=True)
    data = {
        "profile": "lab",
        "category": "onprem",
        "engine": {"device": "cuda", "quantization_bits": 8, "quantization_method": "bnb-8bit"},
    }
    if suffix == ".json":
        text = json.dumps(data, indent=2)
    elif suffix == ".toml":
        text = (
            'profile = "lab"\ncategory = "onprem"\n\n[engine]\ndevice = "cuda"\n'
            'quantization_bits = 8\nquantization_method = "bnb-8bit"\n'
        )
    else:
        text = (
            "profile: lab\ncategory: onprem\nengine:\n  device: cuda\n"
            "  quantization_bits: 8\n  quantization_method: bnb-8bit\n"
        )
    (directory / f"lab{suffix}").write_text(text)
    catalog = load_catalog(Locations(project_dir=directory))
    (entry,) = catalog.layers("lab")
    assert entry.kind == "project" and entry.issues == ()
    line = entry.line_of(("engine", "quantization_bits"))
    assert line is not None
    assert "quantization_bits" in text.splitlines()[line - 1]


def test_unknown_engine_keys_are_kept_and_reported(tmp_path, host):
    path = tmp_path / "future.json"
    path.write_text(
        json.dumps(
            {"profile": "future", "engine": {"device": "cuda", "kv_cache_dtype": "fp8"}}, indent=2
        )
    )
    entry = read_profile_file(path, "path")
    assert not entry.broken
    (warning,) = entry.issues
    assert warning.severity == "warning" and warning.field == "engine.kv_cache_dtype"
    assert warning.line == 5
    catalog = load_catalog(Locations()).with_entries([entry])
    from gpuplan.profiles import Choice, Origin, ProfileRequest

    choice = Choice(
        source="flag",
        value=str(path),
        origin=Origin(kind="flag", label="--profile"),
        path=str(path),
    )
    resolution = resolve(host("RTX 4090"), catalog, ProfileRequest(choices=(choice,)))
    assert resolution.profile.engine.model_extra == {"kv_cache_dtype": "fp8"}
    assert any("kv_cache_dtype" in w for w in resolution.warnings)


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [("max_vram", "max_vram_mb"), ("grace_period", "grace_period_seconds"), ("name", "profile")],
)
def test_unknown_top_level_key_suggests_the_nearest_field(tmp_path, key, suggestion):
    path = tmp_path / "typo.toml"
    path.write_text(f'description = "x"\n{key} = 1\n')
    entry = read_profile_file(path, "user")
    assert entry.broken
    (issue,) = entry.issues
    assert issue.field == key and issue.line == 2
    assert f"did you mean {suggestion!r}" in issue.fix


def test_broken_file_is_an_entry_named_by_its_stem(tmp_path):
    directory = tmp_path / "profiles"
    directory.mkdir()
    (directory / "bad.json").write_text('{"profile": "bad",\n "engine": {\n}')
    (directory / "good.yaml").write_text("max_concurrent_models: 1\n")
    catalog = load_catalog(Locations(user_dir=directory))
    assert {"bad", "good"} <= set(catalog.names())
    (bad,) = catalog.layers("bad")
    assert bad.broken and "invalid JSON" in bad.issues[0].problem and bad.issues[0].line == 3


def test_toml_lines_headers_dotted_and_inline():
    text = textwrap.dedent(
        """\
        [a]
        x = 1
        b.c = 2
        e = { f = 1, g = "h" }
        [a.d]
        y = [
          1,
        ]
        """
    )
    lines = toml_key_lines(text)
    assert lines[("a",)] == 1
    assert lines[("a", "x")] == 2
    assert lines[("a", "b", "c")] == 3
    assert lines[("a", "e", "g")] == 4
    assert lines[("a", "d", "y")] == 6


def test_json_lines_tell_nested_keys_apart():
    text = (
        '{\n  "x": {"device": 1},\n  "engine": {\n    "device": "cpu"\n  },\n'
        '  "list": [{"device": 2}]\n}'
    )
    lines = json_key_lines(text)
    assert lines[("x", "device")] == 2
    assert lines[("engine", "device")] == 4
    assert lines[("engine",)] == 3


def test_yaml_lines_are_exact():
    lines = yaml_key_lines("a: 1\nengine:\n  # comment\n  device: cpu\n")
    assert lines == {("a",): 1, ("engine",): 2, ("engine", "device"): 4}


json_keys = st.text(min_size=1, max_size=6)
json_values = st.recursive(
    st.one_of(st.integers(), st.booleans(), st.none(), st.text(max_size=4)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=2), st.dictionaries(json_keys, inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=200)
@given(st.dictionaries(json_keys, json_values, max_size=4), st.sampled_from([None, 2]))
def test_json_lines_find_every_key_of_any_document(data, indent):
    text = json.dumps(data, indent=indent)
    lines = json_key_lines(text)

    def paths(node: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
        if isinstance(node, dict):
            for key, value in node.items():
                yield (*prefix, key)
                yield from paths(value, (*prefix, key))

    for path in paths(data):
        assert path in lines
        assert json.dumps(path[-1]) in text.splitlines()[lines[path] - 1]


@given(st.text(max_size=200))
def test_line_scanners_never_raise(text):
    toml_key_lines(text)
    json_key_lines(text)
    yaml_key_lines(text)
