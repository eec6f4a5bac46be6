"""Launch lines that cannot or may not start say so; precision, ROCm numbering, Ollama refs.

Review findings: a 70B BF16 pinned to a 4 GB card got ``--gpu-memory-utilization 1.000``;
a co-resident squeeze was only "budget cut"; Ollama got a bare GGUF file name to pull;
a BF16 model was served as FP16 because a profile said fp16; ROCm got the host index of
an MI300X beside an RTX 4090.
"""

from __future__ import annotations

from typing import Any

import pytest

from gpuplan.hardware import load_host
from gpuplan.launch import GpuSlot, LaunchRequest, render
from gpuplan.launch.kubernetes import manifests
from gpuplan.launch.requests import launch_requests
from gpuplan.models.registry import load_registry
from gpuplan.placement.model import Assignment, GpuFill, Placement, Service
from tests.launch.cases import ENGINES, requests_for
from tests.launch.memory_model import flag_value

FRACTION_FLAGS = {
    "vllm": "--gpu-memory-utilization",
    "sglang": "--mem-fraction-static",
    "tensorrt-llm": "--kv_cache_free_gpu_memory_fraction",
}


def _request(engine: str, **update: Any) -> LaunchRequest:
    return requests_for(engine, "one_gpu")[0].model_copy(update=update)


@pytest.mark.parametrize("engine", ENGINES)
def test_weights_larger_than_the_gpu_cannot_start_and_no_fraction_reaches_one(
    engine: str,
) -> None:
    # Llama 3.3 70B in BF16: ~134 GB of weights, on a 4 GB card
    card = GpuSlot(index=0, name="NVIDIA T1000", total_mb=4096)
    config = render(_request(engine, gpus=(card,), vram_budget_mb=150000, weights_mb=134000))
    (note,) = [note for note in config.notes if note.startswith("cannot start:")]
    assert "134000 MiB of weights per GPU" in note and "4096 MiB" in note
    if engine in FRACTION_FLAGS:
        assert 0 < float(flag_value(config, FRACTION_FLAGS[engine])) <= 0.95


@pytest.mark.parametrize("engine", ENGINES)
def test_a_budget_cut_below_the_estimate_may_not_start_in_every_engine(engine: str) -> None:
    slot = GpuSlot(index=0, name="NVIDIA GeForce RTX 4090", total_mb=24564, reserved_total_mb=10000)
    config = render(_request(engine, gpus=(slot,), vram_budget_mb=16000, weights_mb=4000))
    squeezed = [note for note in config.notes if note.startswith("may not start:")]
    assert len(squeezed) == 1, config.notes
    assert "16000" in squeezed[0] and "other services hold 10000" in squeezed[0]
    assert not any(note.startswith("cannot start:") for note in config.notes)
    if engine == "vllm":
        used = float(flag_value(config, "--gpu-memory-utilization")) * 24564
        assert used <= 24564 - 10000


def test_a_sole_service_is_capped_at_95_percent_of_its_gpu() -> None:
    # placement fitted it within its headroom: an H100 budget of 0.937 is not cut
    h100 = GpuSlot(index=0, total_mb=81559, reserved_total_mb=2749)
    fitted = render(_request("vllm", gpus=(h100,), vram_budget_mb=76438, weights_mb=67000))
    assert flag_value(fitted, "--gpu-memory-utilization") == "0.937"
    assert not any(note.startswith("may not start:") for note in fitted.notes)
    alone = GpuSlot(index=0, total_mb=24564)
    full = render(_request("vllm", gpus=(alone,), vram_budget_mb=24564, weights_mb=15320))
    assert flag_value(full, "--gpu-memory-utilization") == "0.949"
    assert any(note.startswith("may not start:") for note in full.notes)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_budget_that_fits_gets_no_start_warning(engine: str) -> None:
    config = render(_request(engine))
    assert not any(note.startswith(("cannot start:", "may not start:")) for note in config.notes)


BF16_GPU = GpuSlot(index=0, name="NVIDIA H100 80GB HBM3", total_mb=81559, bf16=True)
FP16_PROFILE = {"enable_mixed_precision": True, "mixed_precision_dtype": "fp16"}


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_a_bf16_model_stays_bf16_where_the_gpu_has_it_despite_an_fp16_profile(
    engine: str,
) -> None:
    kept = render(
        _request(engine, gpus=(BF16_GPU,), model_dtype="bf16", engine_settings=FP16_PROFILE)
    )
    assert "--dtype" not in kept.argv
    assert any("mixed_precision_dtype = 'fp16' not applied" in note for note in kept.notes)
    turing = BF16_GPU.model_copy(update={"name": "Tesla T4", "bf16": False})
    old = render(_request(engine, gpus=(turing,), model_dtype="bf16", engine_settings=FP16_PROFILE))
    assert flag_value(old, "--dtype") == "float16"
    forced = render(
        _request(
            engine,
            gpus=(BF16_GPU,),
            model_dtype="bf16",
            engine_settings=FP16_PROFILE,
            overrides={"dtype": "float16"},
        )
    )
    assert flag_value(forced, "--dtype") == "float16"


