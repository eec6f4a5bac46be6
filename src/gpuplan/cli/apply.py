"""`gpuplan apply | status | history | rollback`: make a GPU configuration so, and undo it.

Commands are thin: they resolve options, open the store, and call
``gpuplan.apply``; SQLAlchemy and Alembic are imported inside them, never at
start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.markup import escape

from gpuplan.cli._common import (
    ConcurrencyOpt,
    HardwareOpt,
    HeadroomOpt,
    JsonOpt,
    console,
    emit_json,
    err_console,
    handle_errors,
)
from gpuplan.placement.model import STRATEGIES

if TYPE_CHECKING:
    from gpuplan.apply import ApplyResult, Target

StrategyName = Literal["manual", "vram_based", "latency_optimized", "isolation_first", "balanced"]
assert set(StrategyName.__args__) == set(STRATEGIES)  # type: ignore[attr-defined]
RuntimeChoice = Literal["docker", "podman"]

ServicesOpt = Annotated[
    Path,
    typer.Option(
        "--services",
        envvar="GPUPLAN_SERVICES",
        help="Services file (a list `services` with name, model|models|vram_mb, role, "
        "latency_sensitive, gpu, vram_budget_override_mb). Default: $GPUPLAN_SERVICES.",
        show_default=False,
    ),
]
ComposeOpt = Annotated[
    Path,
    typer.Option(
        "--compose-file",
        envvar="GPUPLAN_COMPOSE_FILE",
        help="Your base Compose file (docker-compose.yml); the override goes in config/ beside "
        "it. Default: $GPUPLAN_COMPOSE_FILE.",
        show_default=False,
    ),
]
RuntimeOpt = Annotated[
    RuntimeChoice | None,
    typer.Option(
        "--runtime",
        help="docker (docker compose) or podman (podman-compose, else podman compose). "
        "Default: whichever is installed.",
        show_default=False,
    ),
]


def _target(
    compose_file: Path, runtime: RuntimeChoice | None, *, dry_run: bool, notes: list[str]
) -> Target:
    from gpuplan.apply import Target, detect_runtime
    from gpuplan.errors import ApplyError

    try:
        prefix = detect_runtime(runtime)
    except ApplyError as error:
        if not dry_run:
            raise
        prefix = ("podman-compose",) if runtime == "podman" else ("docker", "compose")
        notes.append(f"{error.message}; the commands below use {' '.join(prefix)}")
    return Target.beside(compose_file.resolve(), prefix)


def _print_result(result: ApplyResult, *, json: bool) -> None:
    if json:
        emit_json(result)
        return
    for warning in result.warnings:
        err_console.print(f"[yellow]Warning:[/] {escape(warning)}", soft_wrap=True)
    if result.changes:
        verb = "to recreate" if result.dry_run else "recreated"
        console.print(f"Changes ({len(result.changes)} {verb}):")
        for line in result.changes:
            console.print(f"  {escape(line)}", soft_wrap=True)
    else:
        console.print("No changes: every service already runs where the plan puts it.")
    if result.unchanged:
        console.print("Unchanged: " + escape(", ".join(result.unchanged)), soft_wrap=True)
    if result.commands:
        console.print("Commands:" if result.dry_run else "Ran:")
        import shlex

        for argv in result.commands:
            console.print("  " + escape(shlex.join(argv)), soft_wrap=True)
    if result.dry_run:
        console.print(f"Dry run: would write {escape(result.override_file)}; nothing was touched.")
    else:
        console.print(f"Applied (history entry {result.history_id}).")


@handle_errors
def apply(
    services: ServicesOpt,
    compose_file: ComposeOpt,
    strategy: Annotated[
        StrategyName,
        typer.Option(
            "--strategy",
            "-s",
            help="How services are assigned to GPUs: manual (your pins only), vram_based "
            "(largest first onto the most free memory), latency_optimized, isolation_first "
            "(the LLM alone), balanced (lowest peak utilisation).",
        ),
    ] = "vram_based",
    runtime: RuntimeOpt = None,
    hardware: HardwareOpt = None,
    headroom_mb: HeadroomOpt = None,
    concurrency: ConcurrencyOpt = 1,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the diff and the exact commands; touch nothing."),
    ] = False,
    json: JsonOpt = False,
) -> None:
    """Place the services on the GPUs, save it, write the Compose override, recreate
    only the services whose GPUs changed; on failure put everything back.

    `gpuplan apply --services services.yml --compose-file docker-compose.yml --dry-run`
    """
    from gpuplan.apply import Applier
    from gpuplan.apply.report import actor_here
    from gpuplan.apply.services import config_from_services
    from gpuplan.hardware import load_host

    host = load_host(hardware, headroom_mb=headroom_mb)
    config, placed_warnings = config_from_services(
        services, host, strategy, concurrency=concurrency
    )
    warnings = list(placed_warnings)
    target = _target(compose_file, runtime, dry_run=dry_run, notes=warnings)
    if dry_run:
        from gpuplan.store import open_existing_store

        repo = open_existing_store()
        applied = None
        if repo is not None:
            last = repo.last_applied()
            applied = last.config if last else None
        from gpuplan.apply.engine import dry_plan

        plan = dry_plan(config, target, host=host, applied=applied)
        result = plan.result(None, dry_run=True)
        result = result.model_copy(update={"warnings": (*warnings, *result.warnings)})
    else:
        from gpuplan.store import open_store

        applier = Applier(open_store(), actor=actor_here("cli"), host=host)
        result = applier.apply(config, target, extra_warnings=tuple(warnings))
        for report in applier.recovered:
            err_console.print(f"[yellow]Recovered:[/] {escape(report)}", soft_wrap=True)
    _print_result(result, json=json)


@handle_errors
def rollback(
    history_id: Annotated[
        int | None,
        typer.Argument(
            metavar="[ID]",
            help="History entry to go back to (default: the state applied before the current).",
            show_default=False,
        ),
    ] = None,
    compose_file: Annotated[
        Path | None,
        typer.Option(
            "--compose-file",
            envvar="GPUPLAN_COMPOSE_FILE",
            help="Base Compose file (default: the one the entry was applied with).",
            show_default=False,
        ),
    ] = None,
    runtime: RuntimeOpt = None,
    hardware: HardwareOpt = None,
    json: JsonOpt = False,
) -> None:
    """Apply an earlier configuration again (recreating only what differs)."""
    from gpuplan.apply import Applier
    from gpuplan.apply.report import actor_here
    from gpuplan.store import open_store

    host = None
    if hardware:
        from gpuplan.hardware import load_host

        host = load_host(hardware)
    applier = Applier(open_store(), actor=actor_here("cli"), host=host)
    target = None
    if compose_file is not None or runtime is not None:
        if compose_file is None:
            from gpuplan.errors import ApplyError

            raise ApplyError("--runtime needs --compose-file too", hint="pass both")
        target = _target(compose_file, runtime, dry_run=False, notes=[])
    result = applier.rollback(history_id, target)
    for report in applier.recovered:
        err_console.print(f"[yellow]Recovered:[/] {escape(report)}", soft_wrap=True)
    _print_result(result, json=json)


@handle_errors
def status(
    recover: Annotated[
        bool,
        typer.Option("--recover", help="Roll back an apply whose process died, before reporting."),
    ] = False,
    containers: Annotated[
        bool,
        typer.Option("--containers/--no-containers", help="Ask Compose for container health."),
    ] = True,
    json: JsonOpt = False,
) -> None:
    """The saved configuration, the last apply's per-service progress, container health."""
    from gpuplan.apply import Applier
    from gpuplan.apply.report import actor_here, status_report
    from gpuplan.store import open_store

    repo = open_store()
    if recover:
        for line in Applier(repo, actor=actor_here("cli")).recover_all():
            err_console.print(f"[yellow]Recovered:[/] {escape(line)}", soft_wrap=True)
    report = status_report(repo, containers=containers)
    if json:
        emit_json(report)
        return
    _print_status(report)


