"""What an experienced self-hoster expects `gpuplan plan` to answer on common hardware.

Each row is a public fact about what people run on that hardware, with its
source, turned into a check on the plan for chat, embedding and caption (the
default roles). The checks are on classes (model size, precision class, GPUs
used), not on exact model ids, so that a better registry entry may win without
the test lying; what must never happen (an image-text model as the text
embedder, an idle GPU beside a full one, a 16 GB card refused gpt-oss-20b) is
checked exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from gpuplan.hardware import Host, load_host
from gpuplan.memory.vram import estimate_variant
from gpuplan.models.registry import ModelEntry, load_registry
from gpuplan.placement import Demand, assign
from gpuplan.planning import Plan, make_plan
from gpuplan.profiles import resolve_here
from gpuplan.selection.candidates import nominal_bits
from gpuplan.selection.joint import RolePick


def plan_for(spec: str) -> tuple[Host, Plan]:
    host = load_host(spec)
    resolution, _ = resolve_here(host)
    return host, make_plan(host, resolution, list(load_registry()))


def entry(model_id: str) -> ModelEntry:
    return load_registry().get(model_id)


def chat(plan: Plan) -> RolePick:
    pick = plan.selection.pick("chat")
    assert pick is not None, plan.selection.unserved
    return pick


@dataclass(frozen=True)
class Expectation:
    spec: str
    fact: str
    source: str
    check: Callable[[Host, Plan], None]


def _rtx_4090(host: Host, plan: Plan) -> None:
    pick = chat(plan)
    assert 24 <= entry(pick.model_id).parameters_b <= 36, pick
    assert pick.gpus == 1 and nominal_bits(pick.quantization) == 4


def _two_rtx_4090(host: Host, plan: Plan) -> None:
    pick = chat(plan)
    assert 24 <= entry(pick.model_id).parameters_b <= 36, pick  # a 32B-class model
    assert not plan.selection.unserved, plan.selection.unserved
    # ... chosen over the 70B that fits alone, and the plan says so.
    trade = plan.selection.primary_trade
    assert trade is not None and entry(trade.instead_of).parameters_b >= 60, trade
    assert set(trade.served) == {"embedding", "caption"}
    assert trade.reason.startswith(f"chose {pick.model_id} over {trade.instead_of} so that ")


def _rtx_4080(host: Host, plan: Plan) -> None:
    pick = chat(plan)
    assert 12 <= entry(pick.model_id).parameters_b <= 24, pick


def _rtx_3060(host: Host, plan: Plan) -> None:
    pick = chat(plan)
    assert 7 <= entry(pick.model_id).parameters_b <= 15, pick  # an 8B, or a 14B at Q4 alone
    served = {role for m in plan.selection.models for role in m.roles}
    assert {"chat", "embedding", "caption"} <= served, served


def _mixed_pair(host: Host, plan: Plan) -> None:
    models = plan.selection.models
    placed = assign(
        [Demand(m.vram_per_gpu_mb or m.vram_estimate_mb, m.gpus) for m in models],
        host.device_budgets_mb(),
    )
    assert placed is not None
    used = {device for devices in placed for device in devices}
    assert used == {0, 1}, placed  # the RTX A400 serves something
    assert chat(plan).vram_estimate_mb > host.device_budgets_mb()[1]  # chat on the A5500


def _h100(host: Host, plan: Plan) -> None:
    pick = chat(plan)
    assert pick.role_priority >= 90 and pick.gpus == 1, pick
    assert pick.quantization.upper() in ("FP8", "MXFP4"), pick  # fp8 is the profile's first


def _rtx_6000_pro(host: Host, plan: Plan) -> None:
    pick = chat(plan)
    assert entry(pick.model_id).parameters_b >= 60 and nominal_bits(pick.quantization) >= 4


def _eight_h100(host: Host, plan: Plan) -> None:
    pick = chat(plan)
    assert entry(pick.model_id).parameters_b >= 200 and pick.gpus in (4, 8), pick


def _mi300x(host: Host, plan: Plan) -> None:
    pick = chat(plan)
    assert entry(pick.model_id).parameters_b >= 70, pick
    assert all(block.device == "rocm" for block in plan.engines)
    assert all(block.allow_tf32 is None and block.cudnn_benchmark is None for block in plan.engines)
    assert plan.profile.active_profile.engine.get("allow_tf32") is not True
    assert not any("Ampere-or-newer" in line for line in plan.profile_why)


EXPECTATIONS = [
    Expectation(
        "RTX 4090",
        "A 32B model at Q4_K_M (Qwen2.5-32B-Instruct Q4_K_M: 19.85 GB) is the largest chat "
        "model people run on one 24 GB card; Gemma 3 27B at int4 (14.1 GB of weights) runs "
        "on one RTX 3090-class card and reads images too",
        "https://huggingface.co/bartowski/Qwen2.5-32B-Instruct-GGUF, https://developers."
        "googleblog.com/en/gemma-3-quantized-aware-trained-state-of-the-art-ai-to-consumer-gpus/",
        _rtx_4090,
    ),
    Expectation(
        "2x RTX 4090",
        "Llama-3.3-70B Q4_K_M (42.52 GB) fills two 24 GB cards and leaves no room for an "
        "embedder or captioner; asked for chat, embedding and caption, self-hosters run a "
        "32B (Qwen3-32B Q8_0, 34.8 GB, over both cards; or Q4_K_M on one) beside a sub-1B "
        "embedder (bge-m3, 568M) and captioner (Florence-2, 0.23-0.77B)",
        "https://huggingface.co/bartowski/Llama-3.3-70B-Instruct-GGUF, "
        "https://huggingface.co/Qwen/Qwen3-32B-GGUF, https://huggingface.co/BAAI/bge-m3",
        _two_rtx_4090,
    ),
    Expectation(
        "RTX 3060 12GB",
        "a 12 GB card runs an 8B at Q4 (~5 GB) with room for an embedder and a captioner; "
        "a 14B at Q4_K_M (~9 GB) fills it alone, so asked for three roles a self-hoster "
        "takes the 8B",
        "https://huggingface.co/Qwen/Qwen3-8B-GGUF",
        _rtx_3060,
    ),
    Expectation(
        "RTX 4080",
        "gpt-oss-20b 'can run on edge devices with just 16 GB of memory'; 14B at Q4 is the "
        "other common 16 GB choice",
        "https://openai.com/index/introducing-gpt-oss/",
        _rtx_4080,
    ),
    Expectation(
        "RTX A5500, RTX A400",
        "Seed 004's reference machine: GPU 0 (RTX A5500, 24 GB) for large models (LLM), GPU 1 "
        "(RTX A400, 4 GB) for small/medium models",
        "../shared/seeds/004_239ba373762cf6c0.txt, 'Reference Hardware'",
        _mixed_pair,
    ),
    Expectation(
        "H100-80GB",
        "gpt-oss-120b 'runs efficiently on a single 80 GB GPU'; Llama-3.3-70B in FP8 "
        "(about 70 GB of weights) is served from one H100 80GB",
        "https://openai.com/index/introducing-gpt-oss/",
        _h100,
    ),
    Expectation(
        "RTX 6000 Pro",
        "96 GB holds a 70B in FP8 or gpt-oss-120b (MXFP4, ~63 GB) with room beside it",
        "https://huggingface.co/openai/gpt-oss-120b",
        _rtx_6000_pro,
    ),
    Expectation(
        "8x H100-80GB",
        "Qwen3-235B-A22B is served with `vllm serve ... --tensor-parallel-size 8`",
        "https://huggingface.co/Qwen/Qwen3-235B-A22B-Instruct-2507",
        _eight_h100,
    ),
    Expectation(
        "MI300X",
        "MI300X has 192 GB of HBM3: a 70B-class model or larger on one GPU; ROCm has no TF32 "
        "or cuDNN knobs, and the GPU is CDNA 3 (gfx942), not Ampere",
        "https://www.amd.com/en/products/accelerators/instinct/mi300/mi300x.html",
        _mi300x,
    ),
]


@pytest.mark.parametrize("expectation", EXPECTATIONS, ids=[e.spec for e in EXPECTATIONS])
def test_chat_model_is_what_a_self_hoster_runs(expectation: Expectation) -> None:
    host, plan = plan_for(expectation.spec)
    expectation.check(host, plan)


@pytest.mark.parametrize("spec", [e.spec for e in EXPECTATIONS] + ["cpu"])
def test_every_requested_role_is_served(spec: str) -> None:
    """On each of these machines chat, embedding and caption fit together with a chat model
    of the class the table expects: a self-hoster would not leave a role they asked for
    unserved to run a chat model one size class larger (joint.PRIMARY_STEP)."""
    _, plan = plan_for(spec)
    assert not plan.selection.unserved, plan.selection.unserved
    assert {p.role for p in plan.selection.picks} == {"chat", "embedding", "caption"}


TEXT_EMBEDDERS = ("bge", "nomic-embed", "qwen3-embedding", "all-minilm", "e5", "gte")


@pytest.mark.parametrize("spec", [e.spec for e in EXPECTATIONS] + ["cpu"])
def test_the_embedder_is_a_text_embedder_of_a_few_gib(spec: str) -> None:
    """bge-m3 (568M), nomic-embed-text (137M), Qwen3-Embedding: text retrieval models.
    SigLIP and CLIP embed images and 64-77 tokens of text: not an answer for retrieval
    (https://huggingface.co/google/siglip-large-patch16-384: max 64 text tokens)."""
    _, plan = plan_for(spec)
    pick = plan.selection.pick("embedding")
    assert pick is not None, plan.selection.unserved
    assert pick.model_id.startswith(TEXT_EMBEDDERS), pick
    assert pick.vram_estimate_mb <= max(4096, plan.selection.max_vram_mb // 8), pick


def test_a_cpu_host_gets_a_text_embedder() -> None:
    _, plan = plan_for("cpu")
    pick = plan.selection.pick("embedding")
    assert pick is not None and pick.model_id.startswith(TEXT_EMBEDDERS)


@pytest.mark.parametrize("backend", ["llamacpp", "ollama"])
def test_gpt_oss_20b_fits_a_16_gb_card(backend: str) -> None:
    """ggml-org/gpt-oss-20b-GGUF (MXFP4 MoE, 12.1 GB) and Ollama's gpt-oss:20b (14 GB) run on
    16 GB cards (https://ollama.com/library/gpt-oss; llama.cpp prints `file type = MXFP4
    MoE`); Ollama turns flash attention on for gpt-oss (GGML.FlashAttention in
    ollama/fs/ggml/ggml.go)."""
    model = entry("gpt-oss-20b")
    (gguf,) = [v for v in model.variants if v.backend == "llamacpp"]
    variant = gguf.model_copy(update={"backend": backend})
    usable = load_host("RTX 4080").device_budgets_mb()[0]
    figure = estimate_variant(model, variant, context=8192, gpu_memory_mb=16376)
    assert figure.total_mb <= usable, (figure.total_mb, usable)
