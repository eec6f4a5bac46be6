"""`gpuplan tune …`: build a tuning task from seed 003's layers, run it, show its results.

``gpuplan tune --model M --runtime R [--profile P …] [--set key=value …] [--mode
local|docker|ome] [--dry-run]`` builds the task; ``--dry-run`` prints the generated
config and each planned experiment's command or manifest; otherwise it runs with a
progress bar, prints the results table, writes the latency/throughput plot and names
the winner (``--write-profile FILE``: as a deployment profile for ``gpuplan plan
--profile FILE``). ``gpuplan tune profiles`` lists the tuning profiles;
``gpuplan tune show TASK`` reads a recorded task (resuming is ``gpuplan tune resume``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from gpuplan.cli._common import HardwareOpt, JsonOpt, console, emit_json, err_console, handle_errors
from gpuplan.cli.render.tables import Col, FlexTable
from gpuplan.errors import TuningConfigError

app = typer.Typer(
    name="tune",
    help="Tune a serving engine: a task built from base settings, your hardware and "
    "named profiles, real benchmark runs, scored against latency and throughput targets.",
    rich_markup_mode=None,
    invoke_without_command=True,
)

DbOpt = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="SQLite file of tasks and experiments (default $GPUPLAN_TUNING_DB, else "
        "$XDG_DATA_HOME/gpuplan/tuning.sqlite3).",
        show_default=False,
    ),
]
PlotOpt = Annotated[
    Path | None,
    typer.Option(
        "--plot",
        help="Write the latency/throughput plot to PATH.png and PATH.svg "
        "(default: tune-TASK beside the database).",
        show_default=False,
    ),
]
WriteProfileOpt = Annotated[
    Path | None,
    typer.Option(
        "--write-profile",
        help="Write the winner as a deployment profile JSON file for `gpuplan plan --profile`.",
        show_default=False,
    ),
]


def parse_set(items: list[str]) -> dict[str, Any]:
    """``a.b=value`` pairs into a nested dict; values are JSON when they parse, else text."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise TuningConfigError(
                f"--set {item!r} is not key=value", hint="e.g. --set optimization.max_iterations=5"
            )
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise TuningConfigError(f"--set {item!r}: {part} is already a value")
            node = child
        node[parts[-1]] = value
    return out


def _store(db: Path | None) -> Any:
    from gpuplan.tuning.persist import TuningStore

    return TuningStore(db)


def _registry(files: list[Path]) -> Any:
    from gpuplan.tuning.profiles import default_registry, load_profile_file

    registry = default_registry()
    for path in files:
        registry.add(load_profile_file(path))
    return registry


