"""`gpuplan hardware …`: the GPU catalog that declared hardware is built from.

Users reach for it when `--hardware` says a name is unknown or ambiguous: the
table shows the names that work and the MiB each one plans with.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from gpuplan.cli._common import JsonOpt, console, emit_json, handle_errors
from gpuplan.cli.render.tables import Col, FlexTable
from gpuplan.hardware.catalog import CatalogGPU, load_catalog

app = typer.Typer(
    help=(
        "The GPU catalog behind declared hardware (--hardware '2x RTX 4090'): names, "
        "memory as the vendor tool reports it, bandwidth and number formats."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


class VendorChoice(StrEnum):
    """Vendors the catalog covers."""

    nvidia = "nvidia"
    amd = "amd"


class SegmentChoice(StrEnum):
    """Market segments in the catalog."""

    consumer = "consumer"
    workstation = "workstation"
    datacenter = "datacenter"


@app.command("catalog")
@handle_errors
def catalog(
    vendor: Annotated[
        VendorChoice | None,
        typer.Option("--vendor", case_sensitive=False, help="Only this vendor's GPUs."),
    ] = None,
    segment: Annotated[
        SegmentChoice | None,
        typer.Option("--segment", case_sensitive=False, help="Only this market segment."),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """List the GPUs `--hardware` understands, with the MiB each one plans with.

    The first alias is the name to type; nvidia-smi / amd-smi names work too.
    """
    entries = [
        entry
        for entry in load_catalog()
        if (vendor is None or entry.vendor == vendor.value)
        and (segment is None or entry.segment == segment.value)
    ]
    if json:
        emit_json([entry.model_dump(mode="json") for entry in entries])
        return
    console.print(_catalog_table(entries))
    console.print(
        f"{len(entries)} GPUs. MiB as nvidia-smi / amd-smi report it; "
        "* = estimated, not read from a vendor tool.",
    )


@app.command("show")
@handle_errors
def show(
    name: Annotated[str, typer.Argument(help="A GPU name, e.g. 'RTX 4090' or 'H100-80GB'.")],
    json: JsonOpt = False,
) -> None:
    """Show one catalog entry, found the way `--hardware` finds it."""
    entry = load_catalog().lookup(name)
    if json:
        emit_json(entry)
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for field, value in entry.model_dump().items():
        if value in (None, (), []):
            continue
        if isinstance(value, tuple | list):
            value = ", ".join(str(item) for item in value)
        table.add_row(field, str(value))
    console.print(table)


def _catalog_table(entries: list[CatalogGPU]) -> FlexTable:
    table = FlexTable(
        [
            Col("name to type"),
            Col("reported as", "text", drop=4),
            Col("MiB", "num"),
            Col("GB/s", "num", drop=1),
            Col("CC / gfx"),
            Col("architecture", drop=2),
            Col("formats", drop=3),
            Col("segment", drop=5),
        ]
    )
    for entry in entries:
        formats = [
            fmt for fmt, ok in (("bf16", entry.bf16), ("fp8", entry.fp8), ("fp4", entry.fp4)) if ok
        ]
        estimated = "*" if entry.vram_basis == "estimated" else ""
        table.add_row(
            entry.label,
            entry.name,
            f"{entry.vram_mb}{estimated}",
            f"{entry.memory_bandwidth_gbs:g}",
            entry.compute_capability or entry.gfx_target or "",
            entry.architecture,
            " ".join(formats) or "-",
            entry.segment,
        )
    return table
