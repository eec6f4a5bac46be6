"""How model fits and selections look in a terminal: tables plus the reasons.

Pure: each function takes the stage's result and returns rich renderables, so
the CLI only prints and tests can render on a fixed-width console.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.text import Text

from gpuplan.cli.render.tables import Col, FlexTable
from gpuplan.models.registry import Role
from gpuplan.selection.candidates import Candidate
from gpuplan.selection.fit import FitRow
from gpuplan.selection.joint import JointSelection
from gpuplan.selection.policy import SelectionPolicy
from gpuplan.selection.select import Explanation

__all__ = ["policy_line", "render_explanation", "render_fit", "render_joint", "render_selection"]


def _tokens(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _mib(total: int, gpus: int, per_gpu: int) -> str:
    """'22,432' on one GPU, '2×22,432' for a model split over two (the per-GPU share)."""
    return f"{total:,}" if gpus <= 1 else f"{gpus}×{per_gpu:,}"


def policy_line(policy: SelectionPolicy) -> str:
    prefs = ", ".join(policy.preferred_quantizations) or "none"
    return (
        f"Profile {policy.name}: budget {policy.max_vram_mb:,} MiB, "
        f"{policy.max_concurrent_models} model(s) at once, bias {policy.model_selection_bias}, "
        f"preferred quantizations: {prefs}"
    )


def render_fit(rows: Sequence[FitRow], *, title: str, show_all: bool) -> RenderableType:
    """One row per variant: fits or not, VRAM, GPUs, the longest context it holds."""
    table = FlexTable(
        [
            Col("model"),
            Col("quant"),
            Col("engine"),
            Col("best role", drop=1),
            Col("MiB/GPU", "num"),
            Col("GPUs", "num"),
            Col("max ctx", "num"),
        ],
        title=title,
    )
    shown = [row for row in rows if row.fits or show_all]
    for row in shown:
        table.add_row(
            row.model_id if row.fits else f"✗ {row.model_id}",
            row.quantization,
            row.backend,
            row.roles[0] if row.roles else "-",
            f"{row.vram_estimate_mb:,}",
            str(row.gpus),
            _tokens(row.max_context) if row.context is not None else "n/a",
            style="" if row.fits else "dim",
        )
    fitting = sum(row.fits for row in rows)
    footer = Text(f"{fitting} of {len(rows)} variants fit.", style="bold")
    if not show_all and fitting < len(rows):
        footer.append(" --all lists the others with the reason.", style="dim")
    return Group(table, footer)


def render_selection(
    role: Role, chosen: Sequence[Candidate], policy: SelectionPolicy
) -> RenderableType:
    """The top-N models for one role under the policy."""
    table = FlexTable(
        [
            Col("#", "num"),
            Col("model"),
            Col("name", "text", drop=2),
            Col("quant"),
            Col("engine"),
            Col("MiB", "num"),
            Col("priority", "num"),
            Col("VRAM from", drop=1),
        ],
        title=f"Best models for {role!r}",
    )
    for rank, candidate in enumerate(chosen, start=1):
        table.add_row(
            str(rank),
            candidate.model_id,
            escape(candidate.name),
            candidate.quantization,
            candidate.backend,
            _mib(candidate.vram_estimate_mb, candidate.gpus, candidate.demand.per_gpu_mb),
            str(candidate.role_priority[role]),
            candidate.vram_source,
        )
    parts: list[RenderableType] = [Text(policy_line(policy), style="dim")]
    if chosen:
        parts.append(table)
    else:
        parts.append(
            Text(
                f"No model serves {role!r} within {policy.max_vram_mb:,} MiB. "
                "Use --explain MODEL to see why a model was rejected.",
                style="yellow",
            )
        )
    return Group(*parts)


def render_explanation(explanation: Explanation) -> RenderableType:
    """Seed 001's explanation: the status, the reason, and each variant's verdict."""
    color = {"eligible": "green", "rejected": "red"}.get(explanation.status, "yellow")
    head = Text.assemble(
        (f"{explanation.model_id} for {explanation.role!r}: ", "bold"),
        (explanation.status, f"bold {color}"),
    )
    parts: list[RenderableType] = [head, Text(explanation.reason)]
    if explanation.variants:
        table = FlexTable(
            [
                Col("quant"),
                Col("MiB", "num"),
                Col("fits"),
                Col("preference", "num"),
                Col("VRAM from"),
            ]
        )
        for verdict in explanation.variants:
            table.add_row(
                verdict.quantization,
                f"{verdict.vram_estimate_mb:,}",
                "yes" if verdict.fits else "no",
                "-" if verdict.preference is None else str(verdict.preference + 1),
                verdict.vram_source,
            )
        parts.append(table)
    return Group(*parts)


def render_joint(result: JointSelection, policy: SelectionPolicy) -> RenderableType:
    """The set chosen for several roles, what it costs, and what was dropped and why."""
    table = FlexTable(
        [
            Col("role"),
            Col("model"),
            Col("quant"),
            Col("engine"),
            Col("MiB", "num"),
            Col("prio", "num", drop=1),
            Col("shared", "text", drop=2),
        ],
        title=f"One model per role: {', '.join(result.roles)}",
    )
    for pick in result.picks:
        table.add_row(
            pick.role,
            pick.model_id,
            pick.quantization,
            pick.backend,
            _mib(pick.vram_estimate_mb, pick.gpus, pick.vram_per_gpu_mb),
            str(pick.role_priority),
            ", ".join(pick.shared_with) or "-",
        )
    parts: list[RenderableType] = [Text(policy_line(policy), style="dim"), table]
    if result.primary_trade is not None:
        trade = result.primary_trade
        parts.append(Text(trade.reason[0].upper() + trade.reason[1:] + ".", style="bold"))
    elif result.primary_role is not None and len(result.roles) > 1:
        parts.append(
            Text(
                f"Primary role: {result.primary_role} gets the best model that fits; the "
                "other roles share what it leaves.",
                style="dim",
            )
        )
    parts.append(
        Text(
            f"{len(result.models)} model(s) loaded"
            + (
                f" ({len(result.models) - result.slots_used} small sidecar(s) beside "
                f"{result.slots_used})"
                if result.slots_used < len(result.models)
                else ""
            )
            + f", {result.total_vram_mb:,} of "
            f"{result.max_vram_mb:,} MiB; summed priority {result.total_priority}"
            + ("" if result.optimal else " (search stopped early: may not be optimal)"),
            style="bold",
        )
    )
    for unserved in result.unserved:
        parts.append(Text(f"✗ {unserved.role}: {unserved.reason}", style="yellow"))
    if result.dropped:
        parts.append(Text("Dropped alternatives:", style="bold"))
        for dropped in result.dropped:
            parts.append(Text(f"  {dropped.role}: {dropped.reason}"))
    return Group(*parts)
