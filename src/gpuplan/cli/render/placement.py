"""How `gpuplan plan` shows *where* (a GPU map) and *how* (each service's launch line).

The map is one block per GPU: a fill bar of used ÷ usable memory, then its
services with their budgets; below it each service's GPU(s) and the reason, and
seed 004's warnings. Everything fits 80 columns: names are shortened, not
wrapped mid-word, and reasons wrap under their service.
"""

from __future__ import annotations

import re
import shlex
import textwrap

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from gpuplan.planning import Plan

__all__ = [
    "keep_units",
    "launch_warnings",
    "render_launch",
    "render_where",
    "split_words",
    "splits_layers",
]

BAR = 20


def _gb(mib: int) -> str:
    from gpuplan.placement.validate import gb

    return gb(mib)


def _bar(used: int, usable: int) -> Text:
    share = used / usable if usable > 0 else (1.0 if used else 0.0)
    filled = min(BAR, round(share * BAR))
    style = "red" if share > 1 else "yellow" if share > 0.9 else "green"
    bar = Text("█" * filled, style=style)
    bar.append("░" * (BAR - filled), style="dim")
    bar.append(f" {share:4.0%}", style=style if share > 1 else "")
    return bar


def render_where(plan: Plan) -> RenderableType:
    """The GPU map, the assignments with reasons, and the warnings."""
    if not plan.assignments:
        return Text("Nothing to place.")
    budgets = {a.service: a for a in plan.assignments}
    engines = {config.service: config.engine for config in plan.launch}
    parts: list[RenderableType] = []
    for fill in plan.gpus:
        head = Text(f"GPU {fill.index} ", style="bold")
        head.append(_short(fill.name.removeprefix("NVIDIA "), 26))
        head.append(f"  {_gb(fill.used_mb)} of {_gb(fill.usable_mb)} usable  ")
        head.append_text(_bar(fill.used_mb, fill.usable_mb))
        parts.append(head)
        if not fill.services:
            parts.append(Text("    (nothing)", style="dim"))
        for name in fill.services:
            a = budgets[name]
            share = -(-a.vram_budget_mb // max(1, len(a.gpu_indices)))
            line = Text(f"    {_short(name, 34):<34} {_gb(share):>9}")
            if len(a.gpu_indices) > 1:
                line.append(
                    f"  (1/{len(a.gpu_indices)}, {split_words(engines.get(name))})", style="dim"
                )
            if a.budget_adjusted:
                line.append("  ⚠ adjusted", style="yellow")
            parts.append(line)
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("service", no_wrap=True, max_width=24)
    table.add_column("GPU", no_wrap=True)
    table.add_column("why", ratio=1)
    for a in plan.assignments:
        gpus = ",".join(map(str, a.gpu_indices)) or "-"
        if a.mig_device is not None:
            gpus += f" MIG {a.mig_device}"
        table.add_row(_short(a.service, 24), gpus, a.reason)
    parts += [Text(""), table] if parts else [table]
    if plan.solver:
        parts.append(_wrapped(f"strategy {plan.strategy}: {plan.solver}", "dim"))
    parts += [_wrapped(f"⚠ {warning}", "yellow") for warning in plan.warnings]
    return Group(*parts)


LAYER_SPLIT_ENGINES = ("llama.cpp", "ollama")
"""Engines that spread a model over GPUs by layers (llama.cpp's --split-mode layer)."""


def splits_layers(engine: str | None) -> bool:
    """Whether ``engine`` (a registry backend or an engine id, any spelling) splits layers."""
    from gpuplan.memory.engines import normalize_engine

    return engine is not None and normalize_engine(engine) in LAYER_SPLIT_ENGINES


def split_words(engine: str | None) -> str:
    """How a model over several GPUs is split: llama.cpp splits layers, the others tensors."""
    return "layer split" if splits_layers(engine) else "tensor parallel"


def render_launch(plan: Plan) -> RenderableType:
    """Each service's environment and command line, as a copyable shell command.

    Long commands continue on the next line with `` \\``, breaking only between
    a flag and the next flag, so every line pastes as it is.
    """
    parts: list[RenderableType] = []
    for config in plan.launch:
        head = f"{config.service} ({config.engine} {config.engine_version}):"
        parts.append(Text(head, style="bold"))
        words = [f"{k}={shlex.quote(v)}" for k, v in sorted(config.env.items())]
        words += _flag_groups([shlex.quote(token) for token in config.argv])
        parts.append(Text(_continued(words)))
        parts += [_wrapped(f"⚠ {note}", "yellow") for note in launch_warnings(config.notes)]
    return Group(*parts)


LAUNCH_WARNING_PREFIXES = ("cannot start:", "may not start:")
"""Launch notes that say the line will fail or may fail (the launch renderers' words)."""


def launch_warnings(notes: tuple[str, ...]) -> list[str]:
    """The launch notes a user must see beside the line: those that say it may not start."""
    return [note for note in notes if note.lower().startswith(LAUNCH_WARNING_PREFIXES)]


_NUMBER_UNIT = re.compile(r"(\d)[ ](GB|MB|GiB|MiB|KB|tokens|%)(?![A-Za-z])")


def keep_units(text: str) -> str:
    """'3.5 GB' with a non-breaking space, so wrapping never strands the unit (views only)."""
    return _NUMBER_UNIT.sub("\\1\u00a0\\2", text)


def _flag_groups(tokens: list[str]) -> list[str]:
    """['--port', '8000'] stay together: a flag and its value are one word."""
    groups: list[str] = []
    for token in tokens:
        if (
            groups
            and groups[-1].startswith("-")
            and " " not in groups[-1]
            and not token.startswith("-")
        ):
            groups[-1] += f" {token}"
        else:
            groups.append(token)
    return groups


def _continued(words: list[str], width: int = 78) -> str:
    lines: list[str] = []
    line = " "
    for word in words:
        if len(line) + 1 + len(word) > width - 2 and line.strip():
            lines.append(line + " \\")
            line = "   "
        line += " " + word
    lines.append(line)
    return "\n".join(lines)


def _wrapped(text: str, style: str, width: int = 79) -> Text:
    """Wrapped at words with a hanging indent: `plan` prints with soft_wrap, so wrap here."""
    lines = textwrap.wrap(
        keep_units(text), width=width, subsequent_indent="  ", break_on_hyphens=False
    )
    return Text("\n".join(lines), style=style)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