@app.callback()
@handle_errors
def tune(
    ctx: typer.Context,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Model id, path or GGUF file.", show_default=False),
    ] = None,
    runtime: Annotated[
        str | None,
        typer.Option(
            "--runtime", "-r", help="sglang, vllm, tensorrt-llm or llamacpp.", show_default=False
        ),
    ] = None,
    profiles: Annotated[
        list[str] | None,
        typer.Option("--profile", "-p", help="Tuning profile, repeatable; applied in order."),
    ] = None,
    profile_files: Annotated[
        list[Path] | None,
        typer.Option("--profile-file", help="Register a custom tuning profile from a file."),
    ] = None,
    sets: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override key=value (dotted path, JSON value), e.g. "
            "optimization.max_iterations=5 or 'parameters.parallel=[1,2]'.",
        ),
    ] = None,
    override_mode: Annotated[
        str, typer.Option("--override-mode", help="patch (deep merge) or replace.")
    ] = "patch",
    mode: Annotated[
        str, typer.Option("--mode", help="local (a process here), docker, or ome (Kubernetes).")
    ] = "local",
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy", help="grid_search, random_search or bayesian.", show_default=False
        ),
    ] = None,
    total_gpus: Annotated[
        int | None,
        typer.Option("--total-gpus", min=1, help="Limit TP sizes (default: the hardware's GPUs)."),
    ] = None,
    hardware: HardwareOpt = None,
    task_name: Annotated[
        str | None, typer.Option("--task-name", help="Name (default: one that never collides).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the config and commands; run nothing.")
    ] = False,
    db: DbOpt = None,
    plot: PlotOpt = None,
    write_profile: WriteProfileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Build a tuning task from layers (base → mode → runtime → profiles → --set) and run it.

    `gpuplan tune --model m.gguf --runtime llamacpp --profile quick-test --dry-run`
    """
    if ctx.invoked_subcommand is not None:
        return
    if not model or not runtime:
        err_console.print("Error: --model and --runtime are required (or a subcommand)")
        raise typer.Exit(2)
    from gpuplan.tuning.factory import TaskContext

    if mode not in ("local", "docker", "ome") or override_mode not in ("patch", "replace"):
        raise TuningConfigError(
            f"--mode {mode!r} / --override-mode {override_mode!r} not understood",
            hint="--mode local|docker|ome, --override-mode patch|replace",
        )
    host_info: dict[str, Any] | None = None
    if hardware is not None or mode != "local":
        host_info = _hardware(hardware)
        if total_gpus is None:
            total_gpus = host_info["gpus"] or None
    fields: dict[str, Any] = {
        "model_name": model,
        "base_runtime": runtime,
        "deployment_mode": mode,
        "profiles": profiles or [],
        "user_overrides": parse_set(sets or []),
        "override_mode": override_mode,
        "total_gpus": total_gpus,
        "task_name": task_name,
        "hardware": host_info,
    }
    if strategy:
        fields["optimization_strategy"] = strategy
    try:
        context = TaskContext.model_validate(fields)
    except ValueError as exc:
        raise TuningConfigError(f"tune options: {exc}".splitlines()[0]) from exc
    registry = _registry(profile_files or [])
    if dry_run:
        _dry_run(context, registry, json_out)
        return
    from gpuplan.tuning.service import create_task

    store = _store(db)
    build = create_task(store, context, registry)
    for warning in build.warnings:
        err_console.print(f"[yellow]Warning:[/] {escape(warning)}", soft_wrap=True)
    _run_and_report(store, build.config.task_name, plot, write_profile, json_out)


def _hardware(spec: str | None) -> dict[str, Any]:
    """The host (declared, else detected) and the deployment profile gpuplan picks for it."""
    from gpuplan.hardware import load_host
    from gpuplan.profiles import resolve_here

    host = load_host(spec)
    resolution, _ = resolve_here(host, None)
    vendors = {gpu.vendor for gpu in host.gpus}
    return {
        "summary": host.summary(),
        "source": host.source,
        "gpus": len(host.gpus),
        "vendor": "cpu" if not vendors else vendors.pop() if len(vendors) == 1 else "mixed",
        "deployment_profile": resolution.name,
    }


def _dry_run(context: Any, registry: Any, json_out: bool) -> None:
    from gpuplan.tuning.factory import build_task
    from gpuplan.tuning.service import render_plan, task_response

    build = build_task(context, registry)
    body = {**task_response(build), "plan": render_plan(build.config)}
    if json_out:
        emit_json(body)
        return
    for warning in build.warnings:
        err_console.print(f"[yellow]Warning:[/] {escape(warning)}", soft_wrap=True)
    console.print(f"[bold]Task[/] {escape(build.config.task_name)} (dry run: nothing runs)")
    table = FlexTable([Col("value", "text"), Col("set by", "text")], title="Generated config")
    for key, source in build.provenance.items():
        table.add_row(
            f"{escape(key)} = {escape(json.dumps(source.value))}", escape(str(source.origin))
        )
    console.print(table)
    console.print("[bold]Layers:[/] " + " → ".join(build.applied_layers), soft_wrap=True)
    for item in body["plan"]:
        what = " ".join(item["argv"]) if "argv" in item else f"{len(item['manifests'])} manifests"
        console.print(f"  {item['seq']}. {escape(what)}", soft_wrap=True)


def _run_and_report(
    store: Any, task: str, plot: Path | None, write_profile: Path | None, json_out: bool
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from gpuplan.tuning.runner import run_task
    from gpuplan.tuning.service import executor_for

    config = store.task(task).config
    executor = executor_for(config)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[last]}"),
        console=err_console,
        transient=json_out,
    ) as bar:
        handle = bar.add_task(f"tuning {task}", total=None, last="")

        def progress(event: str, seq: int, total: int, params: dict[str, Any], result: Any) -> None:
            shown = " ".join(f"{k}={v}" for k, v in params.items())
            if event == "start":
                bar.update(handle, total=total, last=f"#{seq} {shown}")
            else:
                bar.update(handle, completed=seq, last=f"#{seq} {result.score.status}")

        result = run_task(store, task, executor, progress=progress)
    _report(store, result, config, plot, write_profile, json_out)


def _report(
    store: Any,
    result: Any,
    config: Any,
    plot: Path | None,
    write_profile: Path | None,
    json_out: bool,
) -> None:
    from gpuplan.tuning.report import result_rows, write_plot, write_winner_profile
    from gpuplan.tuning.service import result_document

    stem = plot or Path(store.path).parent / f"tune-{result.task_name}"
    paths = write_plot(result, config, stem) if result.experiments else []
    written = None
    if write_profile is not None:
        written = write_winner_profile(result, config, write_profile)
    if json_out:
        body = dict(result_document(result))
        body["plot"] = [str(p) for p in paths]
        body["profile_file"] = str(written) if written else None
        emit_json(body)
        return
    rows = result_rows(result)
    if rows:
        wide = {"params": "text", "#": "id", "status": "id"}
        drops = {"status": 4, "p50_ms": 3, "p99_ms": 2, "errors": 1}
        table = FlexTable(
            [
                Col(key, wide.get(key, "num"), drop=drops.get(key, 0))  # type: ignore[arg-type]
                for key in rows[0]
            ],
            title=f"Task {result.task_name}",
        )
        for row in rows:
            table.add_row(*(escape(v) for v in row.values()))
        console.print(table)
    console.print(f"[bold]Best:[/] {escape(result.best_reason)}", soft_wrap=True)
    best = result.best
    if best is not None:
        console.print("  launch: " + escape(" ".join(best.outcome.argv)), soft_wrap=True)
    notes = sorted({note for e in result.experiments for note in e.outcome.notes})
    failures = [(e.seq, e.outcome.error) for e in result.experiments if e.outcome.error]
    for note in notes:
        err_console.print(f"[yellow]Note:[/] {escape(note)}", soft_wrap=True)
    for seq, error in failures:
        err_console.print(f"[red]Experiment {seq} failed:[/] {escape(str(error))}", soft_wrap=True)
    for path in paths:
        console.print(f"Plot: {escape(str(path))}", soft_wrap=True)
    if written:
        console.print(
            f"Profile: {escape(str(written))} (use: gpuplan plan --profile {escape(str(written))})"
        )


@app.command("profiles")
@handle_errors
def profiles_cmd(
    profile_files: Annotated[
        list[Path] | None, typer.Option("--profile-file", help="Also list a custom profile file.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """The tuning profiles (the six built in, and your own) with what each sets."""
    registry = _registry(profile_files or [])
    if json_out:
        emit_json([p.summary(details=True) for p in registry])
        return
    table = FlexTable(
        [
            Col("name"),
            Col("description", "text", drop=1),
            Col("sets", "text"),
            Col("recommended for", "text", drop=2),
        ]
    )
    for profile in registry:
        sets = "; ".join(
            f"{section}: " + ", ".join(f"{k}={json.dumps(v)}" for k, v in values.items())
            for layer in profile.layers
            for section, values in layer.data.items()
            if isinstance(values, dict) and section != "slo"
        )
        if any("slo" in layer.data for layer in profile.layers):
            sets += "; SLOs"
        table.add_row(
            profile.name,
            profile.metadata.description,
            sets,
            ", ".join(profile.metadata.recommended_for),
        )
    console.print(table)


@app.command("show")
@handle_errors
def show_cmd(
    task: Annotated[
        str | None, typer.Argument(help="Task name or id; omit to list tasks.", show_default=False)
    ] = None,
    db: DbOpt = None,
    plot: PlotOpt = None,
    write_profile: WriteProfileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A recorded task: its experiments, scores, best configuration and why."""
    from gpuplan.tuning.runner import load_result

    store = _store(db)
    if task is None:
        rows = store.tasks()
        if json_out:
            emit_json([{"name": r.name, "status": r.status, "best_seq": r.best_seq} for r in rows])
            return
        table = FlexTable(
            [Col("id", "num"), Col("name"), Col("status"), Col("runtime"), Col("mode"),
             Col("best", "num")]
        )  # fmt: skip
        for r in rows:
            table.add_row(str(r.id), escape(r.name), r.status, r.config.base_runtime,
                          r.config.deployment_mode, str(r.best_seq or "-"))  # fmt: skip
        console.print(table)
        return
    row = store.task(task)
    _report(store, load_result(store, task), row.config, plot, write_profile, json_out)


@app.command("resume")
@handle_errors
def resume_cmd(
    task: Annotated[str, typer.Argument(help="Task name or id.")],
    db: DbOpt = None,
    plot: PlotOpt = None,
    write_profile: WriteProfileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Continue a task that was interrupted: finished experiments are kept, not re-run."""
    store = _store(db)
    _run_and_report(store, store.task(task).name, plot, write_profile, json_out)
