"""`gpuplan detect`: what GPUs this machine (or a declared one) has."""

from __future__ import annotations

from typing import Annotated

import typer

from gpuplan.cli import _common
from gpuplan.cli._common import HardwareOpt, HeadroomOpt, JsonOpt, emit_json, handle_errors
from gpuplan.hardware import load_host


@handle_errors
def detect(
    hardware: HardwareOpt = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Detect again instead of using this process's cache.")
    ] = False,
    headroom_mb: HeadroomOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show the GPUs gpuplan plans for, their usable VRAM and where the facts came from.

    Tries NVML, then nvidia-smi, amd-smi and rocm-smi, else plans for CPU only.
    Save `gpuplan detect --json > host.json` on a GPU machine and plan with
    `--hardware host.json` anywhere.
    """
    host = load_host(hardware, refresh=refresh, headroom_mb=headroom_mb)
    if json:
        emit_json(host)
    elif not host.gpus:  # one line, whatever the width: scripts grep it
        from rich.markup import escape

        from gpuplan.cli.render.hardware import no_gpu_line

        console = _common.console
        console.print(no_gpu_line(host), soft_wrap=True)
        for warning in host.warnings:
            console.print(f"warning: {escape(warning)}", style="yellow", soft_wrap=True)
    else:
        from gpuplan.cli.render.hardware import render_host  # rich tables: not for --json

        _common.console.print(render_host(host))
