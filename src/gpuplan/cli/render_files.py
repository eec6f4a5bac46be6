"""`gpuplan render TARGET [-o DIR]`: the plan's files — manifests, launch lines, Compose.

Takes ``plan``'s options, places the services (the plan's own selection, or a
services file) and writes what TARGET names into DIR through the atomic writer,
or prints it when no DIR is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gpuplan.cli._common import (
    ConcurrencyOpt,
    HardwareOpt,
    HeadroomOpt,
    ProfileOpt,
    console,
    err_console,
    handle_errors,
)
from gpuplan.cli.discover import DiscoverOpt, with_discovered
from gpuplan.errors import LaunchError
from gpuplan.fileio import write_atomic
from gpuplan.memory.figure import DEFAULT_CONTEXT
from gpuplan.planning import DEFAULT_ROLES

if TYPE_CHECKING:
    from gpuplan.hardware import Host
    from gpuplan.launch.model import LaunchRequest
    from gpuplan.placement.model import Placement, Service

ENGINE_TARGETS = ("vllm", "sglang", "llama.cpp", "ollama", "tensorrt-llm")
FILE_TARGETS = ("compose", "podman", "k8s", "assignments")
TARGETS = (*FILE_TARGETS, *ENGINE_TARGETS)
K8S_FILE = "gpuplan-k8s.yaml"


@dataclass(frozen=True)
class _Placed:
    host: Host
    services: Sequence[Service]
    placement: Placement
    requests: list[LaunchRequest]
    notes: list[str]  # placement's warnings, and what the chosen target adds
    launch_notes: list[str]  # services without a launch line


def _placed(
    hardware: str | None,
    profile: str | None,
    roles: str,
    context: int,
    headroom_mb: int | None,
    discover: Sequence[Path] | None,
    strategy: str,
    services_file: Path | None,
    on: str,
    sets: Sequence[str] = (),
    concurrency: int = 1,
) -> _Placed:
    """Host → profile → services → placement (exactly `plan`'s) → one LaunchRequest each."""
    from gpuplan.hardware import load_host
    from gpuplan.launch.requests import parse_overrides
    from gpuplan.models.registry import load_registry
    from gpuplan.placement.model import Placement
    from gpuplan.placement.services import load_services, services_from_selection
    from gpuplan.planning import largest_gpu_mb, make_plan, plan_launch_requests
    from gpuplan.profiles import resolve_here

    host = load_host(hardware, headroom_mb=headroom_mb)
    resolution, _catalog = resolve_here(host, profile)
    entries = with_discovered(load_registry(), discover)
    listed = None
    if services_file is not None:
        listed = load_services(
            services_file,
            entries=entries,
            context=context,
            gpu_memory_mb=largest_gpu_mb(host),
            concurrency=concurrency,
        )
    wanted = [role.strip() for role in roles.split(",") if role.strip()]
    plan = make_plan(
        host,
        resolution,
        entries,
        roles=wanted,
        context=context,
        concurrency=concurrency,
        services=listed,
        strategy=strategy,
        on="free" if on == "free" else "total",
    )
    services = listed if listed is not None else services_from_selection(plan.selection.models)
    placement = Placement(
        strategy=plan.strategy,
        assignments=plan.assignments,
        gpus=plan.gpus,
        warnings=plan.warnings,
        solver=plan.solver,
    )
    overrides = parse_overrides(sets, [service.name for service in services])
    requests, notes = plan_launch_requests(
        placement, services, host, resolution, entries,
        context=context, concurrency=concurrency, overrides=overrides,
    )  # fmt: skip
    return _Placed(host, services, placement, requests, list(placement.warnings), notes)


OVERRIDE_FILE = "docker-compose.gpu-override.yml"
ASSIGNMENTS_FILE = "gpu-assignments.yml"
CDI_SPECS = (Path("/etc/cdi/nvidia.yaml"), Path("/var/run/cdi/nvidia.yaml"))


def _store_files(target: str, placed: _Placed) -> dict[str, str]:
    """The Compose override or gpu-assignments.yml, written by the store stage's renderers."""
    from gpuplan.launch.assignments_file import render_assignments_file
    from gpuplan.launch.compose import render_override

    overridden = {
        service.name
        for service in placed.services
        if getattr(service, "vram_budget_override_mb", None) is not None
    }
    if target == "assignments":
        text = render_assignments_file(
            placed.placement.strategy, placed.placement.assignments, overridden=overridden
        )
        return {ASSIGNMENTS_FILE: text}
    vendors = {gpu.index: gpu.vendor for gpu in placed.host.gpus}
    text = render_override(placed.placement.assignments, overridden=overridden, vendors=vendors)
    if target == "podman" and not any(path.exists() for path in CDI_SPECS):
        placed.notes.append(
            "podman-compose 1.x turns each device reservation into --device nvidia.com/gpu=N, "
            "which needs the NVIDIA container toolkit's CDI spec; none found in /etc/cdi or "
            "/var/run/cdi: run `sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`"
        )
    return {OVERRIDE_FILE: text}


def _files(target: str, placed: _Placed, namespace: str | None = None) -> dict[str, str]:
    from gpuplan.launch import render

    if target in FILE_TARGETS and target != "k8s":
        return _store_files(target, placed)
    placed.notes.extend(placed.launch_notes)
    pairs = [(request, render(request)) for request in placed.requests]
    if target == "k8s":
        from gpuplan.launch.kubernetes import manifests_yaml

        return {K8S_FILE: manifests_yaml(pairs, namespace=namespace)}
    from gpuplan.launch.scripts import launch_files

    chosen = [(request, config) for request, config in pairs if config.engine == target]
    if not chosen:
        present = ", ".join(sorted({config.engine for _, config in pairs})) or "none"
        raise LaunchError(
            f"no service in this plan is served with {target}",
            hint=f"engines in this plan: {present}; to serve a model with {target}, pin "
            f"`engine: {target}` for it in a --services file",
        )
    files: dict[str, str] = {}
    for _, config in chosen:
        files.update(launch_files(config))
    return files


@handle_errors
def render(
    target: Annotated[
        str,
        typer.Argument(
            help="What to write: compose, podman, k8s, assignments, or an engine "
            "(vllm, sglang, llama.cpp, ollama, tensorrt-llm) for its launch lines.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Folder to write the files into (created); default: print them."
        ),
    ] = None,
    hardware: HardwareOpt = None,
    profile: ProfileOpt = None,
    strategy: Annotated[
        str,
        typer.Option(
            "--strategy",
            help="Placement strategy: manual, vram_based, latency_optimized, "
            "isolation_first, balanced.",
        ),
    ] = "vram_based",
    services: Annotated[
        Path | None,
        typer.Option(
            "--services",
            help="Services file (YAML/TOML/JSON) to place instead of the plan's own selection.",
        ),
    ] = None,
    on: Annotated[
        str, typer.Option("--on", help="Place on total GPU memory or on memory free now.")
    ] = "total",
    roles: Annotated[
        str, typer.Option("--roles", help="Roles to choose one model each for, comma-separated.")
    ] = ",".join(DEFAULT_ROLES),
    context: Annotated[
        int, typer.Option("--context", min=1, help="Tokens of context each model is costed at.")
    ] = DEFAULT_CONTEXT,
    concurrency: ConcurrencyOpt = 1,
    headroom_mb: HeadroomOpt = None,
    discover: DiscoverOpt = None,
    sets: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Explicit engine flag, winning over the profile: KEY=VALUE for every service, "
            "SERVICE:KEY=VALUE for one (max-model-len=8192, ai-llm:image=REF, FOO_ENV=1).",
        ),
    ] = None,
    namespace: Annotated[
        str | None, typer.Option("--namespace", help="Kubernetes namespace of the manifests.")
    ] = None,
) -> None:
    """Write the plan's files: Kubernetes manifests, engine launch lines, Compose override.

    TARGET is compose or podman (docker-compose.gpu-override.yml), assignments
    (gpu-assignments.yml), k8s (a Deployment and Service per model), or an engine —
    vllm, sglang, llama.cpp, ollama, tensorrt-llm — for each of its services' argv
    (JSON) and launch script: `gpuplan render k8s --hardware "2x RTX 4090" -o deploy/`.
    """
    if target not in TARGETS:
        raise LaunchError(
            f"unknown render target {target!r}", hint="use one of " + ", ".join(TARGETS)
        )
    if on not in ("total", "free"):
        raise LaunchError(f"--on {on!r} is not total or free", hint="use --on total or --on free")
    placed = _placed(
        hardware,
        profile,
        roles,
        context,
        headroom_mb,
        discover,
        strategy,
        services,
        on,
        sets or (),
        concurrency,
    )
    files = _files(target, placed, namespace)
    notes = placed.notes
    if output is None:
        for note in notes:
            err_console.print(f"Warning: {note}", markup=False, soft_wrap=True)
        for name, text in files.items():
            if len(files) > 1:
                console.print(f"# ==> {name}", markup=False, highlight=False)
            console.print(text, end="", markup=False, highlight=False, soft_wrap=True)
        return
    output.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        write_atomic(output / name, text, mode=0o755 if name.endswith(".sh") else 0o644)
    for note in notes:
        console.print(f"Warning: {note}", markup=False, soft_wrap=True)
    console.print(
        f"Wrote {len(files)} file(s) to {output}: " + ", ".join(sorted(files)),
        markup=False,
        soft_wrap=True,
    )
