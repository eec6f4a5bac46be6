"""`gpuplan profile …`: list, show, explain, schema and validate deployment profiles.

Every command works on this machine or on declared hardware (--hardware) and
prints JSON with --json; the logic lives in ``gpuplan.profiles``, this module
only reads flags and draws tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from gpuplan.cli._common import (
    HardwareOpt,
    HeadroomOpt,
    JsonOpt,
    console,
    emit_json,
    err_console,
    handle_errors,
)
from gpuplan.cli.render.tables import Col, FlexTable
from gpuplan.hardware import load_host
from gpuplan.hardware.model import Host
from gpuplan.profiles import (
    Catalog,
    Resolution,
    explain,
    flag_overrides,
    profile_document,
    resolve_here,
    validate_file,
)
from gpuplan.profiles.document import profile_listing
from gpuplan.profiles.schema import schema_text

app = typer.Typer(
    name="profile",
    help="Deployment profiles: the VRAM budget, serving policy and engine settings in force.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

ProfileArg = Annotated[
    str | None,
    typer.Argument(
        help="Profile name or path to a profile file; default: $GPUPLAN_DEPLOYMENT_PROFILE, "
        "the deployment_profile setting, else auto-selection from the hardware.",
        show_default=False,
    ),
]
ExplainOpt = Annotated[
    bool, typer.Option("--explain", help="Show each value's source and why this profile.")
]
DeviceOpt = Annotated[
    str | None, typer.Option("--device", help="Override engine.device (cpu, cuda, auto).")
]
TpOpt = Annotated[
    int | None,
    typer.Option("--tensor-parallel-size", help="Override engine.tensor_parallel_size."),
]
BitsOpt = Annotated[
    int | None, typer.Option("--quantization-bits", help="Override engine.quantization_bits.")
]
MethodOpt = Annotated[
    str | None,
    typer.Option("--quantization-method", help="Override engine.quantization_method."),
]
DtypeOpt = Annotated[
    str | None,
    typer.Option("--mixed-precision-dtype", help="Override engine.mixed_precision_dtype."),
]
AttentionOpt = Annotated[
    str | None, typer.Option("--attention-impl", help="Override engine.attention_impl.")
]
VramOpt = Annotated[
    int | None, typer.Option("--max-vram-mb", help="Override the VRAM budget, MiB.")
]
ConcurrentOpt = Annotated[
    int | None,
    typer.Option("--max-concurrent-models", help="Override max_concurrent_models."),
]


def _resolve(
    name: str | None, hardware: str | None, headroom_mb: int | None, overrides: dict[str, Any]
) -> tuple[Resolution, Catalog, Host]:
    host = load_host(hardware, headroom_mb=headroom_mb)
    resolution, catalog = resolve_here(host, name, flag_overrides(overrides))
    return resolution, catalog, host


@app.command("list")
@handle_errors
def list_profiles(
    hardware: HardwareOpt = None, headroom_mb: HeadroomOpt = None, json: JsonOpt = False
) -> None:
    """List every profile: built-in, user, project (configs/deployment, pyproject)."""
    resolution, catalog, host = _resolve(None, hardware, headroom_mb, {})
    rows = profile_listing(resolution, catalog)
    if json:
        emit_json(
            {
                "hardware": host.summary(),
                "active": resolution.name,
                "profiles": [row.model_dump(mode="json") for row in rows],
            }
        )
        return
    table = FlexTable(
        [
            Col(""),
            Col("name"),
            Col("budget MiB", "num"),
            Col("models", "num"),
            Col("strategy", drop=1),
            Col("source", drop=2),
            Col("description", "text"),
        ],
        title=f"Deployment profiles for {host.summary()}",
    )
    for row in rows:
        mark = "*" if row.active else ("!" if row.broken else "")
        kinds = "+".join(source.kind for source in row.sources)
        budget = "all usable" if row.max_vram_mb is None else str(row.max_vram_mb)
        table.add_row(
            mark,
            row.name,
            budget,
            str(row.max_concurrent_models or ""),
            row.strategy or "",
            kinds,
            escape(row.issues[0] if row.broken else row.description),
        )
    console.print(table)
    console.print(f"* active: {resolution.name} ({escape(resolution.selection.reason)})")
    for warning in resolution.warnings:
        err_console.print(f"[yellow]Warning:[/] {escape(warning)}", soft_wrap=True)


@app.command("show")
@handle_errors
def show(
    name: ProfileArg = None,
    explain_: ExplainOpt = False,
    hardware: HardwareOpt = None,
    headroom_mb: HeadroomOpt = None,
    json: JsonOpt = False,
    device: DeviceOpt = None,
    tensor_parallel_size: TpOpt = None,
    quantization_bits: BitsOpt = None,
    quantization_method: MethodOpt = None,
    mixed_precision_dtype: DtypeOpt = None,
    attention_impl: AttentionOpt = None,
    max_vram_mb: VramOpt = None,
    max_concurrent_models: ConcurrentOpt = None,
) -> None:
    """Show the active profile (or NAME): the document GET /v1/config/profile serves.

    Explicit flags such as --tensor-parallel-size override the profile's values.
    """
    overrides = {
        "engine.device": device,
        "engine.tensor_parallel_size": tensor_parallel_size,
        "engine.quantization_bits": quantization_bits,
        "engine.quantization_method": quantization_method,
        "engine.mixed_precision_dtype": mixed_precision_dtype,
        "engine.attention_impl": attention_impl,
        "max_vram_mb": max_vram_mb,
        "max_concurrent_models": max_concurrent_models,
    }
    resolution, _, host = _resolve(name, hardware, headroom_mb, overrides)
    if json:
        emit_json(profile_document(resolution, host))
        return
    _print_resolution(resolution, host, explain_)


@app.command("explain")
@handle_errors
def explain_cmd(
    name: ProfileArg = None,
    hardware: HardwareOpt = None,
    headroom_mb: HeadroomOpt = None,
    json: JsonOpt = False,
) -> None:
    """Why this profile, and where each of its values comes from (= show --explain)."""
    resolution, _, host = _resolve(name, hardware, headroom_mb, {})
    if json:
        emit_json(explain(resolution, host))
        return
    _print_resolution(resolution, host, True)


def _print_resolution(resolution: Resolution, host: Host, full: bool) -> None:
    explanation = explain(resolution, host)
    console.print(f"[bold]Profile:[/] {escape(explanation.title)}")
    console.print(f"[bold]Hardware:[/] {escape(explanation.hardware)}")
    if full:
        for line in explanation.why:
            console.print(f"[bold]Why:[/] {escape(line)}")
    columns = [Col("field"), Col("value", "text")]
    table = FlexTable([*columns, Col("source", "text")] if full else columns)
    for row in explanation.rows:
        if full:
            source = "\n".join([row.source, *(f"replaces {r}" for r in row.replaced)])
            table.add_row(row.field, escape(row.value), escape(source))
        else:
            table.add_row(row.field, escape(row.value))
    console.print(table)
    for warning in explanation.warnings:
        err_console.print(f"[yellow]Warning:[/] {escape(warning)}", soft_wrap=True)


@app.command("schema")
@handle_errors
def schema(json: JsonOpt = False) -> None:
    """Print the JSON Schema of a profile file (it is always JSON; --json is accepted)."""
    typer.echo(schema_text(), nl=False)


@app.command("validate")
@handle_errors
def validate(
    files: Annotated[
        list[Path],
        typer.Argument(help="Profile files (.json/.toml/.yaml) or pyproject.toml files."),
    ],
    hardware: HardwareOpt = None,
    headroom_mb: HeadroomOpt = None,
    json: JsonOpt = False,
) -> None:
    """Check profile files: syntax, types, unknown fields, contradictions; exit 1 on errors.

    With --hardware, also warn where a profile does not fit that hardware.
    """
    host = load_host(hardware, headroom_mb=headroom_mb) if hardware else None
    reports = [validate_file(path, host=host) for path in files]
    if json:
        emit_json(
            {
                "ok": all(r.ok for r in reports),
                "files": [{**r.model_dump(mode="json"), "ok": r.ok} for r in reports],
            }
        )
    else:
        for report in reports:
            names = ", ".join(report.profiles) or "no profiles"
            status = "[green]ok[/]" if report.ok else "[red]invalid[/]"
            console.print(f"{escape(report.file)}: {status} ({escape(names)})")
            for issue in report.issues:
                color = "red" if issue.severity == "error" else "yellow"
                console.print(f"  [{color}]{issue.severity}:[/] {escape(str(issue))}")
    if not all(r.ok for r in reports):
        raise typer.Exit(1)
