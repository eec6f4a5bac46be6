"""`gpuplan plan`: the whole answer for this machine (or declared hardware)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from gpuplan.cli._common import (
    HardwareOpt,
    HeadroomOpt,
    JsonOpt,
    ProfileOpt,
    console,
    emit_json,
    err_console,
    handle_errors,
)
from gpuplan.cli.discover import DiscoverOpt, with_discovered
from gpuplan.cli.render.plan import render_plan
from gpuplan.hardware import load_host
from gpuplan.memory.figure import DEFAULT_CONTEXT
from gpuplan.models.registry import load_registry
from gpuplan.planning import DEFAULT_ROLES, make_plan, selection_policy
from gpuplan.profiles import resolve_here


@handle_errors
def plan(
    hardware: HardwareOpt = None,
    profile: ProfileOpt = None,
    roles: Annotated[
        str,
        typer.Option("--roles", help="Roles to choose one model each for, comma-separated."),
    ] = ",".join(DEFAULT_ROLES),
    context: Annotated[
        int, typer.Option("--context", min=1, help="Tokens of context each model is costed at.")
    ] = DEFAULT_CONTEXT,
    headroom_mb: HeadroomOpt = None,
    discover: DiscoverOpt = None,
    json: JsonOpt = False,
) -> None:
    """The whole answer: the GPUs, the deployment profile and why, what fits, what to serve.

    Works on this machine's GPUs (or CPU) and on declared hardware:
    `gpuplan plan --hardware "2x RTX 4090" --roles chat,embedding,caption`.
    """
    host = load_host(hardware, headroom_mb=headroom_mb)
    resolution, _catalog = resolve_here(host, profile)
    wanted = [role.strip() for role in roles.split(",") if role.strip()]
    result = make_plan(
        host, resolution, with_discovered(load_registry(), discover), roles=wanted, context=context
    )
    if json:
        emit_json(result)
        return
    for warning in resolution.warnings:
        err_console.print(f"[yellow]Warning:[/] {escape(warning)}", soft_wrap=True)
    console.print(render_plan(result, selection_policy(resolution, host)))
