"""The estimator against real engine logs: shared/data/vram/measured.json, row by row.

For every row this module says how to reproduce the logged run with ``estimate``
(engine, quantization, KV dtype, context, tensor parallel) and which of the logged
figures can be compared — or why a row cannot be used. Three checks:

* ``weights``: estimated weights within 5 % of the logged figure (vLLM's "Model
  loading took … GiB", SGLang's "Load weight end … mem usage", llama.cpp's GPU
  "model buffer size");
* ``total``: estimated total ≥ the measured requirement (below);
* ``kv``: estimated KV bytes per token within 5 % of, and not below, logged KV
  memory / logged KV tokens (vLLM's KV figure is what was *left over*, so only the
  per-token ratio is comparable).

The measured requirement of a run at its own context is:

* vLLM: "Total non KV cache memory" (weights + torch activation peak + non-torch
  increase) + CUDA graph memory + KV per token × context. (The CUDA context is not
  in these lines; the estimate includes it, so it is conservative by that much.)
  V0 rows print the torch peak instead: peak torch + non-torch + KV × context.
* SGLang: weights + KV per token × context + CUDA graph memory.
* llama.cpp / Ollama: GPU model buffer + KV buffer + compute buffer (+ LoRA). Ollama's
  own ``memory.required.*`` / ``memory.weights.*`` line is its pre-load prediction, never
  a measurement; its llama.cpp runner's buffer lines are used instead.
* TensorRT-LLM (C++ runtime): "Loaded engine size" + "Allocated … for execution context
  memory" + "… GPU memory for runtime buffers" + "… GPU memory for decoder" + KV per
  token × context. These are the four allocations its memory guide names besides the KV
  pool (docs/source/reference/memory.md in NVIDIA/TensorRT-LLM: weights, activations,
  I/O tensors); the KV pool is sized from what is *left*, so, as for vLLM, only its
  per-token ratio is comparable ("Allocated X GiB for max tokens in paged KV cache (N)").

A check the estimator is known to fail is listed in ``Setup.known_miss`` with the
reason; the tests then assert that it still fails, so a fix (or a regression of the
reason) shows up instead of rotting silently.

Rows come from the shared file and from gpuplan's own
tests/memory/data/measured_extra.json (same schema, ids ``extraNNN``).

Used by tests/memory/test_estimate_measured.py and to render the calibration table
in docs/estimator.md (``python -m tests.memory.calibration --write``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from gpuplan.memory.engines import engine_profile
from gpuplan.memory.estimate import Estimate, estimate
from gpuplan.memory.kvcache import kv_memory, resolve_kv_dtype
from gpuplan.models.arch import ModelArch
from gpuplan.models.hf_config import parse_hf_config
from tests.conftest import VRAM_DATA

MIB = 2**20
WEIGHTS_TOLERANCE = 0.05
KV_TOLERANCE = 0.05


@dataclass(frozen=True)
class Setup:
    """How to reproduce one logged run, and which checks its figures support."""

    engine: str = "vllm"
    quant: str | None = None
    kv_cache_dtype: str | None = None
    context: int | None = None  # None: the row's own context_length
    tensor_parallel: int = 1
    flash_attention: bool | None = None
    checks: tuple[str, ...] = ("weights", "total", "kv")
    skipped: dict[str, str] | None = None  # check → why it cannot be made
    known_miss: dict[str, str] | None = None  # check → why the estimate fails it today
    note: str = ""


_FLAGGED_MODEL = "model identity inferred and quantization not printed (row flags)"
_NO_CONTEXT = "the log excerpt has no max_model_len, so no requirement can be derived"
_NO_KV_TOKENS = "the excerpt has no KV token count"

SETUPS: dict[str, Setup] = {
    "row001": Setup(engine="llama.cpp", checks=(), skipped={"all": _FLAGGED_MODEL}),
    "row006": Setup(engine="llama.cpp", quant="iq4_xs"),
    "row008": Setup(
        engine="llama.cpp", quant="q4_0", note="Vulkan backend: compute buffer is backend-specific"
    ),
    "row010": Setup(
        engine="llama.cpp",
        quant="q4_k_m",
        checks=("total", "kv"),
        skipped={
            "weights": "quantized by a Dec 2023 llama.cpp whose Q4_K_M left MoE ffn_down in "
            "Q4_K (4.52 bpw measured); today's quantizer promotes half the layers' "
            "ffn_down to Q6_K and, for 8 experts, attn_k/attn_v to Q8_0 (~4.87 bpw), "
            "which the name-only estimate replays: +8 % here"
        },
    ),
    "row013": Setup(engine="llama.cpp", quant="UD-Q4_K_XL", kv_cache_dtype="q8_0"),
    "row014": Setup(engine="llama.cpp", quant="iq4_xs"),
    "row016": Setup(
        engine="llama.cpp",
        quant="q5_k_s",
        flash_attention=False,
        checks=("weights", "total"),
        skipped={"kv": "K cache iq4_nl with V f16: estimated with f16 for both (larger)"},
    ),
    "row018": Setup(
        engine="ollama",
        quant="q4_k_m",
        flash_attention=False,  # Ollama 0.5.x: on only for its list of architectures
        note="identity inferred but corroborated: the CPU buffer 417.66 MiB is exactly "
        "152064 × 5120 Q4_K (Qwen2.5-14B's embedding)",
    ),
    # Ollama 0.5.x kept flash attention off for llama; from 0.30 it passes -fa auto.
    "row019": Setup(engine="ollama", quant="q4_k_m", flash_attention=False),
    "row020": Setup(engine="ollama", quant="q4_k_m", flash_attention=False),
    "row021": Setup(
        engine="ollama",
        checks=(),
        skipped={
            "all": "Ollama's pre-load prediction, not a measurement (estimate_only_not_measured)"
        },
    ),
    "row032": Setup(
        quant="fp8",
        tensor_parallel=4,
        context=8192,
        checks=("kv",),
        skipped={"weights": "not in the excerpt", "total": _NO_CONTEXT},
    ),
    "row036": Setup(),
    "row041": Setup(),
    "row048": Setup(checks=("weights",), skipped={"total": _NO_CONTEXT, "kv": _NO_KV_TOKENS}),
    "row049": Setup(
        tensor_parallel=2,
        checks=("weights",),
        skipped={"total": _NO_CONTEXT, "kv": "KV figure cut off in the excerpt"},
    ),
    "row050": Setup(),
    "row051": Setup(kv_cache_dtype="fp8"),
    "row052": Setup(quant="fp32"),
    "row053": Setup(),
    "row054": Setup(checks=(), skipped={"all": "pipeline parallel (pp=2) is not modelled"}),
    "row055": Setup(checks=(), skipped={"all": "pipeline parallel (pp=4) is not modelled"}),
    "row056": Setup(tensor_parallel=2),
    "row057": Setup(tensor_parallel=4),
    "row058": Setup(),
    "row059": Setup(),
    "row060": Setup(),
    "row061": Setup(
        checks=("weights",),
        skipped={
            "total": "activation and graph figures not in the excerpt",
            "kv": "KV memory not in the excerpt (only its token count)",
        },
    ),
    "row062": Setup(quant="w8a8"),
    "row063": Setup(quant="fp8"),
    "row064": Setup(quant="w4a16"),
    "row068": Setup(tensor_parallel=4),
    "row069": Setup(
        quant="fp8",
        tensor_parallel=8,
        context=8192,
        checks=(),
        skipped={
            "weights": "Meta's FP8 recipe keeps attention and the first and last layers in "
            "BF16, which a quantization name cannot tell: read the safetensors headers "
            "(the file path is exact)",
            "total": _NO_CONTEXT,
            "kv": "the run failed before KV allocation",
        },
    ),
    "row071": Setup(),
    "row072": Setup(quant="gptq"),
    "row076": Setup(tensor_parallel=2),
    "row077": Setup(quant="mxfp4", tensor_parallel=2),
    "row078": Setup(
        quant="mxfp4",
        checks=("weights",),
        skipped={"total": "activation figures not in the excerpt", "kv": "no KV token count"},
    ),
    "row080": Setup(
        engine="sglang",
        quant="fp8",
        tensor_parallel=4,
        context=8192,
        checks=("kv",),
        skipped={"weights": "not in the excerpt", "total": _NO_CONTEXT},
    ),
    "row081": Setup(
        engine="sglang", context=8192, checks=("weights", "kv"), skipped={"total": _NO_CONTEXT}
    ),
    "row082": Setup(engine="sglang"),
    "row083": Setup(
        engine="sglang",
        quant="mxfp4",
        context=8192,
        checks=("weights",),
        skipped={"total": _NO_CONTEXT, "kv": "the run failed before the KV pool"},
    ),
    # tests/memory/data/measured_extra.json
    "extra001": Setup(
        tensor_parallel=2,
        checks=("weights",),
        skipped={
            "total": "the run failed at KV sizing; the activation and non-torch figures are "
            "paraphrased in the issue, not logged lines",
            "kv": _NO_KV_TOKENS.replace("token count", "KV memory figure"),
        },
    ),
    "extra002": Setup(
        engine="llama.cpp",
        kv_cache_dtype="q8_0",
        checks=("kv",),
        skipped={
            "weights": "model buffers not in the excerpt",
            "total": "model buffers not in the excerpt",
        },
        note="identity inferred but corroborated: n_layer 64 printed, and the draft model "
        "qwen2.5-coder:1.5b only pairs with the Qwen2.5-Coder vocabulary",
    ),
    # llm-d-planner's vLLM v0.19.0 sweep, logs the shared file does not use yet
    "extra003": Setup(),
    "extra004": Setup(
        checks=("total", "kv"),
        skipped={
            "weights": "vLLM's 'Model loading took 8.58 GiB' is 0.6 GiB above Gemma 3 4B's "
            "safetensors total (4.30 B × 2 bytes, vision tower included): −5.9 %. The 12B "
            "and 27B runs of the same sweep show a similar fixed 0.4–0.6 GiB on top of their "
            "parameters, whose cause the log does not show; not tuned to"
        },
    ),
    "extra005": Setup(),
    "extra006": Setup(),
    "extra007": Setup(),
    "extra008": Setup(quant="fp8", tensor_parallel=2),
    "extra009": Setup(quant="fp8", tensor_parallel=4),
    "extra010": Setup(quant="fp8"),
    "extra011": Setup(quant="w8a8", tensor_parallel=2),
    "extra012": Setup(),
    "extra013": Setup(quant="w8a8"),
    "extra014": Setup(quant="w8a8"),
    "extra015": Setup(
        tensor_parallel=2,
        note="V0 log without a CUDA-graph figure: the requirement leaves the graphs out",
    ),
    # TensorRT-LLM, SGLang, Ollama and more MoE / vision / multi-GPU runs (issue 8, item 4)
    "extra016": Setup(
        engine="tensorrt-llm",
        quant="fp8",
        kv_cache_dtype="fp8",
        checks=("kv",),
        skipped={
            "weights": "the excerpt has no engine-size line",
            "total": "no engine size or runtime-buffer lines in the excerpt",
        },
    ),
    "extra017": Setup(
        engine="tensorrt-llm",
        quant="int8",
        checks=("kv",),
        skipped={
            "weights": "TensorRT-LLM's int8 weight-only engine keeps the embedding and the tied "
            "lm_head in fp16 as two copies (875 MiB engine for 0.49 B parameters); a "
            "quantization name cannot tell which tensors stay wide",
            "total": _NO_CONTEXT.replace("max_model_len", "max_seq_len"),
        },
    ),
    "extra018": Setup(
        engine="sglang",
        quant="fp8",
        tensor_parallel=4,
        context=8192,
        checks=("kv",),
        skipped={"weights": "not in the excerpt", "total": _NO_CONTEXT},
    ),
    "extra019": Setup(
        quant="fp8",
        tensor_parallel=4,
        context=8192,
        checks=("kv",),
        skipped={"weights": "not in the excerpt", "total": _NO_CONTEXT},
    ),
    "extra020": Setup(
        tensor_parallel=4,
        checks=("weights",),
        skipped={
            "total": "the run went out of memory capturing CUDA graphs; no KV figure",
            "kv": _NO_KV_TOKENS,
        },
    ),
    "extra021": Setup(
        engine="ollama",
        quant="q4_0",
        checks=("weights",),
        skipped={"total": "KV and compute lines cut from the excerpt", "kv": _NO_KV_TOKENS},
        note="identity inferred but corroborated: 42 layers, n_embd_k_gqa 2048 and a q6_K "
        "token_embd of exactly 256000 x 3584 x 6.5625 / 8 bytes (717.77 MiB) fit only Gemma 2 9B",
    ),
    "extra022": Setup(
        engine="ollama",
        quant="q3_k_m",
        checks=("kv",),
        skipped={
            "weights": "model buffers not in the excerpt",
            "total": "model and compute buffers not in the excerpt",
        },
        note="identity inferred but corroborated: n_layer 80 with 8 KV heads of 128 (1280 MiB at "
        "4096 cells) and the ollama ps line of the same comment (llama3.3:70b-instruct-q3_K_M, "
        "100% GPU); the KV is summed over both GPUs, so it is checked for the whole model",
    ),
    "extra023": Setup(
        checks=("weights",),
        skipped={"total": "no KV token count", "kv": _NO_KV_TOKENS},
    ),
    "extra024": Setup(
        tensor_parallel=2,
        checks=("weights",),
        skipped={"total": "no KV token count", "kv": _NO_KV_TOKENS},
    ),
    # ggml-org/ci's CUDA V100 run of llama.cpp 4e39a3c33: every buffer printed
    "extra026": Setup(engine="llama.cpp", quant="q4_k_m", flash_attention=False),
    "extra027": Setup(engine="llama.cpp", quant="q3_k_m", flash_attention=False),
    "extra030": Setup(engine="llama.cpp", quant="q8_0", flash_attention=True),
    "extra028": Setup(engine="sglang"),
    "extra029": Setup(engine="sglang"),
    "extra025": Setup(
        tensor_parallel=2,
        checks=("weights",),
        skipped={"total": "the excerpt is cut after non-torch memory", "kv": _NO_KV_TOKENS},
    ),
}


EXTRA = Path(__file__).parent / "data" / "measured_extra.json"


@cache
def measured() -> dict[str, Any]:
    """The shared rows followed by gpuplan's own (tests/memory/data/measured_extra.json)."""
    data: dict[str, Any] = json.loads((VRAM_DATA / "measured.json").read_text())
    extra: dict[str, Any] = json.loads(EXTRA.read_text(encoding="utf-8"))
    clash = set(data["models"]) & set(extra["models"])
    assert not clash, f"measured_extra.json redefines shared models: {clash}"
    return {
        "meta": data["meta"],
        "rows": [*data["rows"], *extra["rows"]],
        "models": {**data["models"], **extra["models"]},
    }


