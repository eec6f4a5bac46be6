"""`gpuplan estimate`: how much GPU memory one model needs on one engine.

SOURCE is read from headers only (a GGUF file, a HF model directory or its
config.json, a local Ollama model); ``resolve_source`` is the hook where registry
ids get resolved first once the registry is wired in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group
from rich.text import Text

from gpuplan.cli._common import JsonOpt, console, emit_json, handle_errors
from gpuplan.cli.models import RegistryOpt
from gpuplan.cli.render.tables import Col, FlexTable
from gpuplan.errors import ModelError, ModelNotFoundError
from gpuplan.memory.engines import flash_attention_flag
from gpuplan.memory.estimate import Estimate
from gpuplan.memory.estimate import estimate as estimate_memory
from gpuplan.memory.figure import DEFAULT_CONTEXT, VramFigure
from gpuplan.memory.vram import arch_of, engine_for, has_arch, variant_vram
from gpuplan.models.files import LocalModel
from gpuplan.models.files.discover import gguf_model_files
from gpuplan.models.files.gguf_model import read_gguf
from gpuplan.models.files.hf_dir import read_hf_model
from gpuplan.models.files.ollama_store import (
    default_store,
    is_ollama_store,
    manifest_path,
    read_ollama_model,
)
from gpuplan.models.registry import ModelEntry, Variant, load_registry


def resolve_source(source: str, registry: Sequence[Path] = ()) -> LocalModel | RegistryFigure:
    """SOURCE as a model read from disk: a .gguf file, a config.json, a HF model directory,
    a folder holding one GGUF, or a model in the local Ollama store ('llama3.1:8b'); else a
    registry id (with ``registry`` files layered over the packaged one).

    Raises ModelNotFoundError when it is none of these.
    """
    path = Path(source).expanduser()
    if path.is_file():
        if path.suffix == ".gguf":
            return read_gguf(path)
        if path.suffix == ".json":
            return read_hf_model(path)
        raise ModelError(
            f"{path}: not a .gguf file or a config.json",
            hint="pass a GGUF file, a HF model directory or its config.json",
        )
    if path.is_dir():
        if (path / "config.json").is_file():
            return read_hf_model(path)
        ggufs = gguf_model_files(path)
        if len(ggufs) == 1:
            return read_gguf(ggufs[0])
        if ggufs:
            raise ModelError(
                f"{path} holds {len(ggufs)} GGUF models",
                hint="pass one of: " + ", ".join(p.name for p in ggufs[:5]),
            )
    store = default_store()
    if is_ollama_store(store) and manifest_path(store, source).is_file():
        return read_ollama_model(store, source)
    return registry_model(source, registry)


@dataclass(frozen=True)
class RegistryFigure:
    """A registry model the estimator cannot break down (no config.json facts, no KV cache,
    or a cited fixed figure): the same figure ``fit`` and ``plan`` cost it at."""

    entry: ModelEntry
    variant: Variant
    engine: str
    figure: VramFigure

    def as_json(self) -> dict[str, object]:
        return {
            "model_id": self.entry.id,
            "engine": self.engine,
            "quant": self.variant.quantization,
            "total_mb": self.figure.vram_mb,
            "vram_source": self.figure.source,
            "assumptions": list(self.figure.assumptions),
        }


def registry_model(model_id: str, registry: Sequence[Path] = ()) -> LocalModel | RegistryFigure:
    """A registry id as a model: its config.json facts, at its first variant's quantization.

    Entries the estimator cannot break down come back as their ``RegistryFigure``.
    Unknown ids raise ModelNotFoundError naming the closest registry ids.
    """
    try:
        entry = load_registry(registry).get(model_id)
    except ModelNotFoundError as error:
        raise ModelNotFoundError(
            f"{model_id!r} is no model file, model directory, Ollama model or registry id",
            hint=error.hint,
        ) from None
    variant = entry.variants[0]
    if not (entry.kv_cache and has_arch(entry)) or variant.vram_estimate_mb is not None:
        figure = variant_vram(entry, variant, entry.context_length)
        return RegistryFigure(entry, variant, engine_for(entry.backend_for(variant)), figure)
    return LocalModel(
        id=entry.id,
        kind="registry",
        path=entry.source,
        arch=arch_of(entry),
        quant=variant.quantization,
        notes=(f"registry entry {entry.id!r}; default quantization {variant.quantization}",),
    )


def _registry_variant(entry: ModelEntry, quant: str | None) -> Variant:
    if quant is None:
        return entry.variants[0]
    return entry.variant(quant)


def _default_engine(model: LocalModel, quant: str | None, registry: Sequence[Path]) -> str:
    if model.kind == "registry":
        entry = load_registry(registry).get(model.id)
        variant = entry.variants[0]
        if quant is not None:  # the engine that variant ships for, if the registry has it
            variant = next(
                (v for v in entry.variants if v.quantization.lower() == quant.lower()), variant
            )
        return engine_for(entry.backend_for(variant))
    if model.kind == "ollama":
        return "ollama"
    return "llama.cpp" if model.kind == "gguf" else "vllm"


def render_figure(found: RegistryFigure) -> Group:
    """A registry model's one figure and where it comes from."""
    head = Text(
        f"{found.entry.id} on {found.engine} · {found.variant.quantization}: "
        f"{found.figure.vram_mb:,} MiB ({found.figure.vram_mb / 1024:.2f} GiB), "
        f"{_SOURCES[found.figure.source]}",
        style="bold",
    )
    notes = Text("\n".join(f"• {a}" for a in found.figure.assumptions))
    return Group(head, Text("Assumptions", style="bold"), notes)


