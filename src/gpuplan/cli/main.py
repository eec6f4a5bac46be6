"""The ``gpuplan`` command: one typer app, each command group in its own module."""

from __future__ import annotations

from typing import Annotated

import typer

from gpuplan import __version__
from gpuplan.cli import apply as apply_cmd
from gpuplan.cli import detect as detect_cmd
from gpuplan.cli import discover as discover_cmd
from gpuplan.cli import estimate as estimate_cmd
from gpuplan.cli import hardware as hardware_cmd
from gpuplan.cli import models as models_cmd
from gpuplan.cli import plan as plan_cmd
from gpuplan.cli import profile as profile_cmd
from gpuplan.cli import serve as serve_cmd
from gpuplan.cli._common import setup_logging

app = typer.Typer(
    name="gpuplan",
    help=(
        "Which AI models can these GPUs serve, where does each go, and how is each "
        "launched. Works on this machine's GPUs or on declared hardware (--hardware)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
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


app.command("plan")(plan_cmd.plan)
app.command("detect")(detect_cmd.detect)
app.command("estimate")(estimate_cmd.estimate)
app.command("discover")(discover_cmd.discover)
app.command("fit")(models_cmd.fit)
app.command("select")(models_cmd.select)
app.command("serve")(serve_cmd.serve)
app.command("apply")(apply_cmd.apply)
app.command("status")(apply_cmd.status)
app.command("history")(apply_cmd.history)
app.command("rollback")(apply_cmd.rollback)
app.add_typer(hardware_cmd.app, name="hardware")
app.add_typer(profile_cmd.app, name="profile")


def main() -> None:
    app()