def rows() -> list[dict[str, Any]]:
    return list(measured()["rows"])


def arch_for(model_key: str, dtype: str | None = None) -> ModelArch:
    """A ModelArch from the architecture facts measured.json records for a model."""
    facts = dict(measured()["models"][model_key])
    if "registry_config" in facts:  # the whole config.json, vision tower and all
        entry = _registry_entry(facts["registry_config"])
        return parse_hf_config({**entry["hf_config"], "torch_dtype": dtype or "bfloat16"})
    config: dict[str, Any] = {
        key: value
        for key, value in facts.items()
        if key.startswith(
            ("num_", "hidden", "head_dim", "intermediate", "vocab", "tie_", "max_pos")
        )
        or key
        in (
            "sliding_window",
            "sliding_window_pattern",
            "moe_intermediate_size",
            "shared_expert_intermediate_size",
        )
    }
    config["model_type"] = facts["family"].split()[0]
    if "num_experts" in facts:
        config["num_local_experts"] = facts["num_experts"]
    if facts["family"].startswith("llama4"):
        # Not in measured.json's facts; from the Instruct model's config.json
        # (meta-llama/Llama-4-Scout-17B-16E-Instruct: attention_chunk_size 8192,
        # max_position_embeddings 10485760).
        config["model_type"] = "llama4_text"
        config["attention_chunk_size"] = 8192
        config["max_position_embeddings"] = 10485760
    if str(facts.get("layer_types", "")).startswith("alternating"):
        config["layer_types"] = [
            "sliding_attention" if i % 2 == 0 else "full_attention"
            for i in range(facts["num_hidden_layers"])
        ]
    config["torch_dtype"] = dtype or "bfloat16"
    arch = parse_hf_config(config)
    return arch.model_copy(update={"parameters": round(facts["total_params_b"] * 1e9)})