def _print_status(report: dict[str, Any]) -> None:
    console.print(
        f"State: {report['state']} · saved revision {report['saved_revision']}"
        + (" · applied" if report["in_sync"] else " · not applied yet")
    )
    for entry_id in report["pending_recovery"]:
        console.print(
            f"[yellow]Apply {entry_id} was interrupted[/]: run `gpuplan status --recover` "
            "(or any apply) to roll it back",
            soft_wrap=True,
        )
    last = report["last_apply"]
    if last:
        console.print(
            f"Last {last['kind']}: entry {last['id']}, {last['outcome']}, "
            f"{last['created_at']} by {escape(last['actor'])}",
            soft_wrap=True,
        )
        if last["detail"]:
            console.print(f"  {escape(last['detail'])}", soft_wrap=True)
    for service in report["services"]:
        gpus = ", ".join(str(i) for i in service["gpu_indices"]) or "CPU"
        extra = " · ".join(
            str(x) for x in (service["progress"], service["container"]) if x is not None
        )
        console.print(
            f"  {escape(service['service'])}: GPU {gpus}" + (f" ({extra})" if extra else "")
        )
    if report["containers_error"]:
        console.print(f"Containers: {escape(report['containers_error'])}", soft_wrap=True)


@handle_errors
def history(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Entries to show.")] = 20,
    json: JsonOpt = False,
) -> None:
    """Every saved, applied and rolled-back configuration, newest first."""
    from gpuplan.apply.report import history_rows
    from gpuplan.store import open_store

    rows = history_rows(open_store(), limit)
    if json:
        emit_json({"history": rows})
        return
    if not rows:
        console.print("No history yet: `gpuplan apply` or PUT /api/system/gpu-config saves one.")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("ID", "when", "kind", "outcome", "strategy", "assignments", "by"):
        table.add_column(column)
    for row in rows:
        assignments = ", ".join(
            f"{a['service']}→{','.join(str(i) for i in a['gpu_indices']) or 'cpu'}"
            for a in row["assignments"]
        )
        table.add_row(
            str(row["id"]),
            row["created_at"][:19].replace("T", " "),
            row["kind"],
            row["outcome"],
            row["strategy"],
            escape(assignments),
            escape(row["actor"]),
        )
    console.print(table)
