"""Per-engine memory behaviour, as data: one ``EngineProfile`` per serving engine.

The estimator's formula is the same for every engine (weights + KV cache +
activations + fixed overhead); what differs is *how* each engine allocates, and that
is recorded here with the reason and, where we have one, the measured figure each
number was checked against (row ids of ``shared/data/vram/measured.json``). See
docs/estimator.md for the derivations.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.errors import ModelError

Engine = Literal["vllm", "sglang", "llama.cpp", "ollama", "tensorrt-llm", "transformers"]
"""The serving engines gpuplan estimates and launches."""

SlidingRule = Literal["window_plus_batch", "window_plus_ubatch", "full"]
"""How an engine sizes the KV of a sliding-window layer:

* window_plus_batch (vLLM): min(context, window - 1 + max_num_batched_tokens) per sequence —
  ``SlidingWindowSpec.max_memory_usage_bytes`` in vLLM's ``kv_cache_interface.py``;
* window_plus_ubatch (llama.cpp, Ollama): min(n_ctx, window × n_seq + n_ubatch) —
  llama.cpp's iSWA cache with ``--swa-full`` off (its default since mid-2025);
* full: every layer holds the whole context (conservative; the engine may do better).
"""


class EngineProfile(BaseModel):
    """How one engine spends GPU memory beyond weights and KV cache. MiB unless named."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Engine = Field(description="Engine id.")
    label: str = Field(description="Display name.")
    ggml: bool = Field(description="llama.cpp family: GGUF types, compute buffer, host embeddings.")
    cuda_context_mb: int = Field(description="CUDA context + kernels per process per GPU.")
    runtime_mb: int = Field(description="Non-tensor runtime memory (cuBLAS/VMM pools, workspaces).")
    tp_comm_mb: int = Field(
        description="Extra per GPU when split over several GPUs (NCCL buffers)."
    )
    cuda_graph_mb: int = Field(description="CUDA graphs captured at start-up (0: none).")
    kv_default_dtype: str = Field(
        description="KV cache dtype when 'auto': 'model' = weights' dtype."
    )
    kv_dtypes: tuple[str, ...] = Field(description="KV cache dtypes the engine accepts.")
    kv_block_tokens: int = Field(description="KV allocation granularity (context rounds up to it).")
    sliding_rule: SlidingRule = Field(description="How sliding-window layers are sized.")
    kv_group_padding: bool = Field(
        default=False,
        description="Hybrid models' layers are split per attention type into KV groups of one "
        "size and the last group of each type is padded (vLLM V1's hybrid KV cache manager).",
    )
    prefill_chunk_tokens: int | None = Field(
        description="Tokens per forward pass (chunked prefill); None: the whole prompt at once."
    )
    sampler_rows: int = Field(description="Logit rows sized at start-up (max_num_seqs).")
    small_gpu_below_mb: int | None = Field(
        default=None,
        description="Below this GPU memory the engine picks smaller start-up defaults.",
    )
    small_gpu_prefill_tokens: int | None = Field(
        default=None, description="Prefill chunk on GPUs below small_gpu_below_mb."
    )
    small_gpu_sampler_rows: int | None = Field(
        default=None, description="max_num_seqs on GPUs below small_gpu_below_mb."
    )
    sampler_bytes_per_logit: int = Field(description="Bytes per logit across the sampler's copies.")
    ubatch_tokens: int = Field(default=512, description="llama.cpp n_ubatch (compute buffer).")
    flash_attention: Literal["on", "off", "auto"] = Field(
        description="The engine's default: 'auto' is llama.cpp's -fa auto, on where ggml's "
        "kernels take the model's head sizes (gpuplan.memory.flash_attention). Without it "
        "llama.cpp's compute buffer holds n_ctx × n_ubatch scores."
    )
    mla_full_kv: bool = Field(
        default=False, description="MLA models cache decompressed per-head K/V (transformers)."
    )
    shards_vision: bool = Field(
        default=False,
        description="Splits a vision tower's encoder blocks over tensor-parallel GPUs (vLLM's "
        "mm_encoder_tp_mode 'weights'); otherwise every GPU holds the whole tower.",
    )
    uniform_layer_kv: bool = Field(
        default=False,
        description="Allocates every layer's KV for every cached token, self- and "
        "cross-attention alike (vLLM's paged cache for Mllama).",
    )
    rope_cache: bool = Field(
        default=False,
        description="Keeps a cos/sin table of max_position × rotary dim per GPU, counted in "
        "its model-loading memory.",
    )
    activation_slack: float = Field(
        default=1.0, description="Multiplier on activations for allocator fragmentation."
    )
    preallocates: str = Field(
        description="What the engine grabs at start-up beyond the requirement."
    )
    calibrated_rows: tuple[str, ...] = Field(
        description="measured.json rows this was checked against."
    )


