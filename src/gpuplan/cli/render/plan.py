"""How `gpuplan plan` looks: hardware, profile and why, what fits, what to serve, where, how."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.text import Text

from gpuplan.cli.render.hardware import render_host
from gpuplan.cli.render.models import render_joint
from gpuplan.cli.render.placement import render_launch, render_where
from gpuplan.cli.render.tables import Col, FlexTable
from gpuplan.planning import Plan
from gpuplan.selection.engine_block import EngineBlock
from gpuplan.selection.policy import SelectionPolicy

TOP_FITTING = 8


def _fitting(plan: Plan) -> RenderableType:
    if not plan.hardware.gpus:
        return Text("No GPU memory to fit models into; `gpuplan fit --hardware SPEC` plans one.")
    models = {row.model_id for row in plan.fitting}
    title = (
        f"{len(plan.fitting)} of {plan.variants_checked} registry variants "
        f"({len(models)} models) fit at {plan.context:,} tokens"
        + (f" × {plan.concurrency} sequences" if plan.concurrency > 1 else "")
        + "; the largest:"
    )
    table = FlexTable(
        [
            Col("model"),
            Col("quant"),
            Col("engine"),
            Col("MiB", "num"),
            Col("GPUs", "num"),
            Col("max context", "num", drop=1),
        ],
        title=title,
    )
    # Largest by total memory, which is the MiB column shown (per GPU × GPUs).
    largest = sorted(
        plan.fitting,
        key=lambda row: (-row.vram_estimate_mb * row.gpus, row.model_id, row.quantization),
    )
    for row in largest[:TOP_FITTING]:
        table.add_row(
            row.model_id,
            row.quantization,
            row.backend,
            f"{row.vram_estimate_mb * row.gpus:,}",
            str(row.gpus),
            "-" if row.max_context is None else f"{row.max_context:,}",
        )
    return table


def _split(block: EngineBlock) -> str:
    """'TP 2' for tensor parallel; llama.cpp and Ollama split layers over the GPUs instead."""
    from gpuplan.cli.render.placement import splits_layers

    gpus = block.tensor_parallel_size
    if block.device == "cpu":
        return ""  # "on cpu" says it
    if gpus == 1:
        return "one GPU"
    if splits_layers(block.engine):
        return f"layers split over {gpus} GPUs"
    return f"TP {gpus}"


def _engine_line(block: EngineBlock) -> str:
    words = [
        f"{block.model_id} {block.quantization}: {block.engine} on {block.device}",
        _split(block),
        f"{block.weights} weights ({block.quantization_bits}-bit)",
        f"{block.activation_dtype} compute",
        f"flash attention {block.flash_attention}",
    ]
    if block.gpu_memory_utilization is not None:
        words.append(f"gpu memory fraction {block.gpu_memory_utilization:.2f} (shares a GPU)")
    if block.allow_tf32:
        words.append("TF32")
    return ", ".join(word for word in words if word)


def _file_services(plan: Plan) -> list[RenderableType]:
    """With --services the view is about the file's services, not the role selection."""
    count = len(plan.assignments)
    if not count:
        return [Text(f"{plan.services_file} lists no services: nothing to place.")]
    parts: list[RenderableType] = [
        Text(f"{count} service(s) from {plan.services_file}, placed below.")
    ]
    picks = [f"{p.role} {p.model_id} {p.quantization}" for p in plan.selection.picks]
    if picks:
        parts.append(
            Text(
                "Without a services file, gpuplan would serve: " + ", ".join(picks) + ".",
                style="dim",
            )
        )
    return parts


def render_plan(plan: Plan, policy: SelectionPolicy) -> RenderableType:
    active = plan.profile.active_profile
    parts: list[RenderableType] = [
        Rule("Hardware", align="left"),
        render_host(plan.hardware),
        Rule(f"Profile: {active.name}", align="left"),
        *(Text(line) for line in plan.profile_why),
    ]
    if plan.services_file is not None:
        parts += [Rule("What to serve", align="left"), *_file_services(plan)]
    else:
        parts += [
            Rule("What fits", align="left"),
            _fitting(plan),
            Rule("What to serve", align="left"),
            render_joint(plan.selection, policy),
        ]
        if plan.engines:
            parts.append(Text("Engine settings for these picks:", style="bold"))
            parts += [Text(f"  {_engine_line(block)}") for block in plan.engines]
    parts += [Rule(f"Where ({plan.strategy})", align="left"), render_where(plan)]
    if plan.launch:
        parts += [Rule("How", align="left"), render_launch(plan)]
    parts += [Text(note, style="yellow") for note in plan.notes]
    parts.append(
        Text(
            "More: `gpuplan profile show --explain`, `gpuplan fit --all`, "
            "`gpuplan select --role R --explain MODEL`, `gpuplan estimate MODEL`.",
            style="dim",
        )
    )
    return Group(*parts)
