"""`gpuplan render TARGET [-o DIR]`: the plan's files — manifests, launch lines, Compose.

Takes ``plan``'s options, places the services (the plan's own selection, or a
services file) and writes what TARGET names into DIR through the atomic writer,
or prints it when no DIR is given.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from gpuplan.cli._common import (
    HardwareOpt,
    HeadroomOpt,
    ProfileOpt,
    console,
    err_console,
    handle_errors,
)
from gpuplan.cli.discover import DiscoverOpt, with_discovered
from gpuplan.errors import GpuplanError, LaunchError
from gpuplan.fileio import write_atomic
from gpuplan.memory.figure import DEFAULT_CONTEXT
from gpuplan.planning import DEFAULT_ROLES

ENGINE_TARGETS = ("vllm", "sglang", "llama.cpp", "ollama", "tensorrt-llm")
FILE_TARGETS = ("compose", "podman", "k8s", "assignments")
TARGETS = (*FILE_TARGETS, *ENGINE_TARGETS)
K8S_FILE = "gpuplan-k8s.yaml"


def _placement_api() -> Any:
    try:
        return importlib.import_module("gpuplan.placement.place"), importlib.import_module(
            "gpuplan.placement.services"
        )
    except ImportError:
        raise GpuplanError(
            "placement (gpuplan.placement.place) is not part of this build",
            hint="update gpuplan; `gpuplan render` needs the placement stage",
        ) from None


@dataclass(frozen=True)
class _Placed:
    host: Any
    services: Sequence[Any]
    placement: Any
    requests: list[Any]
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
) -> _Placed:
    """Host → profile → services → placement → one LaunchRequest per launchable service."""
    from gpuplan.hardware import load_host
    from gpuplan.launch.requests import launch_requests, parse_overrides
    from gpuplan.models.registry import load_registry
    from gpuplan.planning import make_plan
    from gpuplan.profiles import resolve_here

    place_module, services_module = _placement_api()
    host = load_host(hardware, headroom_mb=headroom_mb)
    resolution, _catalog = resolve_here(host, profile)
    entries = with_discovered(load_registry(), discover)
    if services_file is not None:
        services = services_module.load_services(services_file, entries=entries, context=context)
    else:
        wanted = [role.strip() for role in roles.split(",") if role.strip()]
        plan = make_plan(host, resolution, entries, roles=wanted, context=context)
        services = services_module.services_from_selection(plan.selection.models)
    placement = place_module.place(
        services,
        host,
        strategy=strategy,
        on=on,
        tensor_parallel_threshold_mb=resolution.profile.tensor_parallel_threshold_mb,
    )
    engine = resolution.profile.engine.model_dump(mode="json", exclude_none=True)
    overrides = parse_overrides(sets, [service.name for service in services])
    requests, notes = launch_requests(
        placement,
        services,
        host,
        entries=entries,
        context=context,
        engine_settings=engine,
        overrides=overrides,
    )
    return _Placed(host, services, placement, requests, list(placement.warnings), notes)


def _store_module(target: str) -> Any:
    name = (
        "gpuplan.launch.assignments_file" if target == "assignments" else "gpuplan.launch.compose"
    )
    try:
        return importlib.import_module(name)
    except ImportError:
        raise LaunchError(
            f"`gpuplan render {target}` is not implemented in this build ({name} is missing)",
            hint="use `gpuplan render k8s` or `gpuplan render ENGINE` for now",
        ) from None


OVERRIDE_FILE = "docker-compose.gpu-override.yml"
ASSIGNMENTS_FILE = "gpu-assignments.yml"
CDI_SPECS = (Path("/etc/cdi/nvidia.yaml"), Path("/var/run/cdi/nvidia.yaml"))


def _store_files(target: str, placed: _Placed) -> dict[str, str]:
    """The Compose override or gpu-assignments.yml, written by the store stage's renderers."""
    module = _store_module(target)
    overridden = {
        service.name
        for service in placed.services
        if getattr(service, "vram_budget_override_mb", None) is not None
    }
    if target == "assignments":
        text = module.render_assignments_file(
            placed.placement.strategy, placed.placement.assignments, overridden=overridden
        )
        return {ASSIGNMENTS_FILE: text}
    vendors = {gpu.index: gpu.vendor for gpu in placed.host.gpus}
    text = module.render_override(
        placed.placement.assignments, overridden=overridden, vendors=vendors
    )
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
            hint=f"engines in this plan: {present}",
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
        hardware, profile, roles, context, headroom_mb, discover, strategy, services, on, sets or ()
    )
    files = _files(target, placed, namespace)
    notes = placed.notes
    if output is None:
        for note in notes:
            err_console.print(f"Note: {note}", markup=False, soft_wrap=True)
        for name, text in files.items():
            if len(files) > 1:
                console.print(f"# ==> {name}", markup=False, highlight=False)
            console.print(text, end="", markup=False, highlight=False, soft_wrap=True)
        return
    output.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        write_atomic(output / name, text, mode=0o755 if name.endswith(".sh") else 0o644)
    for note in notes:
        console.print(f"Note: {note}", markup=False, soft_wrap=True)
    console.print(
        f"Wrote {len(files)} file(s) to {output}: " + ", ".join(sorted(files)),
        markup=False,
        soft_wrap=True,
    )
