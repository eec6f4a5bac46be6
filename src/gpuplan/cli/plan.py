"""`gpuplan plan`: the whole answer for this machine (or declared hardware)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from gpuplan.cli._common import (
    ConcurrencyOpt,
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
from gpuplan.cli.models import RegistryOpt
from gpuplan.cli.render.plan import render_plan
from gpuplan.hardware import load_host
from gpuplan.memory.figure import DEFAULT_CONTEXT
from gpuplan.models.registry import load_registry
from gpuplan.placement.model import STRATEGIES
from gpuplan.planning import (
    DEFAULT_ROLES,
    DEFAULT_STRATEGY,
    largest_gpu_mb,
    make_plan,
    selection_policy,
)
from gpuplan.profiles import resolve_here

StrategyChoice = StrEnum("StrategyChoice", {name: name for name in STRATEGIES})  # type: ignore[misc]
"""seed 004's five strategy names, as --strategy's choices."""


class OnChoice(StrEnum):
    total = "total"
    free = "free"


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
    concurrency: ConcurrencyOpt = 1,
    headroom_mb: HeadroomOpt = None,
    discover: DiscoverOpt = None,
    registry: RegistryOpt = None,
    strategy: Annotated[
        StrategyChoice,
        typer.Option(
            "--strategy",
            help="Where each service goes: manual (pins only), vram_based "
            "(largest first onto the most free memory), latency_optimized, "
            "isolation_first (the LLM alone), balanced (lowest peak utilisation).",
        ),
    ] = StrategyChoice(DEFAULT_STRATEGY),
    services: Annotated[
        Path | None,
        typer.Option(
            "--services",
            help="A services file (YAML, TOML or JSON, a list `services`) to place "
            "instead of the selection; see examples/seed004-services.yml.",
            show_default=False,
        ),
    ] = None,
    on: Annotated[
        OnChoice,
        typer.Option("--on", help="Plan on total memory, or on memory free now."),
    ] = OnChoice.total,
    json: JsonOpt = False,
) -> None:
    """The whole answer: the GPUs, the profile and why, what fits, what to serve, and where.

    Works on this machine's GPUs (or CPU) and on declared hardware:
    `gpuplan plan --hardware "2x RTX 4090" --roles chat,embedding,caption`; for 8
    parallel chat users, `--concurrency 8` sizes every KV cache for 8 sequences.
    """
    host = load_host(hardware, headroom_mb=headroom_mb)
    resolution, _catalog = resolve_here(host, profile)
    wanted = [role.strip() for role in roles.split(",") if role.strip()]
    entries = with_discovered(load_registry(registry or ()), discover)
    listed = None
    if services is not None:
        from gpuplan.placement.services import load_services

        listed = load_services(
            services,
            entries=entries,
            context=context,
            gpu_memory_mb=largest_gpu_mb(host),
            concurrency=concurrency,
        )
    result = make_plan(
        host,
        resolution,
        entries,
        roles=wanted,
        context=context,
        concurrency=concurrency,
        services=listed,
        strategy=strategy.value,
        on=on.value,
        services_file=str(services) if services is not None else None,
    )
    if json:
        body = result.model_dump(mode="json")
        if not body["launch"]:
            del body["launch"]  # no engine renderers installed: nothing to say how
        emit_json(body)
        return
    for warning in resolution.warnings:
        err_console.print(f"[yellow]Warning:[/] {escape(warning)}", soft_wrap=True)
    console.print(render_plan(result, selection_policy(resolution, host)))