def _registry_entry(model_id: str) -> dict[str, Any]:
    """A registry entry by id: its hf_config block is the model's config.json, cited there."""
    import tomllib

    import gpuplan.models

    data = Path(gpuplan.models.__file__).parent / "data" / "registry.toml"
    entries = tomllib.loads(data.read_text(encoding="utf-8"))["models"]
    found: dict[str, Any] = next(e for e in entries if e["id"] == model_id)
    return found


def _row_dtype(row: dict[str, Any]) -> str:
    return "float32" if str(row["dtype"]).startswith("float32") else "bfloat16"


def context_of(row: dict[str, Any]) -> int:
    setup = SETUPS[row["id"]]
    return setup.context or int(row["context_length"] or 8192)  # weights-only rows: any context


def run(row: dict[str, Any]) -> Estimate:
    setup = SETUPS[row["id"]]
    return estimate(
        arch_for(row["model_key"], _row_dtype(row)),
        quant=setup.quant,
        engine=setup.engine,
        context=context_of(row),
        kv_cache_dtype=setup.kv_cache_dtype,
        tensor_parallel=setup.tensor_parallel,
        flash_attention=setup.flash_attention,
    )


def kv_per_token_mib(row: dict[str, Any]) -> tuple[float, float | None]:
    """(estimated, measured) KV MiB per token on one GPU."""
    setup = SETUPS[row["id"]]
    arch = arch_for(row["model_key"], _row_dtype(row))
    profile = engine_profile(setup.engine)
    kv = kv_memory(
        arch,
        profile,
        context=context_of(row),
        concurrency=1,
        kv_dtype=resolve_kv_dtype(arch, profile, setup.kv_cache_dtype),
        tensor_parallel=setup.tensor_parallel,
    )
    derived = row["derived_mib"]
    tokens = derived.get("kv_cache_tokens")
    kv_mib = derived.get("kv_cache_mib")
    return kv.per_token_bytes / MIB, (kv_mib / tokens if kv_mib and tokens else None)