_SOURCES = {
    "registry": "the registry's cited figure",
    "weights_only": "weights + activations + overhead (no KV cache)",
    "estimator": "estimated",
}


def render_estimate(model: LocalModel, result: Estimate) -> Group:
    """The breakdown as a table, then every assumption, for a terminal."""
    scope = f", per GPU of {result.tensor_parallel}" if result.per_gpu else ""
    table = FlexTable(
        [Col("memory"), Col("MiB", "num"), Col("GiB", "num")],
        title=f"{model.id} on {result.engine} · {result.quant} · "
        f"{result.context:,} tokens × {result.concurrency}{scope}",
    )
    rows = [
        ("weights", result.weights_mb),
        (f"KV cache ({result.kv_cache_dtype})", result.kv_cache_mb),
        ("activations", result.activation_mb),
        ("overhead", result.overhead_mb),
    ]
    for label, mib in rows:
        table.add_row(label, f"{mib:,}", f"{mib / 1024:.2f}")
    table.add_row(
        Text("total", style="bold"),
        Text(f"{result.total_mb:,}", style="bold"),
        Text(f"{result.total_mb / 1024:.2f}", style="bold"),
    )
    notes = Text("\n".join(f"• {a}" for a in result.assumptions + list(model.notes)))
    if result.host_mb:
        notes.append(f"\n• host RAM for weights: {result.host_mb:,} MiB")
    return Group(table, Text("Assumptions", style="bold"), notes)


@handle_errors
def estimate(
    source: Annotated[
        str,
        typer.Argument(
            help="A registry id (see `gpuplan fit`), a .gguf file, a HF model directory or its "
            "config.json, or a local Ollama model.",
            show_default=False,
        ),
    ],
    quant: Annotated[
        str | None,
        typer.Option(
            "--quant",
            "-q",
            help="Quantization to estimate (q4_k_m, awq, fp8, bf16…). Default: the files' own.",
            show_default=False,
        ),
    ] = None,
    context: Annotated[
        int,
        typer.Option(
            "--context",
            "-c",
            min=1,
            help="Tokens per sequence; default 4096, the context plan, fit and select cost "
            "models at, so their figures agree.",
        ),
    ] = DEFAULT_CONTEXT,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-n", min=1, help="Sequences served at once.")
    ] = 1,
    kv_cache_dtype: Annotated[
        str | None,
        typer.Option(
            "--kv-cache-dtype",
            help="KV cache type: auto, fp16, bf16, fp8 (vLLM/SGLang), q8_0, q4_0 (llama.cpp).",
            show_default=False,
        ),
    ] = None,
    tensor_parallel: Annotated[
        int,
        typer.Option(
            "--tensor-parallel", "--tp", min=1, help="GPUs to split over; figures become per GPU."
        ),
    ] = 1,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            "-e",
            help="vllm, sglang, llama.cpp, ollama, tensorrt-llm, transformers, or auto "
            "(llama.cpp for GGUF files, ollama for Ollama models, else vllm).",
        ),
    ] = "auto",
    registry: RegistryOpt = None,
    ubatch: Annotated[
        int | None,
        typer.Option(
            "--ubatch",
            min=1,
            help="llama.cpp/Ollama n_ubatch (-ub): tokens per compute step; default 512.",
            show_default=False,
        ),
    ] = None,
    flash_attn: Annotated[
        str,
        typer.Option(
            "--flash-attn",
            help="llama.cpp/Ollama flash attention: on, off, or auto (what llama.cpp's "
            "-fa auto does on CUDA/ROCm: on where its kernels take the model's head size). "
            "Use off for Ollama before 0.30, which enabled it per architecture.",
        ),
    ] = "auto",
    json: JsonOpt = False,
) -> None:
    """Estimate the GPU memory a model needs: weights, KV cache, activations, overhead.

    Read from the model's own headers (never its weights), calibrated against real
    engine logs so it does not underestimate; every assumption is listed.
    """
    model = resolve_source(source, registry or ())
    if isinstance(model, RegistryFigure):
        variant = _registry_variant(model.entry, quant)
        figure = variant_vram(model.entry, variant, model.entry.context_length)
        found = RegistryFigure(model.entry, variant, model.engine, figure)
        if json:
            emit_json(found.as_json())
        else:
            console.print(render_figure(found))
        return
    chosen = _default_engine(model, quant, registry or ()) if engine == "auto" else engine
    result = estimate_memory(
        model.arch,
        quant=quant or (model.quant if model.kind == "registry" else None),
        engine=chosen,
        flash_attention=flash_attention_flag(flash_attn),
        ubatch=ubatch,
        context=context,
        concurrency=concurrency,
        kv_cache_dtype=kv_cache_dtype,
        tensor_parallel=tensor_parallel,
        weight_bytes=model.weights,
    )
    if json:
        emit_json(result)
    else:
        console.print(render_estimate(model, result))
