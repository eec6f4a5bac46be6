"""Engine renderers: every flag exists in the targeted release, goldens, memory, precedence."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuplan.errors import LaunchError
from gpuplan.launch import ENGINE_VERSIONS, GpuSlot, LaunchConfig, LaunchRequest, render
from tests.launch.cases import CASES, ENGINES, flag_set, requests_for
from tests.launch.memory_model import check_coresidents, flag_value

GOLDEN = Path(__file__).parent / "golden"
DEVICE_VARS = {"CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"}
# argv words before the flags: the command, its subcommand, a positional model
COMMAND = {
    "vllm": ("vllm", "serve"),
    "sglang": ("python3", "-m", "sglang.launch_server"),
    "llama.cpp": ("llama-server",),
    "ollama": ("ollama", "serve"),
    "tensorrt-llm": ("trtllm-serve", "serve"),
}
POSITIONAL_MODEL = {"vllm", "tensorrt-llm"}


def _rendered(engine: str, case: str) -> list[tuple[LaunchRequest, LaunchConfig]]:
    return [(request, render(request)) for request in requests_for(engine, case)]


def _cases() -> list[Any]:
    out = []
    for engine in ENGINES:
        for case in CASES:
            if engine == "tensorrt-llm" and case == "amd":
                continue  # TensorRT-LLM refuses AMD: tested below
            out.append(pytest.param(engine, case, id=f"{engine}-{case}"))
    return out


def _flags_in(config: LaunchConfig) -> list[str]:
    argv = list(config.argv)
    command = COMMAND[config.engine]
    assert tuple(argv[: len(command)]) == command
    rest = argv[len(command) + (1 if config.engine in POSITIONAL_MODEL else 0) :]
    return [token for token in rest if token.startswith("-") and not token.lstrip("-").isdigit()]


@pytest.mark.parametrize(("engine", "case"), _cases())
def test_every_flag_and_variable_exists_in_the_targeted_release(engine: str, case: str) -> None:
    known = flag_set(engine)
    assert known["version"] == ENGINE_VERSIONS[engine]
    for _, config in _rendered(engine, case):
        assert config.engine_version == ENGINE_VERSIONS[engine]
        flags = _flags_in(config)
        if engine == "ollama":
            assert flags == []
        else:
            unknown = [flag for flag in flags if flag not in set(known["flags"])]
            assert unknown == [], f"{engine} {known['version']} has no {unknown}"
        engine_env = set(known.get("env", ()))
        for name in config.env:
            assert name in DEVICE_VARS or name in engine_env, f"{engine} has no env var {name}"
        if engine == "ollama":
            for line in config.files["Modelfile"].splitlines()[1:]:
                keyword, name, _ = line.split(" ", 2)
                assert keyword == "PARAMETER"
                assert name in set(known["parameters"]), f"Ollama has no parameter {name}"


def _golden_text(engine: str, case: str) -> str:
    body = [
        {
            "service": config.service,
            "engine_version": config.engine_version,
            "argv": list(config.argv),
            "env": dict(config.env),
            "image": config.image,
            "health_path": config.health_path,
            "files": dict(config.files),
            "after_start": [list(command) for command in config.after_start],
        }
        for _, config in _rendered(engine, case)
    ]
    return json.dumps(body, indent=1) + "\n"


@pytest.mark.parametrize(("engine", "case"), _cases())
def test_golden(engine: str, case: str) -> None:
    path = GOLDEN / engine.replace(".", "_") / f"{case}.json"
    text = _golden_text(engine, case)
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing golden {path}; run with UPDATE_GOLDEN=1"
    assert text == path.read_text()


@pytest.mark.parametrize("engine", ENGINES)
def test_coresident_services_fit_together(engine: str) -> None:
    pairs = _rendered(engine, "coresident")
    left = check_coresidents(pairs)
    assert left >= 0
    if engine == "vllm":
        fractions = [float(flag_value(config, "--gpu-memory-utilization")) for _, config in pairs]
        assert sum(fractions) <= 1.0
        assert all(f < 0.92 for f in fractions)  # vLLM's default would not co-reside


@settings(max_examples=60, deadline=None)
@given(
    engine=st.sampled_from(["vllm", "sglang", "tensorrt-llm", "llama.cpp", "ollama"]),
    total=st.integers(min_value=4096, max_value=196608),
    shares=st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=4),
    weights_share=st.floats(min_value=0.05, max_value=0.8),
)
def test_any_coresidents_whose_budgets_fit_start_and_fit(
    engine: str, total: int, shares: list[int], weights_share: float
) -> None:
    usable = int(total * 0.9)
    budgets = [max(64, usable * share // sum(shares)) for share in shares]
    while sum(budgets) > usable:
        budgets[budgets.index(max(budgets))] -= 1
    pairs = []
    held = 0
    for order, budget in enumerate(budgets):
        slot = GpuSlot(
            index=0,
            uuid="GPU-x",
            total_mb=total,
            reserved_before_mb=held,
            reserved_total_mb=sum(budgets) - budget,
        )
        weights = int(budget * weights_share)
        request = LaunchRequest(
            service=f"s{order}",
            model_id="m",
            model_source="/m.gguf" if engine == "llama.cpp" else "m",
            engine=engine,
            quantization="bf16",
            gpus=(slot,),
            vram_budget_mb=budget,
            weights_mb=weights,
            kv_cache_mb=int((budget - weights) * 0.7),
            context_tokens=4096,
            start_order=order,
        )
        pairs.append((request, render(request)))
        held += budget
    assert check_coresidents(pairs) >= 0


@pytest.mark.parametrize("engine", ["vllm", "sglang", "llama.cpp", "ollama"])
def test_amd_gets_no_cuda_knobs(engine: str) -> None:
    ((_, config),) = _rendered(engine, "amd")
    assert "CUDA_VISIBLE_DEVICES" not in config.env
    assert set(config.env) & {"HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"}
    assert not any("cuda" in token.lower() for token in config.argv)
    assert "rocm" in (config.image or "")


def test_tensorrt_llm_refuses_amd() -> None:
    with pytest.raises(LaunchError, match="NVIDIA GPUs only"):
        render(requests_for("tensorrt-llm", "amd")[0])


@pytest.mark.parametrize("engine", ["vllm", "sglang", "llama.cpp", "ollama", "tensorrt-llm"])
def test_devices_are_pinned_by_uuid_mig_by_mig_uuid(engine: str) -> None:
    ((request, config),) = _rendered(engine, "mig")
    assert config.env["CUDA_VISIBLE_DEVICES"] == request.gpus[0].uuid
    assert config.env["CUDA_VISIBLE_DEVICES"].startswith("MIG-")
    ((request, config),) = _rendered(engine, "tp2")
    assert config.env["CUDA_VISIBLE_DEVICES"] == ",".join(g.uuid or "" for g in request.gpus)


CONTEXT_FLAGS = {
    "vllm": ("--max-model-len", "--max-num-seqs"),
    "sglang": ("--context-length", "--max-running-requests"),
    "tensorrt-llm": ("--max_seq_len", "--max_batch_size"),
}


@pytest.mark.parametrize("engine", sorted(CONTEXT_FLAGS))
def test_context_and_concurrency_are_the_estimates(engine: str) -> None:
    ((request, config),) = _rendered(engine, "one_gpu")
    context, concurrency = CONTEXT_FLAGS[engine]
    assert flag_value(config, context) == str(request.context_tokens)
    assert flag_value(config, concurrency) == str(request.max_concurrency)


def test_llama_cpp_context_is_per_slot_times_slots_and_split_follows_the_gpus() -> None:
    ((_, config),) = _rendered("llama.cpp", "one_gpu")
    assert flag_value(config, "--ctx-size") == str(8192 * 4)
    assert flag_value(config, "--parallel") == "4"
    assert flag_value(config, "--n-gpu-layers") == "all"
    assert flag_value(config, "--flash-attn") in {"on", "off", "auto"}
    ((_, config),) = _rendered("llama.cpp", "tp2")
    assert flag_value(config, "--tensor-split") == "22000,22000"
    assert flag_value(config, "--main-gpu") == "0"


def _request(engine: str, **update: Any) -> LaunchRequest:
    return requests_for(engine, "one_gpu")[0].model_copy(update=update)


def test_precedence_estimate_then_profile_then_explicit_flags() -> None:
    base = render(_request("vllm"))
    assert "--dtype" not in base.argv
    profiled = render(_request("vllm", engine_settings={"mixed_precision_dtype": "fp16"}))
    assert flag_value(profiled, "--dtype") == "float16"
    assert any("profile engine block" in note for note in profiled.notes)
    explicit = render(
        _request(
            "vllm",
            engine_settings={"mixed_precision_dtype": "fp16"},
            overrides={"dtype": "bfloat16", "--max-model-len": 4096, "gpu_memory_utilization": 0.5},
        )
    )
    assert flag_value(explicit, "--dtype") == "bfloat16"
    assert flag_value(explicit, "--max-model-len") == "4096"
    assert flag_value(explicit, "--gpu-memory-utilization") == "0.5"
    assert explicit.argv.count("--dtype") == 1
    assert any("explicit flag replaces 'float16' from the profile" in n for n in explicit.notes)


def test_explicit_false_removes_a_flag_and_upper_case_keys_are_env() -> None:
    config = render(_request("llama.cpp", overrides={"fit": False, "LLAMA_ARG_THREADS": 8}))
    assert "--fit" not in config.argv
    assert config.env["LLAMA_ARG_THREADS"] == "8"


def test_profile_keys_map_to_each_engines_own_flags_never_anothers() -> None:
    settings_ = {
        "enable_flash_attention": True,
        "mixed_precision_dtype": "bf16",
        "allow_tf32": True,
    }
    llama = render(_request("llama.cpp", engine_settings=settings_))
    assert flag_value(llama, "--flash-attn") == "on"
    assert "--dtype" not in llama.argv
    ollama = render(_request("ollama", engine_settings=settings_))
    assert ollama.env["OLLAMA_FLASH_ATTENTION"] == "1"
    sglang = render(_request("sglang", engine_settings=settings_))
    assert flag_value(sglang, "--dtype") == "bfloat16"
    assert "--flash-attn" not in sglang.argv
    for config in (llama, ollama, sglang):
        assert any("allow_tf32" in note and "not passed" in note for note in config.notes)


def test_unknown_engine_is_an_error_naming_the_fix() -> None:
    with pytest.raises(LaunchError, match="cannot launch engine 'transformers'"):
        render(requests_for("vllm", "one_gpu")[0].model_copy(update={"engine": "transformers"}))


def test_budget_over_the_room_left_is_cut_and_said() -> None:
    slot = GpuSlot(index=0, total_mb=24564, reserved_total_mb=10000)
    config = render(_request("vllm", gpus=(slot,), vram_budget_mb=20000, weights_mb=9000))
    assert float(flag_value(config, "--gpu-memory-utilization")) * 24564 <= 14564
    assert any(note.startswith("may not start: budget cut") for note in config.notes)
    full = GpuSlot(index=0, total_mb=8000, reserved_total_mb=8000)
    with pytest.raises(LaunchError, match="no memory left"):
        render(_request("sglang", gpus=(full,), vram_budget_mb=1000))


@pytest.mark.parametrize(
    ("engine", "flag"),
    [("vllm", "--runner"), ("sglang", "--is-embedding"), ("llama.cpp", "--embedding")],
)
def test_embedders_start_in_pooling_mode_with_flags_the_release_has(engine: str, flag: str) -> None:
    config = render(_request(engine, role="embedding"))
    assert flag in config.argv
    assert set(_flags_in(config)) <= set(flag_set(engine)["flags"])
    assert flag not in render(_request(engine, role="chat")).argv


def test_fixed_size_engines_warn_instead_of_cutting() -> None:
    slot = GpuSlot(index=0, total_mb=24564, reserved_total_mb=10000)
    config = render(_request("llama.cpp", gpus=(slot,), vram_budget_mb=20000))
    assert any(note.startswith("may not start: 20000 MiB per GPU") for note in config.notes)
    assert flag_value(config, "--ctx-size") == str(8192 * 4)  # nothing silently changed


KV_FLAGS = {
    "vllm": ("fp8", ["--kv-cache-dtype", "fp8"]),
    "sglang": ("fp8", ["--kv-cache-dtype", "fp8_e4m3"]),
    "llama.cpp": ("q8_0", ["--cache-type-k", "q8_0", "--cache-type-v", "q8_0"]),
}


@pytest.mark.parametrize("engine", sorted(KV_FLAGS))
def test_the_estimates_kv_dtype_is_the_engines_cache_type(engine: str) -> None:
    dtype, expected = KV_FLAGS[engine]
    config = render(_request(engine, kv_cache_dtype=dtype))
    argv = list(config.argv)
    start = argv.index(expected[0])
    assert argv[start : start + 2] == expected[:2]
    assert set(_flags_in(config)) <= set(flag_set(engine)["flags"])
    if engine == "llama.cpp":
        assert flag_value(config, "--flash-attn") == "on"  # a quantized V cache needs it
    with pytest.raises(LaunchError, match="has no KV-cache dtype 'q3_k'"):
        render(_request(engine, kv_cache_dtype="q3_k"))


def test_ollama_quantized_kv_cache_with_flash_attention_forced_off_is_warned() -> None:
    config = render(
        _request("ollama", kv_cache_dtype="q8_0", overrides={"OLLAMA_FLASH_ATTENTION": 0})
    )
    assert config.env["OLLAMA_FLASH_ATTENTION"] == "0"
    assert any(
        n.startswith("cannot start: OLLAMA_KV_CACHE_TYPE q8_0 needs flash attention")
        for n in config.notes
    )
    assert not any("needs flash attention" in n for n in render(_request("ollama")).notes)


@pytest.mark.parametrize(
    ("key", "value"), [("-fa", "off"), ("flash-attn", "0"), ("-fa", "disabled")]
)
def test_llama_cpp_flash_attention_off_by_any_name_is_one_flag_and_checked(
    key: str, value: str
) -> None:
    """common/arg.cpp takes -fa for --flash-attn and off/disabled/false/0 for off: each
    replaces the plan's --flash-attn (one flag, not two the server reads last-wins), and a
    quantized V cache with it is 'cannot start' as with --flash-attn off."""
    config = render(_request("llama.cpp", kv_cache_dtype="q8_0", overrides={key: value}))
    flags = [a for a in config.argv if a in ("--flash-attn", "-fa", "--fa")]
    assert flags == ["--flash-attn"], config.argv
    assert flag_value(config, "--flash-attn") == value
    assert any(n.startswith("cannot start: a q8_0 V cache") for n in config.notes), config.notes


def test_llama_cpp_short_context_flag_replaces_the_plans() -> None:
    config = render(_request("llama.cpp", overrides={"-c": 65536}))
    assert "-c" not in config.argv and config.argv.count("--ctx-size") == 1
    assert flag_value(config, "--ctx-size") == "65536"


@pytest.mark.parametrize("value", ["0", "false", "F", "'0'"])
def test_ollama_flash_attention_off_in_any_go_spelling_is_checked(value: str) -> None:
    """Ollama reads OLLAMA_FLASH_ATTENTION with strconv.ParseBool after trimming quotes."""
    config = render(
        _request("ollama", kv_cache_dtype="q8_0", overrides={"OLLAMA_FLASH_ATTENTION": value})
    )
    assert any(n.startswith("cannot start: OLLAMA_KV_CACHE_TYPE q8_0") for n in config.notes)


def test_ollama_quantized_kv_cache_turns_flash_attention_on() -> None:
    config = render(_request("ollama", kv_cache_dtype="q8_0"))
    assert config.env["OLLAMA_KV_CACHE_TYPE"] == "q8_0"
    assert config.env["OLLAMA_FLASH_ATTENTION"] == "1"
    assert set(config.env) <= DEVICE_VARS | set(flag_set("ollama")["env"])


@pytest.mark.parametrize(
    ("value", "said"), [("off", True), ("no", True), ("1", False), ("0", False)]
)
def test_ollama_flash_attention_value_go_cannot_parse_is_said(value: str, said: bool) -> None:
    """Ollama's envconfig reads a value strconv.ParseBool rejects ('off') as on."""
    config = render(_request("ollama", overrides={"OLLAMA_FLASH_ATTENTION": value}))
    assert any("is not a Go boolean" in n for n in config.notes) is said, config.notes