def measured_total_mib(row: dict[str, Any]) -> float | None:
    """The measured requirement of the run at its own context (see the module docstring)."""
    d = row["derived_mib"]
    family = row["engine_family"]
    if family in ("llama.cpp", "ik_llama.cpp", "Ollama"):
        if "weights_mib" not in d or "kv_cache_mib" not in d:
            return None
        return float(
            d["weights_mib"] + d["kv_cache_mib"] + d.get("compute_mib", 0) + d.get("lora_mib", 0)
        )
    _, per_token = kv_per_token_mib(row)
    if per_token is None:
        return None
    kv = per_token * context_of(row)
    graphs = d.get("cuda_graph_mib", 0.0)
    if family == "SGLang":
        return float(d["weights_mib"] + kv + graphs) if "weights_mib" in d else None
    if family == "TensorRT-LLM":
        trt = ("engine_mib", "execution_context_mib", "runtime_buffers_mib", "decoder_mib")
        return float(sum(d[p] for p in trt) + kv) if all(p in d for p in trt) else None
    if "total_non_kv_mib" in d:
        return float(d["total_non_kv_mib"] + graphs + kv)
    if "peak_torch_memory_mib" in d:
        return float(d["peak_torch_memory_mib"] + d["non_torch_mib"] + kv)
    parts = ("weights_mib", "activation_peak_mib", "non_torch_mib")
    if all(p in d for p in parts):
        return float(sum(d[p] for p in parts) + graphs + kv)
    return None


