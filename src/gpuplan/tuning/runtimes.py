"""Each tuning runtime's own flag names, and how a parameter written for one maps to another.

Seed 003's profiles spell parameters as SGLang does (``tp-size``,
``mem-fraction-static``); its origin then passed those flags to vLLM too. Here a
parameter is a *concept* (tensor parallelism, memory fraction, …) with one flag per
runtime, so a profile written in SGLang's words becomes ``tensor-parallel-size`` /
``gpu-memory-utilization`` for vLLM, and a concept a runtime lacks (llama.cpp has no
memory fraction) is dropped with a warning instead of becoming an unknown flag.
A name that is no runtime's known flag passes through unchanged: it is the user's.

Flag sources: SGLang ``python -m sglang.launch_server --help`` (server_args.py), vLLM
``vllm serve --help`` (EngineArgs), TensorRT-LLM ``trtllm-serve --help``, llama.cpp
``llama-server --help`` (tools/server/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CONCEPTS",
    "RUNTIMES",
    "Concept",
    "Runtime",
    "Translation",
    "flag_for",
    "tp_flag",
    "translate_parameters",
]

Runtime = Literal["sglang", "vllm", "tensorrt-llm", "llamacpp"]
RUNTIMES: tuple[Runtime, ...] = ("sglang", "vllm", "tensorrt-llm", "llamacpp")

_ALIASES: dict[str, Runtime] = {"trtllm": "tensorrt-llm", "llama.cpp": "llamacpp"}


@dataclass(frozen=True)
class Concept:
    """One tunable idea and its flag in each runtime (None: the runtime has none)."""

    name: str
    flags: dict[Runtime, str | None]


CONCEPTS: tuple[Concept, ...] = (
    Concept(
        "tensor_parallel",
        {
            "sglang": "tp-size",
            "vllm": "tensor-parallel-size",
            "tensorrt-llm": "tp_size",
            "llamacpp": None,
        },
    ),
    Concept(
        "memory_fraction",
        {
            "sglang": "mem-fraction-static",
            "vllm": "gpu-memory-utilization",
            "tensorrt-llm": "kv_cache_free_gpu_memory_fraction",
            "llamacpp": None,
        },
    ),
    Concept(
        "max_running_requests",
        {
            "sglang": "max-running-requests",
            "vllm": "max-num-seqs",
            "tensorrt-llm": "max_batch_size",
            "llamacpp": "parallel",
        },
    ),
    Concept(
        "max_batch_tokens",
        {
            "sglang": "max-prefill-tokens",
            "vllm": "max-num-batched-tokens",
            "tensorrt-llm": "max_num_tokens",
            "llamacpp": "batch-size",
        },
    ),
    Concept(
        "context_length",
        {
            "sglang": "context-length",
            "vllm": "max-model-len",
            "tensorrt-llm": "max_seq_len",
            "llamacpp": "ctx-size",
        },
    ),
    Concept(
        "schedule_policy",
        {"sglang": "schedule-policy", "vllm": None, "tensorrt-llm": None, "llamacpp": None},
    ),
    Concept(
        "chunked_prefill",
        {
            "sglang": None,
            "vllm": "enable-chunked-prefill",
            "tensorrt-llm": None,
            "llamacpp": None,
        },
    ),
    Concept(
        "threads",
        {"sglang": None, "vllm": None, "tensorrt-llm": None, "llamacpp": "threads"},
    ),
)

_BY_FLAG: dict[str, Concept] = {
    flag: concept for concept in CONCEPTS for flag in concept.flags.values() if flag
}
_BY_NAME: dict[str, Concept] = {concept.name: concept for concept in CONCEPTS}


def normalize_runtime(name: str) -> Runtime | None:
    """``sglang``/``vllm``/``tensorrt-llm``/``llamacpp`` (also ``trtllm``, ``llama.cpp``)."""
    lowered = name.strip().lower()
    lowered = _ALIASES.get(lowered, lowered)
    return lowered if lowered in RUNTIMES else None


def flag_for(runtime: Runtime, concept: str) -> str | None:
    return _BY_NAME[concept].flags[runtime]


def tp_flag(runtime: Runtime) -> str | None:
    """The runtime's tensor-parallel flag, which ``total_gpus`` limits."""
    return flag_for(runtime, "tensor_parallel")


@dataclass(frozen=True)
class Translation:
    """A layer's parameters in the runtime's words, plus what could not be carried over."""

    parameters: dict[str, Any]
    renamed: dict[str, str]
    dropped: dict[str, str]


def translate_parameters(runtime: Runtime, parameters: dict[str, Any]) -> Translation:
    """Rename each known flag (or concept name) to ``runtime``'s own; drop what it lacks."""
    out: dict[str, Any] = {}
    renamed: dict[str, str] = {}
    dropped: dict[str, str] = {}
    for name, values in parameters.items():
        concept = _BY_FLAG.get(name) or _BY_NAME.get(name)
        if concept is None:
            out[name] = values
            continue
        target = concept.flags[runtime]
        if target is None:
            dropped[name] = (
                f"{runtime} has no equivalent of {concept.name.replace('_', ' ')} ({name}); "
                f"values {values!r} not tuned"
            )
            continue
        if target != name:
            renamed[name] = target
        out[target] = values
    return Translation(out, renamed, dropped)
