"""The facade's launch requests: per-GPU estimates, co-residents' reservations, ports."""

from __future__ import annotations

from pathlib import Path

from gpuplan.hardware import load_host
from gpuplan.placement import Service, place
from gpuplan.placement.services import load_services
from gpuplan.planning_launch import BASE_PORT, launch_requests
from gpuplan.profiles.model import DeploymentProfile

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "seed004-services.yml"


def profile() -> DeploymentProfile:
    return DeploymentProfile(profile="test", max_vram_mb=22000)


def test_seed_004_requests_carry_co_residents_and_skip_the_zoo() -> None:
    host = load_host("RTX A5500, RTX A400")
    services = load_services(EXAMPLE)
    placement = place(services, host)
    requests = {r.service: r for r in launch_requests(placement, services, host, profile())}
    assert "ai-enrichment" not in requests  # a zoo has no single engine line
    llm = requests["ai-llm"]
    assert llm.engine == "llama.cpp" and llm.quantization == "Q4_K_M"
    assert llm.model_source.startswith("unsloth/Nemotron-3-Nano-30B-A3B-GGUF")
    assert [slot.index for slot in llm.gpus] == [0] and llm.gpus[0].total_mb == 24564
    # everything else on GPU 0 starts after the LLM and reserves around it
    assert llm.start_order == 0 and llm.gpus[0].reserved_before_mb == 0
    assert llm.gpus[0].reserved_total_mb == 650 + 1536 + 1229
    clip = requests["ai-clip"]
    assert clip.gpus[0].reserved_before_mb == 22221 + 650 + 1536
    assert clip.start_order == 3
    ports = [r.port for r in requests.values()]
    assert len(set(ports)) == len(ports) and min(ports) == BASE_PORT


def test_tensor_parallel_requests_split_weights_over_their_gpus() -> None:
    host = load_host("2x RTX 4090")
    services = (Service(name="big", model="qwen3-32b", vram_mb=40000, quantization="BF16"),)
    placement = place(services, host)
    (request,) = launch_requests(placement, services, host, profile())
    assert [slot.index for slot in request.gpus] == [0, 1]
    assert request.vram_budget_mb == 40000
    assert 0 < request.weights_mb < 65536 // 2 + 2048  # ~32.8 B x 2 bytes, halved
    assert request.kv_cache_mb > 0 and request.context_tokens