def _one_service(
    hardware: str, service: Service, gpu: int, budget: int
) -> tuple[LaunchRequest, ...]:
    host = load_host(hardware)
    placement = Placement(
        strategy="vram_based",
        assignments=(
            Assignment(service=service.name, gpu_indices=(gpu,), vram_budget_mb=budget, reason="x"),
        ),
        gpus=tuple(
            GpuFill(index=g.index, name=g.name, used_mb=0, usable_mb=g.vram_total_mb or 0)
            for g in host.gpus
        ),
    )
    requests, _ = launch_requests(
        placement, [service], host, entries=list(load_registry()), context=8192
    )
    return tuple(requests)


def test_the_8x_h100_qwen3_235b_bf16_keeps_bf16_under_the_fp16_cloud_profile() -> None:
    (request,) = _one_service(
        "H100", Service(name="big", model="qwen3-235b-a22b", vram_mb=70000, engine="vllm"), 0, 70000
    )
    assert request.model_dtype == "bf16" and request.gpus[0].bf16 is True
    config = render(request.model_copy(update={"engine_settings": FP16_PROFILE}))
    assert "--dtype" not in config.argv


@pytest.mark.parametrize(
    ("engine", "variable"), [("llama.cpp", "ROCR_VISIBLE_DEVICES"), ("vllm", "HIP_VISIBLE_DEVICES")]
)
def test_rocm_numbers_only_amd_gpus(engine: str, variable: str) -> None:
    service = Service(name="mi", model="llama-3.2-1b", vram_mb=8000, engine=engine)
    (request,) = _one_service("RTX 4090, MI300X", service, 1, 8000)
    assert request.gpus[0].index == 1 and request.gpus[0].vendor_index == 0
    config = render(request)
    assert config.env[variable] == "0"
    assert "CUDA_VISIBLE_DEVICES" not in config.env
    by_uuid = request.gpus[0].model_copy(update={"uuid": "GPU-3f2a"})
    if engine == "llama.cpp":  # ROCR takes UUIDs
        pinned = render(request.model_copy(update={"gpus": (by_uuid,)}))
        assert pinned.env[variable] == "GPU-3f2a"


def _ollama(model: str, quantization: str) -> tuple[str, Any]:
    service = Service(
        name="chat", model=model, vram_mb=12000, engine="ollama", quantization=quantization
    )
    (request,) = _one_service("RTX 4090", service, 0, 12000)
    return request.model_source, render(request)


def test_ollama_gets_library_tags_or_hf_references_never_a_bare_gguf_name() -> None:
    source, config = _ollama("gemma-3-12b", "Q8_0")
    assert source == "gemma3:12b-it-q8_0"
    assert config.after_start[0] == ("ollama", "pull", "gemma3:12b-it-q8_0")
    source, config = _ollama("qwen3-8b", "Q4_K_M")
    assert source == "hf.co/Qwen/Qwen3-8B-GGUF:Q4_K_M"
    assert config.files["Modelfile"].startswith("FROM hf.co/Qwen/Qwen3-8B-GGUF:Q4_K_M\n")
    assert config.after_start == (
        ("ollama", "pull", "hf.co/Qwen/Qwen3-8B-GGUF:Q4_K_M"),
        ("ollama", "create", "chat", "-f", "Modelfile"),
    )
    local = render(_request("ollama", model_source="/models/Qwen3-8B-Q4_K_M.gguf"))
    assert local.files["Modelfile"].startswith("FROM /models/Qwen3-8B-Q4_K_M.gguf\n")
    assert [command[1] for command in local.after_start] == ["create"]


def test_kubernetes_requests_the_host_ram_the_estimate_keeps_weights_in() -> None:
    request = _request("llama.cpp", host_ram_mb=2500)
    docs = manifests([(request, render(request))])
    (deployment,) = [doc for doc in docs if doc["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["requests"]["memory"] == "3524Mi"
    assert container["command"] == ["/app/llama-server"]  # the image's ENTRYPOINT path
    assert "memory" not in container["resources"]["limits"]