def weights_ratio(row: dict[str, Any]) -> float:
    """Estimated ÷ logged weights (per GPU)."""
    return run(row).weights_mb / float(row["derived_mib"]["weights_mib"])


def expected_to_pass(row: dict[str, Any], check: str) -> bool:
    """Whether ``check`` is made on ``row`` and not a listed known miss."""
    setup = SETUPS[row["id"]]
    return check in setup.checks and check not in (setup.known_miss or {})


def markdown_table() -> str:
    """The calibration table of docs/estimator.md."""
    lines = [
        "| row | engine | model | quant | ctx | TP | weights measured | weights est. | Δ | "
        "total measured | total est. | source |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows():
        setup = SETUPS[row["id"]]
        model = row["model_key"].split("/")[-1].removesuffix(" (inferred)")
        source = f"[{row['source_group']}]({row['source_url']})"
        if not setup.checks:
            reason = (setup.skipped or {}).get("all", "no figure can be compared (see below)")
            lines.append(
                f"| {row['id']} | {row['engine_family']} | {model} | – | – | – | "
                f"not used: {reason} | | | | | {source} |"
            )
            continue
        est = run(row)
        weights = row["derived_mib"].get("weights_mib")
        total = measured_total_mib(row) if "total" in setup.checks else None
        delta = f"{(est.weights_mb / weights - 1) * 100:+.1f} %" if weights else ""
        w_meas = f"{weights:,.0f}" if weights else "–"
        if "weights" not in setup.checks and weights:
            w_meas += " (not compared)"
        if "weights" in (setup.known_miss or {}):
            delta += " (known miss)"
        lines.append(
            f"| {row['id']} | {est.engine} | {model} | {est.quant} | {est.context:,} | "
            f"{est.tensor_parallel} | {w_meas} | {est.weights_mb:,} | {delta} | "
            f"{f'{total:,.0f}' if total else '–'} | {est.total_mb:,} | {source} |"
        )
    return "\n".join(lines) + "\n"


def markdown_skips() -> str:
    """Which checks each row cannot support, and why (docs/estimator.md)."""
    lines = ["| row | check not made | why |", "|---|---|---|"]
    for row in rows():
        for check, reason in (SETUPS[row["id"]].skipped or {}).items():
            lines.append(f"| {row['id']} | {check} | {reason} |")
        for check, reason in (SETUPS[row["id"]].known_miss or {}).items():
            lines.append(
                f"| {row['id']} | {check} (known miss: made, and asserted to fail) | {reason} |"
            )
    return "\n".join(lines) + "\n"


def total_ratios() -> dict[str, float]:
    """Estimated total ÷ measured requirement, per row with a total check."""
    ratios: dict[str, float] = {}
    for row in rows():
        if expected_to_pass(row, "total"):
            measured_total = measured_total_mib(row)
            if measured_total:
                ratios[row["id"]] = run(row).total_mb / measured_total
    return ratios


def _regions() -> dict[str, str]:
    return {"calibration-table": markdown_table(), "calibration-skips": markdown_skips()}


def render_doc(text: str) -> str:
    """``text`` (docs/estimator.md) with its generated regions brought up to date."""
    for name, body in _regions().items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        head, _, rest = text.partition(start)
        _, _, tail = rest.partition(end)
        text = f"{head}{start}\n{body}{end}{tail}"
    return text


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--median"]:
        import statistics

        ratios = total_ratios()
        shared = [r for key, r in ratios.items() if not key.startswith("extra")]
        print(
            f"median total / measured: {statistics.median(ratios.values()):.4f} over "
            f"{len(ratios)} rows; {statistics.median(shared):.4f} over the "
            f"{len(shared)} shared rows"
        )
    elif sys.argv[1:2] == ["--write"]:
        doc = Path(sys.argv[2] if len(sys.argv) > 2 else "docs/estimator.md")
        doc.write_text(render_doc(doc.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(markdown_table())
        print(markdown_skips(), end="")
