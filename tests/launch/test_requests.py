"""From a placement to launch requests: co-residents, start order, sources, estimates."""

from __future__ import annotations

from gpuplan.hardware import load_host
from gpuplan.launch import render
from gpuplan.launch.requests import launch_requests
from gpuplan.models.registry import load_registry
from gpuplan.placement.model import Assignment, GpuFill, Placement, Service


def _placement() -> tuple[Placement, list[Service]]:
    services = [
        Service(name="ai-llm", model="nemotron-3-nano-30b-a3b", vram_mb=16000),
        Service(name="ai-yolo26", model="yolo26", vram_mb=650),
        Service(name="ai-small", model="llama-3.2-1b", vram_mb=4000, engine="vllm"),
        Service(name="ai-enrichment", vram_mb=6800, vram_budget_override_mb=3500),
    ]
    assignments = (
        Assignment(service="ai-llm", gpu_indices=(0,), vram_budget_mb=16000, reason="largest"),
        Assignment(service="ai-yolo26", gpu_indices=(0,), vram_budget_mb=650, reason="fits"),
        Assignment(service="ai-small", gpu_indices=(0,), vram_budget_mb=4000, reason="fits"),
        Assignment(service="ai-enrichment", gpu_indices=(1,), vram_budget_mb=3500, reason="rest"),
    )
    gpus = (
        GpuFill(index=0, name="RTX A5500", used_mb=20650, usable_mb=22516),
        GpuFill(index=1, name="RTX A400", used_mb=3500, usable_mb=3582),
    )
    return Placement(strategy="vram_based", assignments=assignments, gpus=gpus), services


def test_coresidents_reserve_each_others_budgets_in_start_order() -> None:
    host = load_host("RTX A5500, RTX A400")
    placement, services = _placement()
    requests, notes = launch_requests(
        placement, services, host, entries=list(load_registry()), context=8192
    )
    by_name = {request.service: request for request in requests}
    assert sorted(by_name) == ["ai-llm", "ai-small"]
    assert any("ai-yolo26" in note and "transformers" in note for note in notes)
    assert any("ai-enrichment" in note for note in notes)
    llm, small = by_name["ai-llm"], by_name["ai-small"]
    assert llm.engine == "llama.cpp" and small.engine == "vllm"
    assert (llm.start_order, small.start_order) == (0, 2)
    assert llm.gpus[0].reserved_before_mb == 0
    assert llm.gpus[0].reserved_total_mb == 650 + 4000
    assert small.gpus[0].reserved_before_mb == 16000 + 650
    assert small.gpus[0].reserved_total_mb == 16000 + 650
    assert llm.model_source == "unsloth/Nemotron-3-Nano-30B-A3B-GGUF:Q4_K_M"
    assert small.model_source == "meta-llama/Llama-3.2-1B-Instruct"
    assert small.weights_mb > 2000 and small.kv_cache_mb > 0
    assert (llm.port, small.port) == (8000, 8002)
    # both render, and the vLLM fraction leaves the others their budgets
    for request in requests:
        config = render(request)
        assert config.port == request.port
    fraction = float(
        render(small).argv[list(render(small).argv).index("--gpu-memory-utilization") + 1]
    )
    assert fraction * small.gpus[0].total_mb <= small.gpus[0].total_mb - 16650


def test_set_items_become_overrides_for_all_or_one_service() -> None:
    import pytest

    from gpuplan.errors import GpuplanError
    from gpuplan.launch.requests import ALL_SERVICES, parse_overrides

    parsed = parse_overrides(
        [
            "max-model-len=4096",
            "ai-llm:image=vllm/vllm-openai:v0.33.0",
            "enforce-eager",
            "fit=false",
        ],
        ["ai-llm", "ai-small"],
    )
    assert parsed[ALL_SERVICES] == {"max-model-len": "4096", "enforce-eager": True, "fit": False}
    assert parsed["ai-llm"] == {"image": "vllm/vllm-openai:v0.33.0"}
    with pytest.raises(GpuplanError, match="no service 'ai-big'"):
        parse_overrides(["ai-big:port=1"], ["ai-llm"])
    with pytest.raises(GpuplanError, match="names no flag"):
        parse_overrides(["=1"], ["ai-llm"])


def test_overrides_for_all_then_one_service_reach_the_requests() -> None:
    host = load_host("RTX A5500, RTX A400")
    placement, services = _placement()
    requests, _ = launch_requests(
        placement,
        services,
        host,
        entries=list(load_registry()),
        overrides={"*": {"threads": "8", "port": "9"}, "ai-small": {"port": "9100"}},
    )
    by_name = {request.service: request for request in requests}
    assert by_name["ai-llm"].overrides == {"threads": "8", "port": "9"}
    assert by_name["ai-small"].overrides == {"threads": "8", "port": "9100"}


def _tight_llama(engine: str, budget_mb: int) -> tuple[Placement, list[Service]]:
    """llama-3.1-8b Q4_K_M on one RTX 4090 with a budget of ``budget_mb``."""
    service = Service(
        name="chat", model="llama-3.1-8b", quantization="Q4_K_M", engine=engine, vram_mb=budget_mb
    )
    assignment = Assignment(service="chat", gpu_indices=(0,), vram_budget_mb=budget_mb, reason="x")
    fill = GpuFill(index=0, name="RTX 4090", used_mb=budget_mb, usable_mb=22516)
    return Placement(strategy="vram_based", assignments=(assignment,), gpus=(fill,)), [service]


def test_flash_attention_forced_off_beyond_the_budget_may_not_start() -> None:
    """At 32k tokens llama.cpp without flash attention also holds 32768 × 512 × 32 heads
    × 4 bytes = 2 GiB of scores, which a budget sized for -fa auto does not have."""
    from gpuplan.memory.estimate import estimate
    from gpuplan.memory.vram import arch_of

    host = load_host("RTX 4090")
    arch = arch_of(load_registry().get("llama-3.1-8b"))
    auto = estimate(arch, quant="q4_k_m", engine="llama.cpp", context=32768).total_mb
    for engine, off in (
        ("llama.cpp", {"enable_flash_attention": False}),
        ("ollama", {"enable_flash_attention": False}),
    ):
        placement, services = _tight_llama(engine, auto)
        (request,), _ = launch_requests(
            placement, services, host, entries=list(load_registry()), context=32768,
            engine_settings=off,
        )  # fmt: skip
        assert 1500 < request.flash_off_shortfall_mb < 2100, request.flash_off_shortfall_mb
        warned = [n for n in render(request).notes if n.startswith("may not start:")]
        assert warned and "attention-score buffer" in warned[0], render(request).notes
        # Left to -fa auto, the same budget is enough, and nothing is said.
        (plain,), _ = launch_requests(
            placement, services, host, entries=list(load_registry()), context=32768
        )
        assert not any("attention-score" in n for n in render(plain).notes)
    # A budget with room for the scores: no shortfall.
    placement, services = _tight_llama("llama.cpp", auto + 2100)
    (roomy,), _ = launch_requests(
        placement, services, host, entries=list(load_registry()), context=32768,
        engine_settings={"enable_flash_attention": False},
    )  # fmt: skip
    assert roomy.flash_off_shortfall_mb == 0
