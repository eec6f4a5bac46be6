"""Seed 003's layered config factory: every example of the seed, and merge properties."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuplan.errors import TuningConfigError, TuningProfileNotFoundError
from gpuplan.tuning.factory import TaskContext, build_task, default_task_name
from gpuplan.tuning.profiles import (
    ConfigLayer,
    ProfileMetadata,
    default_registry,
    load_profile_file,
)

MODEL = "llama-3-2-1b-instruct"


def build(**fields: Any) -> Any:
    fields.setdefault("model_name", MODEL)
    fields.setdefault("base_runtime", "sglang")
    return build_task(TaskContext(**fields))


# --- every profile's values, exactly as seed 003 lists them --------------------------

PROFILE_VALUES = [
    ("quick-test", None, 2, None, [1], [0.85], [1]),
    ("balanced", None, 15, 600, [1, 2, 4], [0.8, 0.85, 0.9], [4, 8, 16]),
    ("low-latency", "minimize_latency", 15, None, [1, 2], [0.7, 0.8], [1, 4, 8]),
    ("high-throughput", "maximize_throughput", 20, None, [4, 8], [0.95], [16, 32, 64]),
    ("cost-optimization", "minimize_latency", 12, None, [1, 2], [0.75, 0.85], [4, 8, 16]),
]


@pytest.mark.parametrize(
    ("name", "objective", "iterations", "timeout", "tp", "mem", "concurrency"), PROFILE_VALUES
)
def test_builtin_profile_values_are_seed_003s(
    name: str,
    objective: str | None,
    iterations: int,
    timeout: int | None,
    tp: list[int],
    mem: list[float],
    concurrency: list[int],
) -> None:
    task = build(profiles=[name], deployment_mode="docker")
    cfg = task.config
    assert cfg.optimization.max_iterations == iterations
    assert cfg.optimization.objective == (objective or "minimize_latency")
    assert cfg.optimization.timeout_per_iteration == (timeout or 600)
    assert cfg.parameters["tp-size"] == tp
    assert cfg.parameters["mem-fraction-static"] == mem
    assert cfg.benchmark.num_concurrency == concurrency
    assert task.provenance["parameters.tp-size"].origin.label == (
        f"tuning layer profile:{name}:{name}-params"
    )


def test_quick_test_traffic_is_d100_100() -> None:
    assert build(profiles=["quick-test"]).config.benchmark.traffic_scenarios == ["D(100,100)"]


def test_production_profile_slos() -> None:
    cfg = build(profiles=["production"]).config
    assert cfg.optimization.max_iterations == 30
    assert cfg.optimization.timeout_per_iteration == 900
    assert cfg.slo is not None and cfg.slo.latency is not None and cfg.slo.latency.p90
    assert (cfg.slo.ttft.threshold, cfg.slo.ttft.weight) == (1.0, 2.0)
    assert (cfg.slo.tpot.threshold, cfg.slo.tpot.weight) == (0.05, 2.0)
    p90 = cfg.slo.latency.p90
    assert (p90.threshold, p90.weight, p90.hard_fail, p90.fail_ratio) == (5.0, 3.0, True, 0.2)


def test_base_layers_defaults() -> None:
    task = build()
    cfg = task.config
    assert cfg.optimization.max_iterations == 10
    assert cfg.optimization.timeout_per_iteration == 600
    assert cfg.model.id_or_path == MODEL
    assert task.applied_layers == ["base-model", "base-optimization", "docker-defaults",
                                   "sglang-defaults"]  # fmt: skip


# --- the seed's request examples -------------------------------------------------------


def test_seed_basic_usage_quick_test_docker_sglang() -> None:
    task = build(deployment_mode="docker", profiles=["quick-test"])
    generated = task.generated_config
    assert generated["base_runtime"] == "sglang"
    assert generated["deployment_mode"] == "docker"
    assert generated["optimization"]["max_iterations"] == 2
    assert generated["parameters"] == {"tp-size": [1], "mem-fraction-static": [0.85]}
    assert generated["benchmark"]["num_concurrency"] == [1]


def test_seed_multiple_profiles_combine_in_order() -> None:
    task = build(profiles=["low-latency", "production"])
    cfg = task.config
    assert cfg.optimization.objective == "minimize_latency"  # from low-latency
    assert cfg.optimization.max_iterations == 30  # production comes later and wins
    assert cfg.benchmark.num_concurrency == [1, 4, 8]
    assert cfg.slo is not None and cfg.slo.ttft is not None
    shadowed = task.provenance["optimization.max_iterations"].shadowed
    assert [s.value for s in shadowed] == [15, 10]
    reverse = build(profiles=["production", "low-latency"]).config
    assert reverse.optimization.max_iterations == 15


def test_seed_custom_overrides_patch_max_iterations() -> None:
    task = build(profiles=["balanced"], user_overrides={"optimization": {"max_iterations": 5}})
    cfg = task.config
    assert cfg.optimization.max_iterations == 5
    assert cfg.optimization.timeout_per_iteration == 600  # deep merge keeps siblings
    assert cfg.parameters["tp-size"] == [1, 2, 4]
    assert task.provenance["optimization.max_iterations"].origin.label == "tuning layer user_patch"
    assert task.applied_layers[-1] == "user_patch"


def test_seed_total_gpus_limits_tp_and_says_why_when_empty() -> None:
    limited = build(profiles=["balanced"], total_gpus=2)
    assert limited.config.parameters["tp-size"] == [1, 2]
    assert limited.provenance["parameters.tp-size"].origin.kind == "rule"
    assert any("total_gpus=2" in w for w in limited.warnings)
    with pytest.raises(TuningConfigError, match=r"none of \[4, 8\] fits total_gpus=2"):
        build(profiles=["high-throughput"], total_gpus=2)


def test_seed_custom_slo_config() -> None:
    slo = {
        "ttft": {"threshold": 0.5, "weight": 3.0},
        "latency": {"p90": {"threshold": 3.0, "weight": 2.0, "hard_fail": True}},
    }
    cfg = build(profiles=["balanced"], slo_config=slo).config
    assert cfg.slo is not None and cfg.slo.ttft is not None and cfg.slo.latency is not None
    assert (cfg.slo.ttft.threshold, cfg.slo.ttft.weight) == (0.5, 3.0)
    assert cfg.slo.latency.p90 is not None and cfg.slo.latency.p90.hard_fail
    assert cfg.slo.latency.p90.fail_ratio == 0.2


def test_seed_override_mode_replace_keeps_identity_only() -> None:
    task = build(
        profiles=["balanced"],
        task_name="mine",
        override_mode="replace",
        user_overrides={"parameters": {"tp-size": [2]}, "optimization": {"max_iterations": 3}},
    )
    cfg = task.config
    assert (cfg.task_name, cfg.model.id_or_path, cfg.base_runtime) == ("mine", MODEL, "sglang")
    assert cfg.parameters == {"tp-size": [2]}  # balanced's and the runtime's are gone
    assert cfg.optimization.max_iterations == 3
    assert cfg.optimization.timeout_per_iteration == 600  # the model default, not a layer
    assert cfg.benchmark.num_concurrency == [1]
    assert "optimization.timeout_per_iteration" not in task.provenance
    assert task.applied_layers[-1] == "user_replace"


def test_seed_custom_profile_registered_from_code() -> None:
    registry = default_registry()
    registry.register(
        "my-custom",
        [
            ConfigLayer(
                name="my-custom-params",
                data={
                    "optimization": {"objective": "minimize_latency", "max_iterations": 10},
                    "parameters": {"tp-size": [2], "mem-fraction-static": [0.9]},
                },
            )
        ],
        ProfileMetadata(
            name="my-custom",
            description="My custom profile for specific use case",
            use_case="Specific deployment scenario",
            tags=["custom", "specialized"],
            recommended_for=["my-use-case"],
        ),
    )
    task = build_task(
        TaskContext(model_name=MODEL, base_runtime="sglang", profiles=["my-custom"]), registry
    )
    assert task.config.parameters == {"tp-size": [2], "mem-fraction-static": [0.9]}
    assert "my-custom" not in default_registry()  # registration does not leak


def test_custom_profile_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "wide.toml"
    path.write_text(
        'name = "wide"\ndescription = "wide"\nuse_case = "tests"\n'
        '[data.parameters]\n"tp-size" = [1, 2, 4, 8]\n'
    )
    profile = load_profile_file(path)
    registry = default_registry()
    registry.add(profile)
    task = build_task(
        TaskContext(model_name=MODEL, base_runtime="sglang", profiles=["wide"]), registry
    )
    assert task.config.parameters["tp-size"] == [1, 2, 4, 8]
    assert task.provenance["parameters.tp-size"].origin.kind == "path"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "bad", "layers": [{"data": {}}]}))
    with pytest.raises(TuningConfigError, match=r"bad.json: layers.0.name: Field required"):
        load_profile_file(bad)


def test_unknown_profile_is_a_warning_and_skipped() -> None:
    task = build(profiles=["nope", "quick-test"])
    assert task.warnings == ["tuning profile 'nope' not found; skipped"]
    assert task.config.optimization.max_iterations == 2
    with pytest.raises(TuningProfileNotFoundError):
        default_registry().require("nope")


# --- runtime flags: never one runtime's on another -----------------------------------


def test_vllm_gets_its_own_flag_names() -> None:
    cfg = build(base_runtime="vllm", profiles=["balanced"]).config
    assert cfg.parameters == {
        "tensor-parallel-size": [1, 2, 4],
        "gpu-memory-utilization": [0.8, 0.85, 0.9],
    }


def test_tensorrt_llm_gets_its_own_flag_names() -> None:
    cfg = build(base_runtime="trtllm", profiles=["quick-test"], total_gpus=1).config
    assert cfg.base_runtime == "tensorrt-llm"
    assert set(cfg.parameters) == {"tp_size", "kv_cache_free_gpu_memory_fraction"}


def test_llamacpp_drops_what_it_has_no_flag_for() -> None:
    task = build(base_runtime="llamacpp", deployment_mode="local", profiles=["quick-test"])
    assert task.config.parameters == {"parallel": [1, 4], "ctx-size": [4096]}
    assert any("llamacpp has no equivalent of memory fraction" in w for w in task.warnings)


def test_a_user_override_in_another_runtimes_words_is_translated() -> None:
    cfg = build(base_runtime="vllm", user_overrides={"parameters": {"tp-size": [2]}}).config
    assert cfg.parameters["tensor-parallel-size"] == [2]
    assert "tp-size" not in cfg.parameters


def test_errors_name_field_and_fix() -> None:
    with pytest.raises(TuningConfigError, match="not a tuning runtime"):
        build(base_runtime="ollama")
    with pytest.raises(TuningConfigError, match=r"parameters.tp-size is an empty list"):
        build(user_overrides={"parameters": {"tp-size": []}})
    with pytest.raises(TuningConfigError, match="max_iterations"):
        build(user_overrides={"optimization": {"max_iterations": 0}})
    with pytest.raises(TuningConfigError, match="cannot change the runtime"):
        build(user_overrides={"base_runtime": "vllm"})


def test_default_task_names_never_collide() -> None:
    names = {build().config.task_name for _ in range(50)}
    assert len(names) == 50
    assert default_task_name("meta/Llama 3", "vllm", "abcd1234") == "llama-3-vllm-abcd1234"


def test_profile_summaries_have_seed_shapes() -> None:
    balanced = default_registry().require("balanced")
    assert balanced.summary() == {
        "name": "balanced",
        "description": "Balanced configuration exploring common parameter ranges",
        "use_case": "General purpose testing, exploring parameter space",
        "tags": ["balanced", "general", "exploration"],
        "recommended_for": ["general", "exploration", "baseline"],
        "layers_count": 1,
    }
    assert balanced.summary(details=True)["layer_names"] == ["balanced-params"]


# --- properties --------------------------------------------------------------------

_layer_values = st.fixed_dictionaries(
    {},
    optional={
        "max_iterations": st.integers(1, 60),
        "timeout": st.integers(1, 2000),
        "concurrency": st.lists(st.integers(1, 64), min_size=1, max_size=4),
    },
)


def _as_layer(values: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if "max_iterations" in values:
        data.setdefault("optimization", {})["max_iterations"] = values["max_iterations"]
    if "timeout" in values:
        data.setdefault("optimization", {})["timeout_per_iteration"] = values["timeout"]
    if "concurrency" in values:
        data["benchmark"] = {"num_concurrency": values["concurrency"]}
    return data


@settings(max_examples=60, deadline=None)
@given(st.lists(_layer_values, max_size=5), _layer_values)
def test_patch_applies_in_order_and_later_layers_win(
    profiles: list[dict[str, Any]], override: dict[str, Any]
) -> None:
    registry = default_registry()
    names = []
    for i, values in enumerate(profiles):
        registry.register(f"p{i}", [ConfigLayer(name=f"l{i}", data=_as_layer(values))])
        names.append(f"p{i}")
    task = build_task(
        TaskContext(
            model_name=MODEL,
            base_runtime="vllm",
            profiles=names,
            user_overrides=_as_layer(override),
        ),
        registry,
    )
    stack = [*profiles, override]
    for key, field, default in (
        ("max_iterations", task.config.optimization.max_iterations, 10),
        ("timeout", task.config.optimization.timeout_per_iteration, 600),
        ("concurrency", task.config.benchmark.num_concurrency, [1]),
    ):
        expected = next((layer[key] for layer in reversed(stack) if key in layer), default)
        assert field == expected


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([p[0] for p in PROFILE_VALUES] + ["production"]), max_size=4),
       _layer_values)  # fmt: skip
def test_replace_discards_every_earlier_layer(
    profiles: list[str], override: dict[str, Any]
) -> None:
    overrides = _as_layer(override) or {"parameters": {"tp-size": [1]}}
    task = build(
        profiles=profiles, override_mode="replace", user_overrides=overrides, task_name="t"
    )
    plain = build(profiles=[], override_mode="replace", user_overrides=overrides, task_name="t")
    assert task.config == plain.config
    assert task.config.model.id_or_path == MODEL and task.config.task_name == "t"


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from(["quick-test", "balanced", "low-latency", "production"]), max_size=4),
    st.lists(st.text("abcxyz-", min_size=1, max_size=6), max_size=3),
    st.integers(0, 4),
)
def test_unknown_profiles_skip(known: list[str], unknown: list[str], at: int) -> None:
    unknown = [f"zz-{u}" for u in unknown]
    mixed = known[:at] + unknown + known[at:]
    with_unknown = build(profiles=mixed, task_name="t")
    without = build(profiles=known, task_name="t")
    assert with_unknown.config == without.config
    assert len(with_unknown.warnings) - len(without.warnings) == len(unknown)