_VLLM_KV = ("auto", "fp16", "bf16", "fp8")
_GGML_KV = ("fp32", "fp16", "bf16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "iq4_nl")

ENGINES: dict[Engine, EngineProfile] = {
    "vllm": EngineProfile(
        name="vllm",
        label="vLLM",
        ggml=False,
        cuda_context_mb=512,
        runtime_mb=256,  # 'non-torch forward increase memory' 0.25 GiB at TP1 (rows 050-064)
        tp_comm_mb=2048,  # non-torch 2.07-2.17 GiB at TP2/TP4 (rows 056, 057, 068, 076, 077)
        cuda_graph_mb=1664,  # largest measured: 1.55 GiB (row 077)
        kv_default_dtype="model",
        kv_dtypes=_VLLM_KV,
        kv_block_tokens=16,
        sliding_rule="window_plus_batch",
        kv_group_padding=True,
        prefill_chunk_tokens=8192,  # max_num_batched_tokens on >=70 GiB GPUs (V1 default)
        sampler_rows=1024,  # max_num_seqs on >=70 GiB GPUs (256 elsewhere)
        small_gpu_below_mb=70 * 1024,  # vLLM's EngineArgs: smaller defaults below 70 GiB
        small_gpu_prefill_tokens=2048,
        small_gpu_sampler_rows=256,
        sampler_bytes_per_logit=16,  # fp32 logits + ~3 sampler copies
        flash_attention="on",
        rope_cache=True,  # +32 MiB for Llama 3.1 (131072 × 128 × 2 B), rows 050-064
        # qwen2_5_vl.py, mllama4.py and siglip.py split towers with QKVParallelLinear etc., yet
        # a measured Qwen2.5-VL-7B run at TP2 (calibration row extra025) holds the whole tower
        # on each GPU: count it whole until a measurement shows the split.
        shards_vision=False,
        uniform_layer_kv=True,  # one KV tensor per layer, all sharing the block pool
        preallocates="gpu_memory_utilization × GPU memory (default 0.9): the rest of that "
        "fraction becomes extra KV cache",
        calibrated_rows=(
            "row036",
            "row041",
            "row050",
            "row051",
            "row052",
            "row053",
            "row056",
            "row057",
            "row058",
            "row059",
            "row060",
            "row062",
            "row063",
            "row064",
            "row068",
            "row071",
            "row072",
            "row076",
            "row077",
        ),
    ),
    "sglang": EngineProfile(
        name="sglang",
        label="SGLang",
        ggml=False,
        cuda_context_mb=512,
        runtime_mb=256,
        tp_comm_mb=2048,
        cuda_graph_mb=1024,  # cuda_graph_max_bs up to 256-512 on large GPUs
        kv_default_dtype="model",
        kv_dtypes=_VLLM_KV,
        kv_block_tokens=1,
        sliding_rule="full",
        prefill_chunk_tokens=8192,  # chunked_prefill_size on large GPUs
        sampler_rows=1024,
        sampler_bytes_per_logit=16,
        flash_attention="on",
        rope_cache=True,
        preallocates="mem_fraction_static × GPU memory for weights + KV pool",
        calibrated_rows=("row081", "row082", "row083"),
    ),
    "llama.cpp": EngineProfile(
        name="llama.cpp",
        label="llama.cpp",
        ggml=True,
        cuda_context_mb=512,
        runtime_mb=256,  # ggml CUDA VMM pool (dequantize buffers, cuBLAS workspace)
        tp_comm_mb=0,
        cuda_graph_mb=0,
        kv_default_dtype="fp16",
        kv_dtypes=_GGML_KV,
        kv_block_tokens=256,
        sliding_rule="window_plus_ubatch",
        prefill_chunk_tokens=512,
        sampler_rows=1,
        sampler_bytes_per_logit=0,
        flash_attention="auto",  # -fa auto, the default since Aug 2025
        preallocates="nothing beyond the requested context (n_ctx × parallel)",
        calibrated_rows=("row006", "row008", "row010", "row013", "row014", "row016"),
    ),
    "ollama": EngineProfile(
        name="ollama",
        label="Ollama",
        ggml=True,
        cuda_context_mb=512,
        runtime_mb=256 + 457,  # + Ollama's per-GPU minimum reserve (457 MiB on CUDA)
        tp_comm_mb=0,
        cuda_graph_mb=0,
        kv_default_dtype="fp16",
        kv_dtypes=("fp16", "q8_0", "q4_0"),
        kv_block_tokens=256,
        sliding_rule="window_plus_ubatch",
        prefill_chunk_tokens=512,
        sampler_rows=1,
        sampler_bytes_per_logit=0,
        # Ollama >= 0.30 runs llama-server with --flash-attn auto (llm/llama_server.go);
        # before, only for a list of architectures (see gpuplan.memory.flash_attention).
        flash_attention="auto",
        preallocates="num_ctx × num_parallel tokens of KV per loaded model",
        calibrated_rows=("row018", "row019", "row020"),
    ),
    "tensorrt-llm": EngineProfile(
        name="tensorrt-llm",
        label="TensorRT-LLM",
        ggml=False,
        cuda_context_mb=512,
        runtime_mb=1024,  # TensorRT runtime, workspace, decoder buffers
        tp_comm_mb=2048,
        cuda_graph_mb=1024,
        kv_default_dtype="model",
        kv_dtypes=("auto", "fp16", "bf16", "fp8", "int8"),
        kv_block_tokens=64,
        sliding_rule="full",
        prefill_chunk_tokens=8192,  # max_num_tokens default
        sampler_rows=2048,  # max_batch_size default
        sampler_bytes_per_logit=8,
        flash_attention="on",
        preallocates="kv_cache_free_gpu_memory_fraction (default 0.9) of the memory left "
        "after weights becomes KV cache",
        calibrated_rows=(),
    ),
    "transformers": EngineProfile(
        name="transformers",
        label="transformers",
        ggml=False,
        cuda_context_mb=512,
        runtime_mb=256,
        tp_comm_mb=1024,
        cuda_graph_mb=0,
        kv_default_dtype="model",
        kv_dtypes=("auto", "fp16", "bf16", "fp32"),
        kv_block_tokens=1,
        sliding_rule="full",
        prefill_chunk_tokens=None,  # generate() prefills the whole prompt in one pass
        sampler_rows=1,
        sampler_bytes_per_logit=8,
        flash_attention="on",  # sdpa: no context² score matrix
        mla_full_kv=True,
        activation_slack=1.2,  # PyTorch caching allocator fragmentation
        preallocates="nothing: the KV cache grows with the sequences",
        calibrated_rows=(),
    ),
}
"""Every engine's profile, by id."""

_ENGINE_ALIASES: dict[str, Engine] = {
    "vllm": "vllm",
    "sglang": "sglang",
    "llama.cpp": "llama.cpp",
    "llamacpp": "llama.cpp",
    "llama_cpp": "llama.cpp",
    "llama-cpp": "llama.cpp",
    "llama-server": "llama.cpp",
    "ik_llama.cpp": "llama.cpp",
    "ollama": "ollama",
    "tensorrt-llm": "tensorrt-llm",
    "tensorrt_llm": "tensorrt-llm",
    "tensorrtllm": "tensorrt-llm",
    "trtllm": "tensorrt-llm",
    "trt-llm": "tensorrt-llm",
    "transformers": "transformers",
    "hf": "transformers",
    "huggingface": "transformers",
}


def normalize_engine(name: str) -> Engine:
    """The engine id for any common spelling ('llama-cpp', 'TRT-LLM', 'HF')."""
    key = name.strip().lower().replace(" ", "")
    engine = _ENGINE_ALIASES.get(key)
    if engine is None:
        raise ModelError(f"unknown engine {name!r}", hint="known: " + ", ".join(ENGINES))
    return engine


def engine_profile(name: str) -> EngineProfile:
    """The profile of any spelling of an engine name."""
    return ENGINES[normalize_engine(name)]


def flash_attention_flag(value: str) -> bool | None:
    """--flash-attn as the estimator takes it: None (``auto``) keeps the engine's default.

    For llama.cpp and Ollama that default is llama.cpp's own ``-fa auto``, which the
    estimator resolves from the model's head sizes as ggml's CUDA and ROCm kernels do
    (``gpuplan.memory.flash_attention``).
    """
    choice = value.strip().lower()
    if choice not in ("on", "off", "auto"):
        raise ModelError(
            f"--flash-attn {value!r} is not on, off or auto", hint="use --flash-attn on|off|auto"
        )
    return None if choice == "auto" else choice == "on"
