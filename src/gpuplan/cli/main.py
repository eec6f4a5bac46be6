"""The ``gpuplan`` command: one typer app, each command group in its own module."""

from __future__ import annotations

import os

# Pydantic looks up plugins through every installed package's entry points the
# first time a model is built (~40 ms, a third of `gpuplan detect`); the CLI uses
# none. Users who want a plugin can still set the variable themselves.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from typing import Annotated, ClassVar

import typer

from gpuplan import __version__
from gpuplan.cli.lazy import LazyCommand, LazyGroup
from gpuplan.cli.logs import setup_logging


class Commands(LazyGroup):
    """gpuplan's commands, in the order ``--help`` lists them; each loads when it runs."""

    COMMANDS: ClassVar[dict[str, LazyCommand]] = {
        "plan": LazyCommand(
            "gpuplan.cli.plan",
            "plan",
            "The whole answer: the GPUs, the profile and why, what fits, what to serve, and where.",
        ),
        "render": LazyCommand(
            "gpuplan.cli.render_files",
            "render",
            "Write the plan's files: Kubernetes manifests, engine launch lines, Compose override.",
        ),
        "detect": LazyCommand(
            "gpuplan.cli.detect",
            "detect",
            "Show the GPUs gpuplan plans for, their usable VRAM and where the facts came from.",
        ),
        "estimate": LazyCommand(
            "gpuplan.cli.estimate",
            "estimate",
            "Estimate the GPU memory a model needs: weights, KV cache, activations, overhead.",
        ),
        "discover": LazyCommand(
            "gpuplan.cli.discover",
            "discover",
            "List the models on disk as `fit`, `select` and `plan --discover` will see them.",
        ),
        "fit": LazyCommand(
            "gpuplan.cli.models",
            "fit",
            "Which registry models and quantizations fit these GPUs, and the longest "
            "context each holds.",
        ),
        "select": LazyCommand(
            "gpuplan.cli.models",
            "select",
            "Choose models by role under the active profile: the best that fits, per role.",
        ),
        "serve": LazyCommand(
            "gpuplan.cli.serve",
            "serve",
            "Serve the HTTP API: /api/system/gpu-config (GPU assignments), /v1/config/profile, "
            "/v1/models/select_by_role, /health, /docs; with --services, the OpenAI-compatible "
            "proxy at /v1.",
        ),
        "ps": LazyCommand(
            "gpuplan.cli.ps",
            "ps",
            "Show what a running `gpuplan serve` has loaded: where, memory, idle, keep-alive.",
        ),
        "apply": LazyCommand(
            "gpuplan.cli.apply",
            "apply",
            "Place the services on the GPUs, save it, write the Compose override, recreate "
            "only the services whose GPUs changed; on failure put everything back.",
        ),
        "status": LazyCommand(
            "gpuplan.cli.apply",
            "status",
            "The saved configuration, the last apply's per-service progress, container health.",
        ),
        "history": LazyCommand(
            "gpuplan.cli.apply",
            "history",
            "Every saved, applied and rolled-back configuration, newest first.",
        ),
        "rollback": LazyCommand(
            "gpuplan.cli.apply",
            "rollback",
            "Apply an earlier configuration again (recreating only what differs).",
        ),
        "hardware": LazyCommand(
            "gpuplan.cli.hardware",
            "app",
            "The GPU catalog behind declared hardware (--hardware '2x RTX 4090'): names, "
            "memory as the vendor tool reports it, bandwidth and number formats.",
        ),
        "profile": LazyCommand(
            "gpuplan.cli.profile",
            "app",
            "Deployment profiles: the VRAM budget, serving policy and engine settings in force.",
        ),
        "tune": LazyCommand(
            "gpuplan.cli.tune",
            "app",
            "Tune a serving engine: a task built from base settings, your hardware and "
            "named profiles, real benchmark runs, scored against latency and throughput targets.",
        ),
    }


app = typer.Typer(
    cls=Commands,
    name="gpuplan",
    help=(
        "Which AI models can these GPUs serve, where does each go, and how is each "
        "launched. Works on this machine's GPUs or on declared hardware (--hardware)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gpuplan {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    verbose: Annotated[
        int,
        typer.Option("--verbose", "-v", count=True, help="Log what gpuplan does (-vv: debug)."),
    ] = 0,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """gpuplan: plan and launch AI model serving on the GPUs you have."""
    setup_logging(verbose)


def main() -> None:
    app()
