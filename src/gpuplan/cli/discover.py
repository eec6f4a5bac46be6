"""`gpuplan discover` and the `--discover PATH` option of `fit`, `select` and `plan`.

Reading the disk is this module's job (``scan``); turning what was found into
registry entries is ``gpuplan.models.discovered``'s, and costing them is the same
``variant_vram`` that `fit` and `select` use, so the three commands agree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from gpuplan.cli._common import JsonOpt, console, emit_json, err_console, handle_errors
from gpuplan.cli.render.tables import Col, FlexTable
from gpuplan.errors import GpuplanError
from gpuplan.memory.figure import DEFAULT_CONTEXT
from gpuplan.memory.vram import engine_for, variant_vram
from gpuplan.models.discovered import DiscoveredEntry, entries_from_discovery
from gpuplan.models.files import LocalModel
from gpuplan.models.registry import ModelEntry, Registry, load_registry
from gpuplan.selection.candidates import planning_context

__all__ = [
    "MODEL_DIRS_ENV",
    "DiscoverOpt",
    "default_locations",
    "discover",
    "scan",
    "with_discovered",
]

MODEL_DIRS_ENV = "GPUPLAN_MODEL_DIRS"
"""Extra folders `gpuplan discover` searches, separated by ``os.pathsep``."""

DiscoverOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--discover",
        help="Also plan with the models found here (a GGUF file or folder, a HF model "
        "directory or cache, an Ollama store); repeatable. See `gpuplan discover`.",
        show_default=False,
    ),
]


def default_locations(env: Mapping[str, str] | None = None) -> list[Path]:
    """Where to look when no PATH is given: HF cache, Ollama store, $GPUPLAN_MODEL_DIRS.

    The HF cache and the Ollama store are skipped when absent (most machines have
    one of them at most); a folder the user listed is searched even when missing,
    so a typo shows up as a problem rather than as silence.
    """
    env = os.environ if env is None else env
    listed = [Path(p).expanduser() for p in env.get(MODEL_DIRS_ENV, "").split(os.pathsep) if p]
    from gpuplan.models.files.hf_dir import default_hf_cache
    from gpuplan.models.files.ollama_store import default_store

    defaults = [p for p in (default_hf_cache(env), default_store(env)) if p.is_dir()]
    return defaults + listed


def scan(paths: Sequence[Path]) -> tuple[list[LocalModel], list[str]]:
    """Every model under ``paths`` (headers only) and one line per unreadable one."""
    from gpuplan.models.files.discover import discover as discover_path  # gguf, numpy

    models: list[LocalModel] = []
    problems: list[str] = []
    for path in paths:
        found = discover_path(path)
        models.extend(found.models)
        problems.extend(found.problems)
    return models, problems


def with_discovered(registry: Registry, paths: Sequence[Path] | None) -> list[ModelEntry]:
    """The registry's entries plus those found under ``paths``: the --discover option.

    Unreadable files and guessed roles are printed as warnings on stderr, so that
    --json output stays clean and nothing is dropped silently.
    """
    entries: list[ModelEntry] = list(registry)
    for line in registry.warnings:
        err_console.print(f"[yellow]Warning:[/] {escape(line)}", soft_wrap=True)
    if not paths:
        return entries
    models, problems = scan(paths)
    found, warnings = entries_from_discovery(models, registry)
    for line in [*problems, *warnings]:
        err_console.print(f"[yellow]Warning:[/] {escape(line)}", soft_wrap=True)
    if not found:
        err_console.print(
            "[yellow]Warning:[/] --discover found no models in "
            + ", ".join(escape(str(p)) for p in paths),
        )
    return entries + list(found)


def _row(entry: DiscoveredEntry, context: int) -> dict[str, Any]:
    """What `gpuplan discover` says about one model: files, shape, cost, roles."""
    variant = entry.variants[0]
    exact = variant.weight_bytes
    tokens = planning_context(entry, context)
    row: dict[str, Any] = {
        "id": entry.id,
        "name": entry.name,
        "kind": entry.kind,
        "path": entry.path,
        "quantization": variant.quantization,
        "weights_bytes": exact.total_bytes if exact else None,
        "weights_mib": round(exact.total_bytes / 2**20, 1) if exact else None,
        "parameters": round(entry.parameters_b * 1e9),
        "layers": entry.arch.num_layers,
        "architecture": entry.arch.architecture,
        "engine": engine_for(entry.backend),
        "context": tokens,
        "vram_estimate_mb": None,
        "vram_source": None,
        "matched": entry.matched,
        "roles": dict(entry.role_priority),
        "error": None,
    }
    try:
        figure = variant_vram(entry, variant, tokens)
    except GpuplanError as error:
        row["error"] = str(error)
    else:
        row["vram_estimate_mb"], row["vram_source"] = figure.vram_mb, figure.source
    return row


def _count(parameters: int) -> str:
    """'8.03 B' or '12.4 M': test and embedding models are far below a billion."""
    if parameters >= 10**9:
        return f"{parameters / 1e9:.2f} B"
    return f"{parameters / 1e6:.1f} M"


def _table(rows: Sequence[dict[str, Any]], context: int) -> FlexTable:
    table = FlexTable(
        [
            Col("id", "text"),
            Col("kind/engine", drop=2),
            Col("quant"),
            Col("weights", "num"),
            Col("layers/params", "num", drop=1),
            Col("VRAM", "num"),
            Col("registry", "text"),
        ],
        title=f"Models on disk (MiB; VRAM at {context:,} tokens, largest-GPU engine defaults)",
    )
    for row in rows:
        weights = f"{row['weights_mib']:,.1f}" if row["weights_mib"] is not None else "n/a"
        vram = f"{row['vram_estimate_mb']:,}" if row["vram_estimate_mb"] is not None else "error"
        table.add_row(
            escape(row["id"]),
            f"{row['kind']}/{row['engine']}",
            row["quantization"],
            weights,
            f"{row['layers']}/{_count(row['parameters'])}",
            vram,
            escape(row["matched"]) if row["matched"] else "guessed roles",
        )
    return table


@handle_errors
def discover(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="GGUF files or folders, HF model directories or caches, Ollama stores. "
            "Default: the HF cache, the Ollama store and $GPUPLAN_MODEL_DIRS.",
            show_default=False,
        ),
    ] = None,
    context: Annotated[
        int,
        typer.Option("--context", min=1, help="Tokens of context each model is costed at."),
    ] = DEFAULT_CONTEXT,
    json: JsonOpt = False,
) -> None:
    """List the models on disk as `fit`, `select` and `plan --discover` will see them.

    Only headers are read (config.json, safetensors and GGUF headers, Ollama
    manifests), never the weights, so a disk of large models lists in a moment.
    A model matching a registry entry (by repo, Ollama tag, GGUF file name or
    name) takes its roles; any other gets roles guessed from its architecture.
    """
    searched = list(paths) if paths else default_locations()
    registry = load_registry()
    models, problems = scan(searched)
    entries, warnings = entries_from_discovery(models, registry)
    rows = [_row(entry, context) for entry in entries]
    problems += [f"{row['id']}: {row['error']}" for row in rows if row["error"]]
    warnings = (*_file_notes(entries), *warnings)
    if json:
        emit_json(
            {
                "searched": [str(p) for p in searched],
                "context": context,
                "models": rows,
                "problems": problems,
                "warnings": list(warnings),
            }
        )
        _exit_when_nothing_read(rows, problems)
        return
    if rows:
        console.print(_table(rows, context))
    elif searched:
        where = ", ".join(str(p) for p in searched)
        console.print(f"No models found in {escape(where)}.")
    else:
        from gpuplan.models.files.hf_dir import default_hf_cache
        from gpuplan.models.files.ollama_store import default_store

        console.print(
            f"No models found: no Hugging Face cache at {escape(str(default_hf_cache()))}, "
            f"no Ollama store at {escape(str(default_store()))}, and ${MODEL_DIRS_ENV} is not "
            "set (or pass PATH).",
        )
    for line in problems:
        console.print(f"[red]✗[/] {escape(line)}")
    for line in warnings:
        console.print(f"[dim]• {escape(line)}[/]")
    _exit_when_nothing_read(rows, problems)


def _file_notes(entries: Sequence[DiscoveredEntry]) -> list[str]:
    """What the files' headers warn about (an incomplete download), per model."""
    notes = []
    for entry in entries:
        exact = entry.variants[0].weight_bytes
        for note in exact.notes if exact else ():
            notes.append(f"{entry.id}: {note}")
    return notes


def _exit_when_nothing_read(rows: Sequence[dict[str, Any]], problems: Sequence[str]) -> None:
    """Exit 1 when every model found (or the path given) was unreadable: that is a failure."""
    usable = [row for row in rows if not row["error"]]
    if problems and not usable:
        raise typer.Exit(1)
