"""Commands that are imported only when they run, so every command starts fast.

Typer builds every command from its function up front, which would import each
command's module — and with them the estimator, gguf and numpy — even for
``gpuplan --help``. ``LazyGroup`` keeps a table of (name → module, attribute,
one-line summary) instead: the help listing shows the summaries, and a
command's module is imported when that command is invoked (or its own
``--help`` is asked for). ``tests/cli/test_lazy.py`` checks each summary equals
the real command's, so the table cannot drift from the code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import click
import typer
from typer.core import TyperGroup

__all__ = ["LazyCommand", "LazyGroup", "load_command"]


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives: ``module.attribute`` is a command function or a Typer app."""

    module: str
    attribute: str
    summary: str


def load_command(name: str, entry: LazyCommand) -> click.Command:
    """Import the command's module and build its click command, as Typer would."""
    target: Callable[..., Any] | typer.Typer = getattr(
        importlib.import_module(entry.module), entry.attribute
    )
    if isinstance(target, typer.Typer):
        command: click.Command = typer.main.get_group(target)
    else:
        single = typer.Typer(rich_markup_mode=None, add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """A Typer group whose subcommands come from ``COMMANDS`` and load on demand."""

    COMMANDS: ClassVar[dict[str, LazyCommand]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listing = False
        self._loaded: dict[str, click.Command] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *self.COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = self.COMMANDS.get(cmd_name)
        if entry is None:
            return super().get_command(ctx, cmd_name)
        if self._listing and cmd_name not in self._loaded:
            return click.Command(cmd_name, help=entry.summary, short_help=entry.summary)
        if cmd_name not in self._loaded:
            self._loaded[cmd_name] = load_command(cmd_name, entry)
        return self._loaded[cmd_name]

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False
