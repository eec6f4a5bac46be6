"""What every command shares: consoles, JSON output, options, and the error edge.

Domain errors (``GpuplanError``) are raised deep in the library and turned here
into one ``Error: …`` line on stderr with a non-zero exit, never a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from gpuplan.errors import GpuplanError, ProfileNotFoundError

if TYPE_CHECKING:
    from rich.console import Console

    console: Console
    """Standard output for people (tables, prose); JSON goes to sys.stdout directly."""
    err_console: Console
    """Standard error: warnings and the one ``Error:`` line."""


def __getattr__(name: str) -> Any:
    """Make the consoles on first use: ``--json`` commands never import rich's console."""
    if name not in ("console", "err_console"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from rich.console import Console

    value = Console(highlight=False, stderr=name == "err_console")
    globals()[name] = value
    return value


def _made(name: str) -> Console:
    """A console from inside this module, where ``__getattr__`` is not consulted."""
    made: Console = globals().get(name) or __getattr__(name)
    return made


P = ParamSpec("P")
R = TypeVar("R")

HardwareOpt = Annotated[
    str | None,
    typer.Option(
        "--hardware",
        "-H",
        help=(
            "Plan for declared hardware instead of this machine: '2x RTX 4090', "
            "'RTX A5500, RTX A400', '8x H100-80GB', 'cpu', or a file saved from "
            "`gpuplan detect --json`. Default: $GPUPLAN_HARDWARE, else detect."
        ),
        show_default=False,
    ),
]
ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
        "-p",
        help="Profile name or file; default: $GPUPLAN_DEPLOYMENT_PROFILE, the project's "
        "setting, else auto-selection from the hardware.",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
HeadroomOpt = Annotated[
    int | None,
    typer.Option(
        "--headroom-mb",
        min=0,
        max=1 << 20,
        help="MiB kept free on every GPU (default $GPUPLAN_HEADROOM_MB, else 2048).",
        show_default=False,
    ),
]

CONCURRENCY_HELP = (
    "Sequences each model serves at once (parallel users), as `gpuplan estimate "
    "--concurrency`: its KV cache is sized for this many × --context tokens, and its "
    "launch line caps the engine at it (vLLM --max-num-seqs, SGLang --max-running-requests, "
    "llama.cpp --parallel, Ollama OLLAMA_NUM_PARALLEL)."
)
ConcurrencyOpt = Annotated[int, typer.Option("--concurrency", "-n", min=1, help=CONCURRENCY_HELP)]
"""`--concurrency/-n`, the name and meaning `gpuplan estimate` gave it first."""


def emit_json(data: Any) -> None:
    """Write ``data`` as JSON to stdout, unwrapped (rich would wrap long lines)."""
    from gpuplan.records import Record

    if isinstance(data, Record):  # plain dataclasses: detect never imports pydantic's models
        data = data.model_dump(mode="json")
    elif "pydantic.main" in sys.modules:  # a pydantic model exists only once it is loaded
        from pydantic import BaseModel

        if isinstance(data, BaseModel):
            data = data.model_dump(mode="json")
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def exit_code_for(error: GpuplanError) -> int:
    """2 for a name the user typed that does not exist (like a usage error), else 1."""
    return 2 if isinstance(error, ProfileNotFoundError) else 1


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn a ``GpuplanError`` into one line on stderr and a non-zero exit."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except GpuplanError as error:
            from rich.markup import escape

            _made("err_console").print(f"[bold red]Error:[/] {escape(str(error))}", soft_wrap=True)
            raise typer.Exit(exit_code_for(error)) from None

    return wrapper
